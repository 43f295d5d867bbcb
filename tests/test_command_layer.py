"""Commands are thin: options in, one config object, an engine call, output. No function of `prover/commands/`
has a body over 60 lines (the lint gate holds their complexity; see pyproject's ruff settings)."""

from __future__ import annotations

import ast
from pathlib import Path

COMMANDS = Path(__file__).resolve().parents[1] / "prover" / "commands"
MAX_BODY_LINES = 60


def _bodies() -> list[tuple[str, int]]:
    found = []
    for path in sorted(COMMANDS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                body = node.body
                has_doc = isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                first = body[1] if has_doc and len(body) > 1 else body[0]
                end = node.end_lineno or node.lineno
                found.append((f"{path.name}:{node.name}", end - first.lineno + 1))
    return found


def test_no_command_function_body_is_over_60_lines() -> None:
    bodies = _bodies()
    assert len(bodies) > 20, "the command layer was not found"
    long = [f"{where}: {lines} lines" for where, lines in bodies if lines > MAX_BODY_LINES]
    assert not long, "move the work into the engine or a helper: " + "; ".join(long)
