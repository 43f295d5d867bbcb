"""Shared set-up for the `prover suggest` CLI tests: a .lean file, a replay cassette of real Lean recordings, a config.

`add_abs_nonneg` is a Mathlib theorem whose three proof steps LeanDojo recorded from real Lean
(shared/data/proofsteps/leandojo_benchmark4_random_test_sample100.jsonl); the replay backend finds it
in the cassette by name, and the cassette states it from this file (`--statements`).
"""

from __future__ import annotations

import json
from pathlib import Path

ADD_ABS = "add_abs_nonneg"
RW = "rw [← add_right_neg a]"
APPLY = "apply add_le_add_left"
EXACT = "exact neg_le_abs_self a"

ADD_ABS_FILE = """import Mathlib

/-! The replay cassette holds LeanDojo's recording of this Mathlib theorem's proof steps. -/

variable {α : Type*}

theorem add_abs_nonneg [AddGroup α] [LinearOrder α] [CovariantClass α α (· + ·) (· ≤ ·)] (a : α) :
    0 ≤ a + |a| := by
  sorry

theorem other_theorem : True := by
  trivial
"""


def write_add_abs_project(tmp: Path, shared: Path) -> tuple[Path, Path]:
    """The .lean file and a replay cassette built from the LeanDojo proofsteps, under `tmp`."""
    from lean_env.cassette.build import build_from_proofsteps, state_traced_theorems
    from lean_env.source.declarations import parse_lean_file

    lean = tmp / "AddAbs.lean"
    lean.write_text(ADD_ABS_FILE, encoding="utf-8")
    cassette = tmp / "leandojo.cassette.jsonl"
    source = shared / "data" / "proofsteps" / "leandojo_benchmark4_random_test_sample100.jsonl"
    built = build_from_proofsteps([source], relative_to=shared).cassette
    # The trace records no statement: this file states the traced declaration (`cassette build --statements`).
    state_traced_theorems(built, [d.to_theorem() for d in parse_lean_file(lean).theorems], lean.name)
    built.save(cassette)
    return lean, cassette


def write_fixed_config(path: Path, tactics: dict[str, float], **search: float | int) -> Path:
    """A TOML config selecting the fixed generator with these tactics (tactic -> log-probability)."""
    lines = ["[generator]", 'kind = "fixed"', "[generator.fixed_tactics]"]
    lines += [f"{json.dumps(t)} = {lp}" for t, lp in tactics.items()]
    if search:
        lines.append("[search]")
        lines += [f"{k} = {v}" for k, v in search.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
