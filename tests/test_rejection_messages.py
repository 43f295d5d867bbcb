"""A rejection carries the compile's Lean messages: from the REPL's answers at every recorded release, and from
`lake env lean`'s text output (the dojo verifier: no end position). A message never turns a rejection into a proof."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lean_env.checks.dojo_verify import messages_from_lean_output
from lean_env.checks.judge import judge_compile
from lean_env.checks.verdict import Rejected, Verified
from lean_env.messages import LeanMessage, Position, Severity
from tests.test_repl import RELEASES, blocks, transcripts


def _answers_with_errors(shared: Path, release: str):
    for path in transcripts(shared, release):
        for block in blocks(path.with_name(path.name[:-3] + ".expected.out")):
            answer = json.loads(block)
            if isinstance(answer, dict) and any(m.get("severity") == "error" for m in answer.get("messages", [])):
                yield path.name, answer


@pytest.mark.parametrize("release", RELEASES)
def test_a_rejected_compile_keeps_every_message_of_the_answer(shared: Path, release: str) -> None:
    seen = 0
    for name, answer in _answers_with_errors(shared, release):
        verdict = judge_compile({**answer, "env": 0}, name="t", span=(1, 10**6), print_line=10**6 + 1)
        assert isinstance(verdict, Rejected), name
        assert verdict.messages == tuple(LeanMessage.from_json(m) for m in answer["messages"]), name
        seen += 1
    assert seen >= 5, f"too few recorded errors at {release}: {seen}"


def test_the_text_output_of_lean_gives_positions_without_an_end() -> None:
    # `lake env lean FILE` prints `FILE:line:column: error: …` (0-based column) and no end position.
    output = (
        "Check_x.lean:4:2: error: unsolved goals\nx : ℝ\n⊢ x = 3\n"
        "Check_x.lean:6:0: warning: declaration uses 'sorry'\n"
        "'t' depends on axioms: [propext]\n"
    )
    messages = messages_from_lean_output(output, print_line=7)
    verdict = judge_compile({"messages": messages, "env": 0}, name="t", span=(3, 5), print_line=7)
    assert isinstance(verdict, Rejected)
    first = verdict.messages[0]
    assert first.severity is Severity.ERROR and first.pos == Position(4, 2) and first.end_pos is None
    assert first.data == "unsolved goals\nx : ℝ\n⊢ x = 3"
    assert [m.severity for m in verdict.messages] == [Severity.ERROR, Severity.WARNING, Severity.INFO]


def test_messages_never_turn_a_rejection_into_a_proof_nor_attach_to_a_proof() -> None:
    info = {"severity": "info", "pos": {"line": 2, "column": 0}, "endPos": None, "data": "'t' depends on axioms: []"}
    verified = judge_compile({"messages": [info], "env": 0}, name="t", span=(1, 1), print_line=2)
    assert isinstance(verified, Verified)
    sorry = {"severity": "warning", "pos": {"line": 1, "column": 8}, "data": "declaration uses 'sorry'"}
    rejected = judge_compile({"messages": [sorry, info], "env": 0}, name="t", span=(1, 1), print_line=2)
    assert isinstance(rejected, Rejected) and len(rejected.messages) == 2
