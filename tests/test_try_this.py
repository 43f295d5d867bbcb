"""Lean's "Try this" suggestions in each recorded release's format, and the stable form in written proofs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lean_env.try_this import asks_for_suggestion, stable_form, try_this_suggestions
from lean_env.types import ProofFinished, Theorem
from prover.generators.fixed import FixedTacticGenerator, lean_suggestion_tactics, with_lean_suggestions
from tests.test_repl import RELEASES, standin_settings

# The `exact?` answer of each release's recording (../shared/lean_fixtures/repl_versions/*/Mathlib/test/
# exact.expected.out, and the newest in ../shared/lean_fixtures/repl).
EXPECTED_FORMAT = {
    "v4.19.0": "Try this: exact Nat.one_pos",
    "v4.24.0": "Try this:\n  exact Nat.one_pos",
    "v4.27.0": "Try this:\n  [apply] exact Nat.one_pos",
    "v4.28.0": "Try this:\n  [apply] exact Nat.one_pos",
    "v4.32.0": "Try this:\n  [apply] exact Nat.one_pos",
}


def _recorded_try_this(shared: Path, release: str) -> list[str]:
    root = shared / "lean_fixtures" / ("repl" if release == "repl" else f"repl_versions/{release}")
    text = (root / "Mathlib" / "test" / "exact.expected.out").read_text(encoding="utf-8")
    answers = [json.loads(b) for b in re.split(r"\n[ \t]*\n", text) if b.strip()]
    return [m["data"] for a in answers for m in a.get("messages", []) if m["data"].startswith("Try this")]


@pytest.mark.parametrize("release", RELEASES)
def test_each_recorded_release_format_parses(shared: Path, release: str) -> None:
    [message] = _recorded_try_this(shared, release)
    if release in EXPECTED_FORMAT:
        assert message == EXPECTED_FORMAT[release]
    assert try_this_suggestions(message) == ("exact Nat.one_pos",)


def test_several_suggestions_and_multiline_ones() -> None:
    # Constructed in the v4.27+ layout: "Try these:" then one bullet per suggestion.
    these = "Try these:\n  • [apply] simp only [h]\n  • [apply] omega"
    assert try_this_suggestions(these) == ("simp only [h]", "omega")
    multi = "Try this:\n  [apply] constructor\n  · simp\n  · omega"
    assert try_this_suggestions(multi) == ("constructor\n· simp\n· omega",)
    assert try_this_suggestions("declaration uses 'sorry'") == ()


def test_only_a_tactic_asking_for_a_suggestion_is_replaced() -> None:
    info = ["Try this:\n  [apply] exact Nat.one_pos"]
    assert stable_form("exact?", info) == "exact Nat.one_pos"
    assert stable_form("simp_all? +suggestions", ["Try this:\n  [apply] simp_all only [p]"]) == "simp_all only [p]"
    assert stable_form("have h : 0 < 1 := by exact?", info) is None  # the suggestion is for the inner tactic
    assert stable_form("exact Nat.one_pos", info) is None
    assert stable_form("exact?", ["some other info"]) is None
    assert asks_for_suggestion("simp? [foo]") and not asks_for_suggestion("simp")


@pytest.mark.parametrize("release", RELEASES)
def test_repl_backend_reports_the_stable_form(shared: Path, release: str) -> None:
    from lean_env.backends.repl import ReplEnv

    with ReplEnv(standin_settings(shared, "Mathlib/test/exact", release=release)) as env:
        first = env.start(Theorem("test", "theorem test : 0 < 1", header="import Mathlib"))
        result = env.run_tactic(first, "exact?")
    assert isinstance(result, ProofFinished) and result.replacement == "exact Nat.one_pos"


def test_search_writes_the_stable_form_into_the_proof() -> None:
    from lean_env.types import ProofState
    from search.best_first import BestFirstSearch
    from search.types import Budget, Candidate, SearchConfig

    class AsksLean:
        def start(self, theorem: Theorem) -> ProofState:
            return ProofState.from_pp("⊢ 0 < 1", handle=0)

        def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> object:
            return ProofFinished(1, replacement="exact Nat.one_pos") if tactic == "exact?" else ProofFinished(1)

        def close(self) -> None:
            pass

    def gen(requests: object, k: int) -> list[list[Candidate]]:
        return [[Candidate("exact?", -0.1)]]

    config = SearchConfig(num_tactics=1, budget=Budget(time_s=30, max_expansions=2))
    result = BestFirstSearch(AsksLean(), gen, config).search(Theorem("t", "theorem t : 0 < 1"))  # type: ignore[arg-type]
    assert result.proof is not None and "exact Nat.one_pos" in result.proof and "exact?" not in result.proof


def test_lean_suggestion_tactics_follow_the_version() -> None:
    assert set(lean_suggestion_tactics("v4.19.0")) == {"exact?"}
    assert set(lean_suggestion_tactics("leanprover/lean4:v4.24.0")) == {"exact?", "grind"}
    assert set(lean_suggestion_tactics("v4.32.0")) == {"exact?", "grind", "simp_all? +suggestions"}
    assert lean_suggestion_tactics("nightly-2025-01-01") == {}
    gen = FixedTacticGenerator(with_lean_suggestions(None, "v4.28.0"))
    assert {"exact?", "grind", "simp_all? +suggestions", "norm_num"} <= set(gen.tactics)
    from lean_env.checks.tactic_filter import check_tactic

    for tactic in lean_suggestion_tactics("v4.32.0"):
        assert check_tactic(tactic) is None  # none of them admits goals
