"""Proof scripts from search paths: bullets where the goal structure is certain, flat otherwise."""

from __future__ import annotations

from lean_env.backends.replay import flatten_proof
from lean_env.types import Theorem
from search.proof_script import ProofStep, flat_script, goal_tree, proof_script

A, B, C, D = "case a\n⊢ A", "case b\n⊢ B", "⊢ C", "⊢ D"


def test_single_goal_chain_is_flat() -> None:
    steps = [ProofStep("intro n", ("⊢ ∀ n, P n",), ("n : ℕ\n⊢ P n",)), ProofStep("simp", ("n : ℕ\n⊢ P n",), ())]
    assert proof_script(steps) == "intro n\nsimp"


def test_split_goals_get_bullets() -> None:
    steps = [
        ProofStep("constructor", ("⊢ A ∧ B",), (A, B)),
        ProofStep("exact a", (A, B), (B,)),
        ProofStep("exact b", (B,), ()),
    ]
    assert proof_script(steps) == "constructor\n· exact a\n· exact b"


def test_nested_splits_and_multi_step_branches() -> None:
    steps = [
        ProofStep("constructor", ("⊢ (A ∧ C) ∧ B",), ("⊢ A ∧ C", B)),
        ProofStep("constructor", ("⊢ A ∧ C", B), (A, C, B)),
        ProofStep("intro x", (A, C, B), ("x\n⊢ A", C, B)),
        ProofStep("exact x", ("x\n⊢ A", C, B), (C, B)),
        ProofStep("exact c", (C, B), (B,)),
        ProofStep("simp", (B,), (D,)),
        ProofStep("rfl", (D,), ()),
    ]
    expected = "\n".join(
        [
            "constructor",
            "· constructor",
            "  · intro x",
            "    exact x",
            "  · exact c",
            "· simp",
            "  rfl",
        ]
    )
    script = proof_script(steps)
    assert script == expected
    assert flatten_proof(script) == [s.tactic for s in steps]


def test_reordering_tactic_falls_back_to_flat() -> None:
    steps = [
        ProofStep("constructor", ("⊢ A ∧ B",), (A, B)),
        ProofStep("swap", (A, B), (B, A)),
        ProofStep("exact b", (B, A), (A,)),
        ProofStep("exact a", (A,), ()),
    ]
    assert goal_tree(steps) is None
    assert proof_script(steps) == "constructor\nswap\nexact b\nexact a"


def test_tactic_closing_several_goals_falls_back_to_flat() -> None:
    steps = [ProofStep("constructor", ("⊢ A ∧ B",), (A, B)), ProofStep("all_goals simp", (A, B), ())]
    assert proof_script(steps) == "constructor\nall_goals simp"


def test_metavariable_instantiation_in_later_goal_falls_back_to_flat() -> None:
    # Solving the first goal changed the text of the second (a shared metavariable): not independent.
    steps = [
        ProofStep("refine ⟨?_, ?_⟩", ("⊢ ∃ x, P x",), ("⊢ ℕ", "⊢ P ?w")),
        ProofStep("exact 3", ("⊢ ℕ", "⊢ P ?w"), ("⊢ P 3",)),
        ProofStep("simp", ("⊢ P 3",), ()),
    ]
    assert proof_script(steps) == "refine ⟨?_, ?_⟩\nexact 3\nsimp"


def test_multi_line_tactics_keep_their_shape_under_bullets() -> None:
    long = "nlinarith [sq_nonneg (a - b),\n    sq_nonneg (a + b)]"
    nested = "have h : x = 1 := by\n  simp at hx\n  linarith"
    steps = [
        ProofStep("constructor", ("⊢ A ∧ B",), (A, B)),
        ProofStep(long, (A, B), (B,)),
        ProofStep(nested, (B,), (D,)),
        ProofStep("exact h", (D,), ()),
    ]
    script = proof_script(steps)
    assert script == "\n".join(
        [
            "constructor",
            "· nlinarith [sq_nonneg (a - b),",
            "    sq_nonneg (a + b)]",
            "· have h : x = 1 := by",
            "    simp at hx",
            "    linarith",
            "  exact h",
        ]
    )
    assert flatten_proof(script) == ["constructor", long.replace("\n    ", "\n  "), nested, "exact h"]


def test_flat_script_and_theorem_source() -> None:
    script = flat_script(["intro x", "exact foo\n  bar"])
    assert script == "intro x\nexact foo\n  bar"
    thm = Theorem(name="t", statement="theorem t : True", header="import Mathlib")
    assert thm.source_with_proof(script).endswith(":= by\n  intro x\n  exact foo\n    bar\n")


def test_empty_or_unfinished_paths_are_flat() -> None:
    assert proof_script([]) == ""
    unfinished = [ProofStep("constructor", ("⊢ A ∧ B",), (A, B)), ProofStep("exact a", (A, B), (B,))]
    assert goal_tree(unfinished) is None


def test_long_chain_does_not_recurse() -> None:
    n = 5000
    steps = [ProofStep(f"t{i}", (f"⊢ {i}",), (f"⊢ {i + 1}",) if i < n - 1 else ()) for i in range(n)]
    script = proof_script(steps)
    assert script.split("\n") == [f"t{i}" for i in range(n)]
