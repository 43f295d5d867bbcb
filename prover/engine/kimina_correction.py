"""Kimina-Prover's error-fixing turn: Lean's errors with the goal before each, as its demo builds them.

MoonshotAI/Kimina-Prover-Preview `kimina_prover_demo/utils.py` @3c46bc0 (`create_tool_message`, called by
`kimina_prover_demo/error_fix.py` @d31a49e after a compile with `infotree_type="original"`) writes one user turn:
for each of the compile's first 3 errors, `# Error i:`, the goals before the error (from the info tree: the
tactic node whose syntax range lies inside the error's span and is closest to it), Lean's message, and a
numbered code snippet (two lines before the error's line, two after, the error's line marked ` >`). The snippet
numbers the lines of the code after its leading `import` lines (upstream's own numbering, kept). With no error
to show and a failure of the compile itself, the turn names that failure instead.
tests/test_kimina_correction.py checks the bytes against that function's own output on recorded errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lean_env.messages import LeanMessage, Position

MAX_ERRORS = 3  # errors shown; the rest are left out (upstream counts none)
LINES_BEFORE, LINES_AFTER = 2, 2  # snippet lines around the error's line

InfoTree = Sequence[Any]  # the REPL's `infotree` answer: JSON nodes {"node": {...}, "kind", "children"}


def _after_imports(code: str) -> list[str]:
    """The lines of `code` (stripped) after its first run of `import` lines, as upstream's header split cuts."""
    lines = code.strip().split("\n")
    cut, in_imports = 0, False
    for line in lines:
        if line.startswith("import"):
            in_imports, cut = True, cut + 1
        elif in_imports:
            break
    return lines[cut:]


def _at_or_after(a: Any, b: Any) -> bool:
    if not isinstance(a, Mapping) or not isinstance(b, Mapping):
        return False
    return bool((a["line"], a["column"]) >= (b["line"], b["column"]))


def _distance(a: Any, b: Any) -> float:
    if not isinstance(a, Mapping) or not isinstance(b, Mapping):
        return float("inf")
    return float(10 * abs(a["line"] - b["line"]) + abs(a["column"] - b["column"]))


def _goals_before(infotree: InfoTree, start: Position, end: Position) -> list[str] | None:
    """The goals of the info-tree node inside [start, end] closest to it (before the tactic, else after).

    The walk is upstream's: a stack popped from its end, a node without a syntax range is skipped with its
    children, ties go to the node found first."""
    begin, finish = start.to_json(), end.to_json()
    stack, best, best_distance = list(infotree), None, float("inf")
    while stack:
        tree = stack.pop()
        try:
            span = tree["node"]["stx"]["range"]
        except (KeyError, TypeError):
            continue
        if not isinstance(span, dict):
            continue
        if _at_or_after(span.get("start"), begin) and _at_or_after(finish, span.get("finish")):
            distance = _distance(span.get("start"), begin) + _distance(span.get("finish"), finish)
            if best is None or distance < best_distance:
                best, best_distance = tree, distance
        children = tree.get("children", [])
        if isinstance(children, list):
            stack.extend(children)
    if best is None:
        return None
    node = best.get("node", {})
    goals = node.get("goalsBefore") or node.get("goalsAfter")
    return list(goals) if goals else None


def _snippet(lines: list[str], line_index: int) -> str:
    out = ["```lean4\n"]
    for ln in range(max(0, line_index - LINES_BEFORE), min(len(lines), line_index + LINES_AFTER + 1)):
        mark = " >" if ln == line_index else "  "
        out.append(f"{ln + 1:03d}{mark}| {lines[ln].replace('count_heartbeats in', '')}\n")
    return "".join(out) + "```"


def tool_message(
    code: str, messages: Sequence[LeanMessage], infotree: InfoTree | None = None, system_error: str = ""
) -> str:
    """The error-fixing turn for a compile of `code` (the whole file, header included) that gave `messages`
    and `infotree` (the REPL's answer to `"infotree": "original"`); `system_error`: the compile's own failure
    (no messages), shown only when no error is. Byte-equal to upstream's `create_tool_message`."""
    lines = _after_imports(code)
    out = []
    for i, error in enumerate([m for m in messages if m.is_error][:MAX_ERRORS], 1):
        out.append(f"# Error {i}:\n")
        goals, snippet = None, None
        if error.pos is not None:
            if error.end_pos is not None and infotree:
                goals = _goals_before(infotree, error.pos, error.end_pos)
            snippet = _snippet(lines, error.pos.line - 1)
        if goals:
            out.append("Goals state before error position: \n" + "\n".join(goals) + "\n\n")
        out.append(f"Error message: \n{error.data.strip()}\n\n")
        if snippet is not None:
            out.append(f"Lean 4 code snippet with error:\n{snippet}\n")
    if not out and system_error.strip():
        out.append(f"# System Error:\nError message: \n{system_error.strip()}\n\n")
    return "".join(out)
