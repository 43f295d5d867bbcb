"""`lean_env.messages.LeanMessage` reads every message the REPL printed, at every recorded release."""

from __future__ import annotations

import json

import pytest

from lean_env.errors import ProtocolError
from lean_env.messages import LeanMessage, Position, Severity
from tests.test_repl import RELEASES, blocks, transcripts


def _recorded_messages(shared, release):
    for path in transcripts(shared, release):
        for block in blocks(path.with_name(path.name[:-3] + ".expected.out")):
            answer = json.loads(block)
            if isinstance(answer, dict):
                yield from answer.get("messages", [])


@pytest.mark.parametrize("release", RELEASES)
def test_every_recorded_message_reads_and_round_trips(shared, release):
    seen = 0
    for raw in _recorded_messages(shared, release):
        message = LeanMessage.from_json(raw)
        assert message.severity.value == raw["severity"]
        assert message.data == raw["data"]
        assert message.pos == Position(raw["pos"]["line"], raw["pos"]["column"])
        end = raw.get("endPos")
        assert message.end_pos == (None if end is None else Position(end["line"], end["column"]))
        assert LeanMessage.from_json(message.to_json()) == message
        seen += 1
    assert seen > 20, f"too few recorded messages at {release}: {seen}"


def test_end_position_null_is_unknown_not_an_error():
    # The REPL prints `"endPos": null` when Lean's message has no end position (repl `REPL/JSON.lean`).
    message = LeanMessage.from_json({"severity": "error", "pos": {"line": 3, "column": 2}, "endPos": None, "data": "x"})
    assert message.end_pos is None and message.is_error and message.severity is Severity.ERROR


@pytest.mark.parametrize(
    "raw",
    [
        {"severity": "fatal", "pos": {"line": 1, "column": 0}, "data": "x"},
        {"severity": "error", "pos": {"line": "1", "column": 0}, "data": "x"},
        {"severity": "error", "pos": {"line": 1, "column": 0}, "data": 7},
        ["error"],
    ],
)
def test_shapes_the_repl_never_prints_are_protocol_errors(raw):
    with pytest.raises(ProtocolError):
        LeanMessage.from_json(raw)
