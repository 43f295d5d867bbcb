"""Render proof scripts as text and edits of a parsed file: a script in place of a hole's `sorry`, a whole new
proof for a declaration. Every byte outside the replaced span stays as written."""

from __future__ import annotations

from lean_env.source.document import Hole, TheoremDecl
from lean_env.source.edits import Edit, Span, dedent_script

__all__ = ["line_pad", "render_script_at", "render_whole_proof"]


def render_script_at(hole: Hole, script: str, newline: str = "\n") -> str:
    """The text that replaces `hole`'s `sorry` by the tactic script `script`.

    Tactic position: the script itself, its further lines re-indented to `hole.indent` (Lean's
    `sepByIndent`: each tactic of a sequence in the first one's column). Term position: `by` + the script,
    on one line when it has one line, else `by` then the lines at `hole.indent`; wrapped in parentheses
    when `hole.parenthesize`. Lines are joined with `newline` (the file's own line ending). Raises
    ValueError for an empty script.
    """
    lines = dedent_script(script).split("\n")
    if not lines[0]:
        raise ValueError("the proof script is empty")
    pad = line_pad(hole.margin, hole.indent)
    if hole.position == "tactic":
        return newline.join([lines[0]] + [pad + ln if ln else "" for ln in lines[1:]])
    one_line = len(lines) == 1
    body = "by " + lines[0] if one_line else newline.join(["by"] + [pad + ln if ln else "" for ln in lines])
    return f"({body})" if hole.parenthesize else body


def render_whole_proof(decl: TheoremDecl, script: str, newline: str = "\n") -> Edit:
    """The edit that replaces `decl`'s whole proof by `by` + `script` (or adds `:= by …` where the
    declaration has no proof), the script's lines starting as the proof's first tactic line did (`by` then
    a line of its own: its spaces or tabs byte for byte), else 2 columns past the declaration. The `:=`
    and the statement are kept byte for byte; lines are joined with `newline`. Raises ValueError for an
    empty script.
    """
    lines = dedent_script(script).split("\n")
    if not lines[0]:
        raise ValueError("the new proof is empty")
    pad = _proof_margin(decl) or " " * (decl.indent + 2)
    body = newline.join(["by"] + [pad + ln if ln else "" for ln in lines])
    if decl.assign_span is not None and decl.proof_span is not None:
        return Edit(_between(decl.assign_span, decl.proof_span), " " + body)
    end = decl.proof_span if decl.proof_span is not None else decl.statement_span
    return Edit(_between(decl.statement_span, end), " := " + body)


def line_pad(margin: str, column: int) -> str:
    """The text that starts a further line of a replacement at `column` (code points) on a line whose own
    indentation was `margin`: the margin as written (a tab stays a tab, so the user's characters stay
    at that place), then spaces; cut when the column is left of the margin's end."""
    return margin[:column] if len(margin) >= column else margin + " " * (column - len(margin))


def _proof_margin(decl: TheoremDecl) -> str:
    """The spaces/tabs of the first tactic line of a `by`-then-newline proof (`:= by\n\tsorry` -> "\t"),
    or "" when the proof has no such line (`:= by sorry`, a term, no proof)."""
    lines = decl.proof.split("\n")
    if len(lines) < 2 or lines[0].strip() != "by":
        return ""
    first = next((ln for ln in lines[1:] if ln.strip()), "")
    return first[: len(first) - len(first.lstrip(" \t"))]


def _between(first: Span, last: Span) -> Span:
    """The span from the end of `first` to the end of `last`."""
    return Span(
        first.end,
        last.end,
        first.end_byte,
        last.end_byte,
        first.end_line,
        first.end_column,
        last.end_line,
        last.end_column,
    )
