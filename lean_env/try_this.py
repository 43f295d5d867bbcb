"""Lean's "Try this" suggestions, read from an info message in each recorded release's format.

A tactic that asks Lean for a suggestion (`exact?`, `simp?`, `simp_all? +suggestions`, ...) succeeds and logs
the stable form it found; a written proof should hold that form, as Lean Copilot's front end and the editor's
code action write it. Formats, as the REPL records `exact?` (../shared/lean_fixtures/repl_versions/*/Mathlib/
test/exact.expected.out):

- v4.19: `Try this: exact Nat.one_pos` (one line);
- v4.24: `Try this:\\n  exact Nat.one_pos` (the suggestion indented on the next lines);
- v4.27 and later: `Try this:\\n  [apply] exact Nat.one_pos` (an `[apply]` button before the suggestion).

Several suggestions come as `Try these:` with one `• ` item each, in the same three forms.
"""

from __future__ import annotations

import re

_HEAD = re.compile(r"^Try (?:this|these):[ \t]?")
_APPLY = "[apply] "
_BULLET = re.compile(r"^\s*•\s?")


def _dedent(lines: list[str]) -> str:
    indents = [len(line) - len(line.lstrip(" ")) for line in lines if line.strip()]
    cut = min(indents, default=0)
    return "\n".join(line[cut:] for line in lines).strip("\n")


def try_this_suggestions(message: str) -> tuple[str, ...]:
    """The suggestions a "Try this"/"Try these" info message offers, in order; () for any other message."""
    match = _HEAD.match(message)
    if match is None:
        return ()
    rest = message[match.end() :]
    first, _, tail = rest.partition("\n")
    lines = [first, *tail.split("\n")] if tail else [first]
    items: list[list[str]] = []
    for line in lines:
        if _BULLET.match(line):
            items.append([_BULLET.sub("", line, count=1)])
        elif items:
            items[-1].append(line)
        elif line.strip():
            items.append([line])
    out = []
    for item in items:
        text = _dedent(item)
        text = text.removeprefix(_APPLY) if text.startswith(_APPLY) else text
        if text.strip():
            out.append(text.strip())
    return tuple(out)


def asks_for_suggestion(tactic: str) -> bool:
    """Whether `tactic` is one that asks Lean for a suggestion (its first word ends in `?`: `exact?`,
    `simp?`, `simp_all? +suggestions`, `rw?`, `aesop?`), so its "Try this" answer replaces it."""
    words = tactic.split()
    return bool(words) and words[0].endswith("?") and "\n" not in tactic.strip()


def stable_form(tactic: str, info_messages: list[str] | tuple[str, ...]) -> str | None:
    """The script text that replaces `tactic` in a written proof: the first suggestion of its first
    "Try this" message when `tactic` asks for one; None otherwise (the tactic is kept as written)."""
    if not asks_for_suggestion(tactic):
        return None
    for message in info_messages:
        suggestions = try_this_suggestions(message)
        if suggestions:
            return suggestions[0]
    return None
