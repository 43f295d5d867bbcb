"""Sanitising raw model completions into single, allowed tactics."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prover.generators.sanitize import Sanitizer, clean_tactic, sanitize_tactic
from prover.templates import get_template

LLEMMA = get_template("llemma")
PROOFSTEPS = get_template("proofsteps")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("\nnorm_num\n---\n\nTactic state:", "norm_num"),  # llemma: completion prefix, cut at ---
        ("\n  simp [h]   \n---", "simp [h]"),
        ("\nlinarith -- closes it\n---", "linarith"),
        ("\nnlinarith [sq_nonneg (a - b)]\nsimp\n---", "nlinarith [sq_nonneg (a - b)]"),  # one tactic only
        ("\nexact h)]\n---", "exact h"),  # unmatched closers are trailing junk
        ("\nsimp;\n---", "simp"),
        ("\nsimp <;>\n---", "simp"),
        ("\n```lean4\nomega\n```\n---", "omega"),
        (
            "\ninduction n with\n| zero => simp\n| succ n ih => omega\n---",
            "induction n with\n| zero => simp\n| succ n ih => omega",
        ),
        ("\nrcases h with ⟨x, hx⟩\n---", "rcases h with ⟨x, hx⟩"),
    ],
)
def test_clean_llemma_completions(raw: str, expected: str) -> None:
    assert clean_tactic(raw, LLEMMA) == expected


def test_indented_continuation_is_kept_and_blank_line_ends_the_tactic() -> None:
    raw = "refine ⟨?_, ?_⟩\n  <;> simp\n\nring\n[GOAL]\nx"
    assert clean_tactic(raw, PROOFSTEPS) == "refine ⟨?_, ?_⟩\n  <;> simp"


@pytest.mark.parametrize(
    "raw",
    [
        "\n\n---",  # empty
        "\nnlinarith [sq_nonneg (a - b), sq_nonn",  # truncated at max_new_tokens: bracket left open
        "\nsimp\x00\x07\n---",  # control characters
        "\nsi\ufffdmp\n---",  # invalid UTF-8 decoded as U+FFFD
        '\nexact "abc\n---',  # unterminated string
    ],
)
def test_unusable_completions_are_dropped(raw: str) -> None:
    assert clean_tactic(raw, LLEMMA) is None


@pytest.mark.parametrize("tactic", ["sorry", "admit", "native_decide", "exact sorry"])
def test_forbidden_tactics_are_refused(tactic: str) -> None:
    assert clean_tactic(f"\n{tactic}\n---", LLEMMA) == tactic  # cleaning alone keeps it
    assert sanitize_tactic(f"\n{tactic}\n---", LLEMMA) is None


def test_native_decide_allowed_when_asked() -> None:
    assert sanitize_tactic("\nnative_decide\n---", LLEMMA, allow_native_decide=True) == "native_decide"


def test_prefix_is_enforced() -> None:
    sanitizer = Sanitizer(PROOFSTEPS)
    assert sanitizer("rw [h]\n[GOAL]", prefix="rw [") == "rw [h]"
    assert sanitizer("simp\n[GOAL]", prefix="rw [") is None


def test_without_template_the_raw_text_is_cleaned() -> None:
    assert sanitize_tactic("  omega  \n\nmore") == "omega"


@given(st.text(max_size=80))
def test_sanitised_output_is_clean_and_idempotent(raw: str) -> None:
    tactic = sanitize_tactic(raw, LLEMMA)
    if tactic is None:
        return
    assert tactic == tactic.strip() and tactic
    assert "---" not in tactic
    assert "\ufffd" not in tactic
    assert all(ch in "\n" or ord(ch) >= 32 for ch in tactic)
    assert clean_tactic(tactic) == tactic
