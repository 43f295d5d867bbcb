"""The tactic filter refuses cheating / code-running / escaping tactics and passes ordinary Mathlib ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lean_env.tactic_filter import check_tactic, is_allowed

REFUSED = [
    ("sorry", "sorry"),
    ("exact sorry", "sorry"),
    ("  ·  sorry", "sorry"),
    ("admit", "admit"),
    ("stop\n  simp", "stop"),
    ("exact sorryAx _ false", "sorryAx"),
    ("native_decide", "native_decide"),
    ("decide +native", "native"),
    ("decide (config := { native := true })", "native"),
    ("bv_decide", "bv_decide"),
    ("exact Lean.ofReduceBool _ _ rfl", "ofReduceBool"),
    ("open Lean in exact ofReduceBool _ _ rfl", "ofReduceBool"),
    ("run_tac Lean.Elab.Tactic.evalTactic", "run_tac"),
    ("run_cmd pure ()", "run_cmd"),
    ("run_elab pure ()", "run_elab"),
    ("exact by_elab pure x", "by_elab"),
    ("#eval IO.println 1", "#eval"),
    ("#exit", "#exit"),
    ("simp\n#print axioms foo", "#print"),
    ("set_option debug.skipKernelTC true in exact h", "set_option"),
    ("set_option maxHeartbeats 0 in nlinarith", "set_option"),
    ('exact (IO.FS.readFile "/etc/passwd")', "IO.FS.readFile"),
    ("exact unsafeCast ()", "unsafeCast"),
    ("attribute [local instance] Classical.propDecidable in simp", "attribute"),
    ("simp\n\ntheorem free : False := sorry", "theorem"),
    ("exact h\nend Foo", "end"),
    ("simp\naxiom cheat : False", "axiom"),
    ("exact (Lean.Elab.Term.elabTerm x none)", "Lean.Elab"),
    ("simp /- the rest of the file vanishes", "unterminated comment"),
    ('exact "unterminated', "unterminated string"),
    ('macro "cheat" : tactic => `(tactic| sorry)', "macro"),
]

ALLOWED = [
    "simp [sorry_lemma]",
    "exact my_sorry",
    "nlinarith [sq_nonneg (a - b), sq_nonneg (a + b), mul_pos ha hb]",
    "norm_num [Nat.factorial]",
    "decide",
    "exact Nat.decide_eq_true h",
    "simp (config := {decide := true})",
    "intro x; linarith [h₀ x]",
    "field_simp\nring_nf",
    "rcases h with ⟨x, hx⟩ | h",
    "simp -- sorry, I give up (only a comment)",
    "exact ⟨'a', \"sorry\"⟩",
    "exact? ",
    "omega",
    "open Real in simp [Real.sqrt_eq_iff]",
    "calc a = b := by ring\n  _ = c := h",
    "exact #[1, 2].size_pos",
    "induction n with\n| zero => simp\n| succ n ih => omega",
    "have h' : x' ≠ 0 := by positivity",
    "exact (Finset.sum_range_succ f n).trans rfl",
]


@pytest.mark.parametrize(("tactic", "word"), REFUSED)
def test_refused_with_reason(tactic: str, word: str) -> None:
    reason = check_tactic(tactic)
    assert reason is not None, tactic
    assert word in reason
    assert not is_allowed(tactic)


@pytest.mark.parametrize("tactic", ALLOWED)
def test_ordinary_tactics_pass(tactic: str) -> None:
    assert check_tactic(tactic) is None


@pytest.mark.parametrize("tactic", ["native_decide", "decide +native", "bv_decide", "exact Lean.ofReduceBool _ _ rfl"])
def test_native_evaluation_only_when_allowed(tactic: str) -> None:
    assert check_tactic(tactic) is not None
    assert "allow_native_decide" in (check_tactic(tactic) or "")
    assert check_tactic(tactic, allow_native_decide=True) is None


def test_sorry_is_refused_even_when_native_is_allowed() -> None:
    assert check_tactic("sorry", allow_native_decide=True) is not None


def test_real_proof_steps_are_not_refused(shared: Path) -> None:
    """Real tactics from LeanDojo/Lean-STaR/Lean Workbook proofs: none of them cheat, so none may be refused."""
    files = sorted((shared / "data" / "proofsteps").glob("*.jsonl"))
    assert files, "no proofstep files in shared data"
    tactics: list[str] = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            tactic = row.get("tactic")
            if isinstance(tactic, str):
                tactics.append(tactic)
    assert len(tactics) > 500
    refused = {t: check_tactic(t) for t in tactics if check_tactic(t) is not None}
    # `sorry`/`native_decide` never appear in these successful proofs; anything refused is a false positive.
    assert refused == {}
