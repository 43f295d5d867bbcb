"""Byte-exact edits of Lean source and the layout of tactic scripts.

Everything that changes a user's file goes through `apply_edits`: a list of (span, replacement) edits on
the ORIGINAL text, applied in one pass, so a BOM, CRLF line endings, comments and trailing commands can
never be touched by accident. Tactic-script layout (dedenting, splitting into top-level steps) lives here
too, so that the prover, the replay backend and the renderers in `lean_env.source.render` agree on it.

Layout rules follow Lean's tactic-sequence parser: `Lean.Parser.Tactic.tacticSeq1Indented` is
`sepByIndent tactic "; "` (leanprover/lean4 `src/Lean/Parser/Term.lean`), and `sepByIndent`
(`src/Lean/Parser/Extra.lean`) starts each further tactic with `checkColEq`: the next tactic of a sequence
starts on a new line in exactly the column of the first one; anything indented deeper continues the
tactic above it (a term argument checked with `colGt`, a nested `by` block, a `calc` step).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lean_env.source.lexer import CLOSE_BRACKETS, OPEN_BRACKETS, LexError, TokenKind, tokenize


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a source string: offsets, UTF-8 byte offsets and 1-based line/column of both ends.

    `start`/`end` index the exact string the parser was given (BOM and `\\r` included); columns count
    code points from the start of the line (Lean's REPL reports 0-based columns: REPL column = column - 1).
    """

    start: int
    end: int
    start_byte: int
    end_byte: int
    start_line: int
    start_column: int
    end_line: int
    end_column: int


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace `source[span.start:span.end]` by `replacement` (an insertion when the span is empty)."""

    span: Span
    replacement: str


def apply_edits(source: str, edits: Sequence[Edit]) -> str:
    """`source` with every edit applied in one pass; every byte outside the edited spans is unchanged.

    Spans index the original `source` (not a partly edited one), so edits may be given in any order.
    Raises ValueError when a span lies outside `source`, or two edits overlap or insert at the same
    offset (their order would be ambiguous).
    """
    ordered = sorted(edits, key=lambda e: (e.span.start, e.span.end))
    out: list[str] = []
    pos = 0
    for k, edit in enumerate(ordered):
        start, end = edit.span.start, edit.span.end
        if not 0 <= start <= end <= len(source):
            raise ValueError(f"edit span {start}..{end} is outside the source (length {len(source)})")
        if k and (start < pos or (start == pos and start == ordered[k - 1].span.start)):
            prev = ordered[k - 1].span
            raise ValueError(f"edits overlap: {prev.start}..{prev.end} and {start}..{end}")
        out.append(source[pos:start])
        out.append(edit.replacement)
        pos = end
    out.append(source[pos:])
    return "".join(out)


# --------------------------------------------------------------------------------------- script layout


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def dedent_script(text: str) -> str:
    """A tactic script with its common indentation removed and surrounding blank lines dropped.

    Every line keeps its indentation relative to the others, the first line included, so the text must
    give the first line its own indentation: `"  intro h\\n  exact h"` (two steps) is not the same
    script as `"intro h\\n  exact h"` (one step, as Lean would read it). A script cut from after a `by`
    on the same line should come from `TheoremDecl.tactic_script`, which restores that column.
    `\\r\\n` line endings are read as `\\n`; the result uses `\\n`.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    common = min((_indent(ln) for ln in lines if ln.strip()), default=0)
    return "\n".join(ln[common:].rstrip() if ln.strip() else "" for ln in lines)


def _line_starts_inside_token(text: str) -> tuple[set[int], dict[int, int]] | None:
    """For each line: whether it starts inside a multi-line token (string, block comment) and the bracket
    depth at its start. None when the script does not lex (a model's garbage): the caller then goes by
    indentation alone."""
    try:
        tokens = tokenize(text)
    except LexError:
        return None
    inside: set[int] = set()
    depth_at_line: dict[int, int] = {}
    depth = 0
    for tok in tokens:
        if tok.line not in depth_at_line:
            depth_at_line[tok.line] = depth
        if tok.kind is TokenKind.SYMBOL and tok.text in OPEN_BRACKETS:
            depth += 1
        elif tok.kind is TokenKind.SYMBOL and tok.text in CLOSE_BRACKETS:
            depth = max(0, depth - 1)
        extra = tok.text.count("\n")
        for k in range(1, extra + 1):
            inside.add(tok.line + k)
    return inside, depth_at_line


# A line that starts with one of these continues the tactic above it (`t₁\n<;> t₂` is one trailing
# `<;>` combinator: `Lean.Parser.Tactic.«tactic_<;>_»`, src/Init/Tactics.lean).
_CONTINUATION_STARTS = ("<;>",)


def split_steps(script: str) -> list[str]:
    """The top-level tactic steps of a script, in order, each a (possibly multi-line) string.

    A step starts on a line whose first character is in the script's base column (the column of its
    first line), outside any bracket, string or comment; deeper lines, bracketed continuations and a
    leading `<;>` belong to the step above. Each step is dedented to its own column, so
    `"intro h\\n  exact h"` is ONE step and `"intro h\\nexact h"` two, as in Lean (see module docs).
    Bullets (`· tac`) are kept inside their step; comment-only lines stay with the step above (or the
    first step). Steps on one line separated by `;` are one step here.
    """
    text = dedent_script(script)
    if not text:
        return []
    lines = text.split("\n")
    info = _line_starts_inside_token(text)
    base = _indent(lines[0])
    starts: list[int] = []
    for idx, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("--"):
            continue
        lineno = idx + 1
        if info is not None:
            inside, depth_at_line = info
            if lineno in inside or depth_at_line.get(lineno, 0) > 0:
                continue
        if _indent(line) > base or (starts and stripped.startswith(_CONTINUATION_STARTS)):
            continue
        starts.append(idx)
    if not starts:
        return [text]
    starts[0] = 0
    steps: list[str] = []
    for a, b in zip(starts, starts[1:] + [len(lines)], strict=True):
        step = dedent_script("\n".join(lines[a:b]))
        if step:
            steps.append(step)
    return steps
