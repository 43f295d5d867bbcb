"""Splitting pretty-printed goal lists as LeanDojo traces print them (../shared/data/proofsteps).

LeanDojo's traced states print a goal that has a case tag and an empty local context with a blank line after the
tag (`case zero\n\n⊢ …`, e.g. after `induction' n with n ih` in the Lean Workbook rows), while the live
`Meta.ppGoal` prints `case zero\n⊢ …` (lean4 src/Lean/Meta/PPGoal.lean). Goals themselves are separated by blank
lines, so the tag must not be read as a goal of its own.
"""

from __future__ import annotations

import json
from pathlib import Path

from lean_env.types import Goal, parse_goals, split_goals


def test_a_traced_case_tag_with_an_empty_context_heads_its_goal(shared: Path) -> None:
    rows = [
        json.loads(line)
        for line in (shared / "data/proofsteps/lean_workbook_plasma_converter.jsonl").read_text().splitlines()
        if line.strip()
    ]
    row = next(r for r in rows if (r.get("state_after") or "").startswith("case zero\n\n⊢"))
    goals = parse_goals(row["state_after"])
    assert [g.case for g in goals] == ["zero", "succ"]
    assert goals[0].hypotheses == () and goals[0].conclusion.startswith(row["state_after"].split("⊢ ", 1)[1][:5])
    # The text of each goal is kept as printed; only the grouping changes.
    assert "\n\n".join(split_goals(row["state_after"])) == row["state_after"]


def test_live_and_traced_forms_parse_alike() -> None:
    assert parse_goals("case h\n\n⊢ P") == parse_goals("case h\n⊢ P") == (Goal((), "P", "h"),)
    assert len(split_goals("x : ℕ\n⊢ P\n\ncase h\n\n⊢ Q")) == 2
    assert split_goals("case h") == ("case h",)  # a lone tag (no target) is left as it is
