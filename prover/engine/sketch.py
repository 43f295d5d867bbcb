"""Repair into holes: a failed tactic proof becomes a sketch whose failing parts are `sorry`.

An error position (relative to the proof text: line 1-based, column 0-based, as Lean reports) is mapped to
its innermost enclosing block, and that block's body becomes `sorry`:

- a `have … := by …` (or any step proved `by` a block: a `calc` step, `suffices … by`): `… by sorry`;
- a focusing bullet `· …`: `· sorry`; a `case … =>` / `next … =>`: `case … => sorry`;
- a `t₁ <;> t₂` chain: the whole chain becomes `sorry`;
- a `have` whose statement itself errs (the error is before its `:=`), or a `have h := term` whose term errs
  (there is no statement to keep), is dropped with the later steps of its block that use its name; a `sorry`
  takes the place of the first of them;
- an error in a top-level step: that step and the steps after it become one `sorry` (what came before stands);
  an error before the proof (the theorem's own `by`: "unsolved goals" when the steps ran out) adds a last `sorry`.

Comments are read as Lean's lexer reads them (`lean_env.source.lexer`), so a `:= by` inside a comment is no
block. The result is text only: the caller compiles it to confirm that only these holes remain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lean_env.messages import Position

_BULLET = re.compile(r"^[·.]\s")
_CASE = re.compile(r"^(case|next)\b[^\n]*?=>")
_HAVE = re.compile(r"^(have|haveI|replace|obtain)\s+(?P<name>[^\s:⟨(]+)?")


@dataclass(frozen=True)
class Sketch:
    text: str
    kind: str  # the block that became a hole: have, have-statement, have-term, bullet, case, chain, step, tail


def _mask_comments(text: str) -> str:
    """`text` with every comment's characters (not its line breaks) replaced by spaces."""
    from lean_env.source.lexer import LexError, TokenKind, tokenize

    try:
        tokens = tokenize(text, keep_comments=True)
    except LexError:
        return text
    chars = list(text)
    for tok in tokens:
        if tok.kind in (TokenKind.COMMENT, TokenKind.DOC_COMMENT):
            for k in range(tok.start, tok.end):
                if chars[k] != "\n":
                    chars[k] = " "
    return "".join(chars)


class _Lines:
    def __init__(self, proof: str) -> None:
        self.raw = proof.split("\n")
        self.code = _mask_comments(proof).split("\n")

    def indent(self, i: int) -> int | None:
        line = self.code[i]
        return len(line) - len(line.lstrip(" ")) if line.strip() else None

    def extent(self, i: int) -> int:
        """The last line of the step starting at line `i` (its continuation lines are indented more)."""
        base, last = self.indent(i), i
        assert base is not None
        for j in range(i + 1, len(self.code)):
            d = self.indent(j)
            if d is None:
                continue
            if d <= base:
                break
            last = j
        return last

    def siblings(self, i: int) -> list[int]:
        """Starts of the steps after the one at line `i` in the same block (same indentation, until it ends)."""
        base, out = self.indent(i), []
        j = self.extent(i) + 1
        while j < len(self.code):
            d = self.indent(j)
            if d is None:
                j += 1
                continue
            if base is None or d < base:
                break
            out.append(j)
            j = self.extent(j) + 1
        return out


@dataclass(frozen=True)
class _Block:
    kind: str
    line: int  # where it starts
    column: int  # where its body starts on that line (for a `by` block: its `:=`, or the `by`)
    end: int  # its last line
    by_end: int = 0  # for a `by` block: the column just past `by`


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += ch in "([{⟨"
        depth -= ch in ")]}⟩"
        if depth < 0:
            return False
    return depth == 0


def _by_block(code: str, d: int, text: str, i: int, end: int) -> _Block | None:
    """A step whose proof is a `by` block: `… := by …`, `suffices … by`, `show … by …` (the last `by` of
    the line whose rest is a tactic of its own, not inside parentheses)."""
    last = None
    for m in re.finditer(r"(?<![\w.])by(?![\w'])", code):
        last = m
    if last is None or last.start() <= d or not _balanced(code[last.end() :]):
        return None
    assign = code.rfind(":=", 0, last.start())
    column = assign if assign != -1 and not code[assign + 2 : last.start()].strip() else last.start()
    kind = "have" if _HAVE.match(text) else "step"
    return _Block(kind, i, column, end, last.end())


def _blocks(lines: _Lines) -> list[_Block]:
    found: list[_Block] = []
    for i, code in enumerate(lines.code):
        d = lines.indent(i)
        if d is None:
            continue
        text = code[d:]
        end = lines.extent(i)
        if _BULLET.match(text):
            found.append(_Block("bullet", i, d + 1, end))
        elif m := _CASE.match(text):
            found.append(_Block("case", i, d + m.end(), end))
        elif "<;>" in text:
            found.append(_Block("chain", i, d, end))
        block = _by_block(code, d, text, i, end)
        if block is not None:
            found.append(block)
        elif _HAVE.match(text):  # `have h := term`: no statement to keep without its proof
            found.append(_Block("have-term", i, d, end))
    return found


def _contains(block: _Block, line: int, column: int) -> bool:
    # A `have`'s own line belongs to it whole: an error in its statement is the have's.
    start = 0 if block.kind in ("have", "have-term") else block.column
    return (block.line < line <= block.end) or (line == block.line and column >= start)


def sketch_proof(proof: str, error: Position) -> Sketch:
    """The sketch of `proof` with the block around `error` (proof coordinates) replaced by `sorry`."""
    lines = _Lines(proof)
    line, column = error.line - 1, error.column
    if line < 0:  # the theorem's own `by` (its goals outlived the steps): a last step closes them
        return Sketch(_append_sorry(lines), "tail")
    inside = [b for b in _blocks(lines) if _contains(b, line, column)]
    if not inside:
        return Sketch(_tail(lines, line), "tail")
    block = max(inside, key=lambda b: (b.line, b.column))
    return _replace(lines, block, line, column)


def _first_step(lines: _Lines) -> int:
    return next(i for i in range(len(lines.code)) if lines.indent(i) is not None)


def _append_sorry(lines: _Lines) -> str:
    first = _first_step(lines)
    indent = lines.indent(first) or 0
    return "\n".join([*lines.raw, " " * indent + "sorry"])


def _step_start(lines: _Lines, line: int) -> int:
    """The top-level step holding `line`."""
    top = lines.indent(_first_step(lines))
    start = line
    while start > 0 and (lines.indent(start) is None or (lines.indent(start) or 0) > (top or 0)):
        start -= 1
    return start


def _tail(lines: _Lines, line: int) -> str:
    start = _step_start(lines, line)
    indent = lines.indent(start) or 0
    return "\n".join([*lines.raw[:start], " " * indent + "sorry"])


def _replace(lines: _Lines, block: _Block, line: int, column: int) -> Sketch:
    raw, i, end = lines.raw, block.line, block.end
    indent = lines.indent(i) or 0
    if block.kind == "bullet":
        new = raw[i][: block.column] + " sorry"
        return Sketch("\n".join([*raw[:i], new, *raw[end + 1 :]]), "bullet")
    if block.kind == "case":
        new = raw[i][: block.column] + " sorry"
        return Sketch("\n".join([*raw[:i], new, *raw[end + 1 :]]), "case")
    if block.kind == "chain":
        return Sketch("\n".join([*raw[:i], " " * indent + "sorry", *raw[end + 1 :]]), "chain")
    if block.kind == "have-term" or (block.kind == "have" and line == i and column < block.column):
        return _drop_have(lines, block, "have-term" if block.kind == "have-term" else "have-statement")
    new = raw[i][: block.by_end] + " sorry"
    return Sketch("\n".join([*raw[:i], new, *raw[end + 1 :]]), block.kind)


def _drop_have(lines: _Lines, block: _Block, kind: str) -> Sketch:
    """A `have` whose statement errs: it goes, with the later steps of its block that use its name."""
    raw, i = lines.raw, block.line
    indent = lines.indent(i) or 0
    m = _HAVE.match(lines.code[i][indent:])
    name = m.group("name") if m else None
    drop = set(range(i, block.end + 1))
    first_user: int | None = None
    if name:
        uses = re.compile(rf"(?<![\w.'₀-₉]){re.escape(name)}(?![\w'₀-₉])")
        for start in lines.siblings(i):
            end = lines.extent(start)
            if any(uses.search(lines.code[k]) for k in range(start, end + 1)):
                first_user = start if first_user is None else first_user
                drop.update(range(start, end + 1))
    out = []
    for k, text in enumerate(raw):
        if k == first_user:
            out.append(" " * indent + "sorry")
        if k not in drop:
            out.append(text)
    return Sketch("\n".join(out), kind)


def proof_position(source: str, proof: str, position: Position) -> Position | None:
    """A message position of the compiled `source` in `proof`'s own coordinates (None when it is not in the
    proof, as for the theorem's `by` itself: line 0 is returned for a position before the proof)."""
    body = [line for line in proof.split("\n") if line.strip()]
    if not body:
        return None
    first = body[0].strip()
    lines = source.split("\n")
    starts = [k for k, text in enumerate(lines) if text.strip() == first]
    if not starts:
        return None
    # The proof's first line: the candidate whose following lines match the proof (indentation may differ).
    proof_lines = proof.split("\n")
    lead = next(k for k, text in enumerate(proof_lines) if text.strip())
    for start in starts:
        origin = start - lead
        if origin >= 0 and all(
            origin + k < len(lines) and lines[origin + k].strip() == text.strip() for k, text in enumerate(proof_lines)
        ):
            shift = (
                len(lines[start])
                - len(lines[start].lstrip(" "))
                - (len(proof_lines[lead]) - len(proof_lines[lead].lstrip(" ")))
            )
            line = position.line - origin
            if line < 1:
                return Position(0, 0)
            if line > len(proof_lines):
                return None
            return Position(line, max(0, position.column - shift))
    return None
