"""Kimina-Prover's error-fixing turn is byte-equal to its own `create_tool_message`.

tests/fixtures/kimina/tool_message_3c46bc0.json is the output of `create_tool_message` from
MoonshotAI/Kimina-Prover-Preview `kimina_prover_demo/utils.py` @3c46bc0a095e0c3c2072ab44530cab9f185a2ea0 (the file
is unchanged since d31a49e), run outside this repository (tests/fixtures/kimina/run_upstream.py) on
tool_message_cases.json: the recorded info trees of repl/infotree and repl/infotree_theorem
(../shared/lean_fixtures/repl) with constructed errors on their tactics, the recorded REPL errors of the
Goedel correction cases, a file with import lines and a tactic node inside the error, four errors, and a
compile that failed with no messages.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lean_env.messages import LeanMessage
from prover.engine.kimina_correction import tool_message

FIXTURES = Path(__file__).parent / "fixtures" / "kimina"
CASES = json.loads((FIXTURES / "tool_message_cases.json").read_text(encoding="utf-8"))
UPSTREAM = json.loads((FIXTURES / "tool_message_3c46bc0.json").read_text(encoding="utf-8"))


def test_the_cases_hold_the_recorded_info_trees(shared: Path) -> None:
    for name, fixture in (
        ("substantive_tree_constructed_error", "infotree"),
        ("full_tree_constructed_error", "infotree_theorem"),
    ):
        recorded = json.loads(
            (shared / "lean_fixtures" / "repl" / f"{fixture}.expected.out").read_text(encoding="utf-8")
        )
        assert CASES[name]["infotree"] == recorded["infotree"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_tool_message_is_byte_equal_to_kiminas(name: str) -> None:
    case = CASES[name]
    messages = [LeanMessage.from_json(m) for m in case["messages"]]
    assert tool_message(case["code"], messages, case["infotree"], case["error"] or "") == UPSTREAM[name]


def test_the_goal_before_the_error_comes_from_the_info_tree() -> None:
    case = CASES["substantive_tree_constructed_error"]
    messages = [LeanMessage.from_json(m) for m in case["messages"]]
    assert "Goals state before error position: \nh : Int\n⊢ Nat\n" in tool_message(
        case["code"], messages, case["infotree"]
    )
    assert "Goals state" not in tool_message(case["code"], messages, None)
