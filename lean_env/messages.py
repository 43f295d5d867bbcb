"""One record for a Lean message, whichever backend reported it.

The shape is the Lean REPL's `Message` (leanprover-community/repl `REPL/JSON.lean` @8948401:
`{"severity": "info"|"warning"|"error", "pos": {"line", "column"}, "endPos"?: {"line", "column"} | null,
"data": str}`); lines are 1-based and columns 0-based codepoint offsets, as Lean's `Position` counts them.
Backends that print messages as text (`lake env lean FILE`, LeanDojo) fill what they know and leave
`end_pos` `None`. A message is information about a compile: it never turns a rejection into a proof.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from lean_env.errors import ProtocolError


class Severity(StrEnum):
    """Lean's `MessageSeverity`, as the REPL spells it."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, order=True)
class Position:
    """A place in Lean source: `line` 1-based, `column` 0-based (Lean's `Position`)."""

    line: int
    column: int = 0

    @classmethod
    def from_json(cls, value: Any) -> Position | None:
        """`{"line": int, "column": int}` → `Position`; `None`/absent → `None`. Raises `ProtocolError` otherwise."""
        if value is None:
            return None
        if not isinstance(value, Mapping) or not isinstance(value.get("line"), int):
            raise ProtocolError(f"a message position must be {{'line': int, 'column': int}}, got {value!r}")
        column = value.get("column", 0)
        if not isinstance(column, int):
            raise ProtocolError(f"a message column must be an int, got {column!r}")
        return cls(value["line"], column)

    def to_json(self) -> dict[str, int]:
        return {"line": self.line, "column": self.column}


@dataclass(frozen=True)
class LeanMessage:
    """One message of a compile: severity, start (`pos`), end (`end_pos`, `None` where unknown) and text."""

    severity: Severity
    data: str
    pos: Position | None = None
    end_pos: Position | None = None

    @classmethod
    def from_json(cls, value: Any) -> LeanMessage:
        """Validate one REPL message object; raises `ProtocolError` on a shape the REPL never prints."""
        if not isinstance(value, Mapping):
            raise ProtocolError(f"a Lean message must be a JSON object, got {type(value).__name__}")
        try:
            severity = Severity(str(value.get("severity")))
        except ValueError as exc:
            raise ProtocolError(f"unknown message severity {value.get('severity')!r}") from exc
        data = value.get("data", "")
        if not isinstance(data, str):
            raise ProtocolError(f"a message's data must be a string, got {type(data).__name__}")
        return cls(severity, data, Position.from_json(value.get("pos")), Position.from_json(value.get("endPos")))

    def to_json(self) -> dict[str, Any]:
        """The REPL's own shape (round-trips through `from_json`)."""
        out: dict[str, Any] = {"severity": self.severity.value, "data": self.data}
        if self.pos is not None:
            out["pos"] = self.pos.to_json()
        out["endPos"] = self.end_pos.to_json() if self.end_pos is not None else None
        return out

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR
