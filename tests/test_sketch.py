"""Repair sketches: the block around Lean's first error becomes `sorry`.

Golden cases (tests/fixtures/sketch/golden.jsonl): proofs of ../shared/data/minif2f/
deepseek_minif2f_valid_few_shot.jsonl (DeepSeek-Prover-V1.5's few-shot file), each with an error message in the
REPL's shape (`severity`, `pos`, `endPos` or null, `data`: the shapes of repl/incomplete's "unsolved goals" at a
`by`, repl/invalid_tactic's "Unknown identifier" at the identifier, and tactic failures at the tactic) placed
in one of its steps, and the sketch expected (reviewed by hand). Positions are in the proof text's own lines.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lean_env.messages import LeanMessage, Position
from prover.engine.sketch import proof_position, sketch_proof

GOLDEN = [
    json.loads(line)
    for line in (Path(__file__).parent / "fixtures" / "sketch" / "golden.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
]


@pytest.fixture(scope="module")
def few_shot(shared: Path) -> dict[str, str]:
    path = shared / "data" / "minif2f" / "deepseek_minif2f_valid_few_shot.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {r["name"]: r["formal_proof"] for r in rows}


def test_at_least_twenty_proofs_of_the_few_shot_file() -> None:
    assert len({case["problem"] for case in GOLDEN}) >= 20


@pytest.mark.parametrize("case", GOLDEN, ids=[f"{c['problem']}@{c['message']['pos']['line']}" for c in GOLDEN])
def test_golden_sketch(case: dict, few_shot: dict[str, str]) -> None:
    message = LeanMessage.from_json(case["message"])
    assert message.pos is not None
    sketch = sketch_proof(few_shot[case["problem"]], message.pos)
    assert (sketch.kind, sketch.text) == (case["kind"], case["sketch"])
    # A sketch only ever removes the user's steps or puts a hole in their place: every line it keeps is the proof's.
    original = few_shot[case["problem"]].split("\n")
    kept = [line for line in sketch.text.split("\n") if "sorry" not in line]
    assert all(line in original for line in kept)


PROOF = """  have h₁ : a + b = 2 := by
    linarith [h₀]
  -- a comment := by with no block
  have h₂ : a * 2 = b := by nlinarith
  cases h₃ with
  | inl h => simp [h]
  | inr h => omega
  constructor <;> norm_num [h₁]
  case left => exact h₂
  exact h₁"""


@pytest.mark.parametrize(
    ("position", "kind", "expected_line", "gone"),
    [
        (Position(2, 4), "have", "  have h₁ : a + b = 2 := by sorry", "linarith [h₀]"),
        (Position(4, 28), "have", "  have h₂ : a * 2 = b := by sorry", "nlinarith"),
        (Position(8, 18), "chain", "  sorry", "constructor <;> norm_num [h₁]"),
        (Position(9, 15), "case", "  case left => sorry", "exact h₂"),
    ],
)
def test_each_kind_of_block(position: Position, kind: str, expected_line: str, gone: str) -> None:
    sketch = sketch_proof(PROOF, position)
    assert sketch.kind == kind and expected_line in sketch.text.split("\n") and gone not in sketch.text
    assert sketch.text.count("sorry") == 1 and "-- a comment := by with no block" in sketch.text


def test_a_have_whose_statement_errs_goes_with_the_steps_that_use_it() -> None:
    sketch = sketch_proof(PROOF, Position(1, 16))  # in `a + b = 2`, before its `:=`
    lines = sketch.text.split("\n")
    assert sketch.kind == "have-statement"
    # The have and both steps naming h₁ are gone; a hole stands where the first of them was.
    assert lines == [
        "  -- a comment := by with no block",
        "  have h₂ : a * 2 = b := by nlinarith",
        "  cases h₃ with",
        "  | inl h => simp [h]",
        "  | inr h => omega",
        "  sorry",
        "  case left => exact h₂",
    ]


def test_a_message_position_maps_from_the_compiled_source_into_the_proof() -> None:
    proof = "simp_all only [one_div]\nnorm_num"
    source = (
        "import Mathlib\n\ntheorem t (x : ℝ) : x = x := by\n  simp_all only [one_div]\n  norm_num\n\n#print axioms t\n"
    )
    assert proof_position(source, proof, Position(5, 2)) == Position(2, 0)
    assert proof_position(source, proof, Position(3, 30)) == Position(0, 0)  # the theorem's own `by`
    assert proof_position(source, proof, Position(7, 0)) is None
