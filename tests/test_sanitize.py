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


# ----------------------------------------------------------------------------- code over prose


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # The quoted input: prose, then the tactic in a ```lean4 fence. The code wins.
        ("\nHere is the next step:\n```lean4\nlinarith\n```\n---", "linarith"),
        ("Here is the next step:\n```lean\nnlinarith [sq_nonneg (a - b)]\n```", "nlinarith [sq_nonneg (a - b)]"),
        ("```lean4\nsimp at h\n```\nThis simplifies the hypothesis.", "simp at h"),
        # Several fences: the last complete one is the answer (CoT models revise themselves).
        ("First try:\n```lean4\nsimp\n```\nBetter:\n```lean4\nomega\n```", "omega"),
        # A fence left open by the token limit still holds the code.
        ("The step is:\n```lean4\nring_nf", "ring_nf"),
    ],
)
def test_code_inside_a_fence_wins_over_prose(raw: str, expected: str) -> None:
    assert clean_tactic(raw, LLEMMA) == expected
    assert sanitize_tactic(raw, LLEMMA) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # The quoted input: a reasoning block before the tactic. The tactic wins.
        ("\n<think>try simp first? no: nlinarith needs a hint</think>\nlinarith\n---", "linarith"),
        ("<think>\nThe goal is linear.\n---\nSo linarith.\n</think>\n\nlinarith", "linarith"),  # stop string inside
        ("<think>x</think><think>y</think>\n```lean4\npositivity\n```", "positivity"),
    ],
)
def test_reasoning_blocks_are_dropped(raw: str, expected: str) -> None:
    assert clean_tactic(raw, LLEMMA) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "<think>The goal is linear, so",  # reasoning cut by the token limit: no answer yet
        "<think>a</think>",  # only reasoning
    ],
)
def test_unfinished_reasoning_gives_no_tactic(raw: str) -> None:
    assert clean_tactic(raw, LLEMMA) is None


@pytest.mark.parametrize(
    "raw",
    [
        "\nhave h : x = 2 := by\n---",  # the quoted input: `by` with nothing after it
        "\nhave h : x = 2 :=\n---",
        "\nsimp only [foo] at\n---",
        "\nrw [h] at h' ⊢ <;> exact\n---",
        "\ncases h with\n---",  # `with` and no alternatives
        "\nintro x; exact fun y =>\n---",
        "\nrefine ⟨_, ?_⟩ <;> calc\n---",
        "\nexact h.trans (by\n---",  # unbalanced too
        "\nuse 2,\n---",
        "\nnlinarith [h, h'] ·\n---",
        "\ncalc a = b := by\n  simp\n  _ = c :=\n---",
    ],
)
def test_truncated_tactics_are_refused(raw: str) -> None:
    assert clean_tactic(raw, LLEMMA) is None


@pytest.mark.parametrize(
    "tactic",
    [
        "have h : x = 2 := by linarith",
        "have h : x = 2 := by\n  linarith",
        "simp at *",
        "induction n with\n| zero => simp\n| succ n ih => omega",
        "exact fun x => x",
        "rw [← h]",
        "norm_num [Nat.factorial]",
        "obtain ⟨x, hx⟩ := h",
    ],
)
def test_complete_tactics_ending_like_truncated_ones_are_kept(tactic: str) -> None:
    assert clean_tactic(f"\n{tactic}\n---", LLEMMA) == tactic


def test_no_real_tactic_reads_as_truncated() -> None:
    """Every tactic of the shared proofsteps (real Lean 4 proofs: LeanDojo Benchmark 4, Lean-STaR, Lean
    Workbook) survives the truncation check, so the check refuses only text that cannot be a whole tactic."""
    import json
    from pathlib import Path

    from prover.generators.sanitize import _truncated

    files = sorted(Path(__file__).resolve().parents[1].parent.joinpath("shared/data/proofsteps").glob("*.jsonl"))
    if not files:
        pytest.skip("../shared/data/proofsteps is missing")
    tactics = [t for f in files for line in f.read_text().splitlines() if (t := json.loads(line).get("tactic"))]
    assert len(tactics) > 1000
    assert [t for t in tactics if _truncated(t)] == []
