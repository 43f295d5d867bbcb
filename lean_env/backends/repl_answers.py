"""The Lean REPL's answers as typed records, built and validated once, where the JSON arrives.

Shapes as leanprover-community/repl prints them (`REPL/JSON.lean` @8948401): a command answers
`{"env", "messages"?, "sorries"?, "tactics"?, "infotree"?}` (`CommandResponse`), a tactic answers
`{"proofState", "goals", "messages"?, "sorries"?, "proofStatus"?}` (`ProofStepResponse`; `proofStatus` since
2024, absent from older tags), and either may be the REPL's own refusal `{"message": str}` (`Error`: an unknown
environment or proof state, a Lean exception). LeanInteract models the same answers as pydantic records
(augustepoiroux/LeanInteract `src/lean_interact/interface.py` @ac99520: `CommandResponse`, `ProofStepResponse`,
`Sorry`, `Message`, `LeanError`); these are frozen dataclasses with `LeanMessage` (lean_env.messages) for messages.

Validation is of types, not of presence: a field the REPL may leave out is `None`/empty, and what an answer
means (an error, a proof, a give-up) is the caller's reading (lean_env.backends.repl). A field of the wrong type
raises `ProtocolError` naming it. `raw` keeps the answer as received for callers of the dict API
(`ReplEnv.run_command`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lean_env.errors import ProtocolError
from lean_env.messages import LeanMessage, Position


def _int_or_none(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError(f"the REPL's {what} must be an integer, got {value!r:.80}")
    return value


def _list(answer: Mapping[str, Any], key: str) -> list[Any]:
    value = answer.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ProtocolError(f"the REPL's {key} must be a list, got {type(value).__name__}")
    return value


@dataclass(frozen=True)
class Sorry:
    """One elaborated `sorry`: its goal, the proof state that starts there (None when the REPL gave none) and place."""

    goal: str
    proof_state: int | None = None
    pos: Position | None = None
    end_pos: Position | None = None

    @classmethod
    def from_json(cls, value: Any) -> Sorry:
        if not isinstance(value, Mapping):
            raise ProtocolError(f"a REPL sorry must be a JSON object, got {type(value).__name__}")
        goal = value.get("goal", "")
        if not isinstance(goal, str):
            raise ProtocolError(f"a sorry's goal must be a string, got {type(goal).__name__}")
        return cls(
            goal,
            _int_or_none(value.get("proofState"), "sorry proofState"),
            Position.from_json(value.get("pos")),
            Position.from_json(value.get("endPos")),
        )


def _messages(answer: Mapping[str, Any]) -> tuple[LeanMessage, ...]:
    return tuple(LeanMessage.from_json(m) for m in _list(answer, "messages"))


def _sorries(answer: Mapping[str, Any]) -> tuple[Sorry, ...]:
    return tuple(Sorry.from_json(s) for s in _list(answer, "sorries"))


@dataclass(frozen=True)
class ReplRefusal:
    """`{"message": ...}`: the REPL itself refused (unknown env or proof state, a Lean exception)."""

    message: str
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def text(self) -> str:
        """The message without the REPL's `Lean error:` prefix."""
        return self.message.removeprefix("Lean error:\n").strip()


@dataclass(frozen=True)
class CommandAnswer:
    """The answer to `{"cmd": ...}`: the new environment (None if the REPL gave none), messages and sorries."""

    env: int | None
    messages: tuple[LeanMessage, ...] = ()
    sorries: tuple[Sorry, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def errors(self) -> tuple[LeanMessage, ...]:
        return tuple(m for m in self.messages if m.is_error)


@dataclass(frozen=True)
class TacticAnswer:
    """The answer to `{"tactic": ..., "proofState": n}`: the new proof state and its goals (None where the REPL
    left them out), messages, sorries, and `proofStatus` (`Completed`, `Incomplete: ...`, `Error: ...`)."""

    proof_state: int | None
    goals: tuple[str, ...] | None
    messages: tuple[LeanMessage, ...] = ()
    sorries: tuple[Sorry, ...] = ()
    proof_status: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def errors(self) -> tuple[LeanMessage, ...]:
        return tuple(m for m in self.messages if m.is_error)


def _refusal(answer: Mapping[str, Any], *answer_keys: str) -> ReplRefusal | None:
    message = answer.get("message")
    if message is None or any(key in answer for key in answer_keys):
        return None
    if not isinstance(message, str):
        raise ProtocolError(f"the REPL's message must be a string, got {type(message).__name__}")
    return ReplRefusal(message, answer)


def command_answer(answer: Mapping[str, Any]) -> CommandAnswer | ReplRefusal:
    """Read the answer to a command (see the module docstring); raises `ProtocolError` on a wrong type."""
    refusal = _refusal(answer, "env")
    if refusal is not None:
        return refusal
    return CommandAnswer(_int_or_none(answer.get("env"), "env"), _messages(answer), _sorries(answer), answer)


def tactic_answer(answer: Mapping[str, Any]) -> TacticAnswer | ReplRefusal:
    """Read the answer to a tactic (see the module docstring); raises `ProtocolError` on a wrong type."""
    refusal = _refusal(answer, "proofStatus", "goals")
    if refusal is not None:
        return refusal
    goals = answer.get("goals")
    if goals is not None and not (isinstance(goals, list) and all(isinstance(g, str) for g in goals)):
        raise ProtocolError(f"the REPL's goals must be a list of strings, got {goals!r:.80}")
    status = answer.get("proofStatus")
    if status is not None and not isinstance(status, str):
        raise ProtocolError(f"the REPL's proofStatus must be a string, got {status!r:.80}")
    return TacticAnswer(
        _int_or_none(answer.get("proofState"), "proofState"),
        tuple(goals) if goals is not None else None,
        _messages(answer),
        _sorries(answer),
        status,
        answer,
    )
