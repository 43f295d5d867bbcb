"""The correction chat is byte-equal to Goedel-Prover-V2's own builder.

tests/fixtures/goedel/correction_2e9036e.json is the output of `get_error_str(code, errors, error_thres=True)` and
`DeepSeekCoTHandler.generate_correction_prompt` from Goedel-LM/Goedel-Prover-V2 `src/utils.py` @2e9036e, run
outside this repository (tests/fixtures/goedel/run_upstream.py) on correction_cases.json: the recorded REPL errors
of repl/incomplete, repl/invalid_tactic and repl/app_type_mismatch (../shared/lean_fixtures/repl), one constructed
`endPos: null` error, and a constructed nine-error compile with a span longer than six lines.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lean_env.messages import LeanMessage
from prover.engine.correction import ChatTurn, correction_chat, error_report, fits_context

FIXTURES = Path(__file__).parent / "fixtures" / "goedel"
CASES = json.loads((FIXTURES / "correction_cases.json").read_text(encoding="utf-8"))
UPSTREAM = json.loads((FIXTURES / "correction_2e9036e.json").read_text(encoding="utf-8"))


def test_the_cases_hold_the_recorded_errors(shared: Path) -> None:
    recorded = (shared / "lean_fixtures" / "repl" / "incomplete.expected.out").read_text(encoding="utf-8")
    for error in CASES["incomplete_2"]["errors"]:
        assert json.dumps(error["data"], ensure_ascii=False)[1:-1] in recorded


@pytest.mark.parametrize("name", sorted(CASES))
def test_error_report_and_chat_are_byte_equal_to_goedels(name: str) -> None:
    case, expected = CASES[name], UPSTREAM[name]
    # All the compile's messages go in: a warning or info among them is not an error and is left out.
    messages = [LeanMessage.from_json(m) for m in case["errors"]]
    messages.append(LeanMessage.from_json({"severity": "warning", "pos": {"line": 1, "column": 0}, "data": "w"}))
    report = error_report(case["code"], messages)
    assert report == expected["error_str"]
    history = [ChatTurn(t["role"], t["content"]) for t in case["history"]]
    chat = correction_chat(history, case["output"], report, case["round"])
    assert [t.to_json() for t in chat] == expected["messages"]


def test_a_prompt_over_three_quarters_of_the_context_is_not_sent() -> None:
    assert fits_context(3072, 4096) and not fits_context(3073, 4096)
