"""Split lexed Lean source into its top-level commands.

This is not Lean's parser. The file is lexed properly (`lean_env.source.lexer`) and then split into
top-level commands using Lean's layout conventions:

* declaration and structure keywords (`theorem`, `def`, `namespace`, `end`, ...) at bracket depth 0
  always start a new command (they cannot occur inside a term or tactic block);
* `open`, `set_option`, `#commands`, `@[...]`, doc comments and modifiers start a command only in
  column 1, since `open ... in` and `set_option ... in` are also tactics and terms;
* a command of the form `open/set_option/#guard_msgs ... in` is a prefix of the command after it.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

from lean_env.source.document import DECL_KEYWORDS
from lean_env.source.lexer import (
    AMBIGUOUS_COMMAND_KEYWORDS,
    CLOSE_BRACKETS,
    COMMAND_KEYWORDS,
    OPEN_BRACKETS,
    Token,
    TokenKind,
)

__all__ = ["COMMAND_HEADS", "MODIFIERS", "bracket_depths", "command_ranges", "is_ident"]

# `declModifiers` and `sectionHeader` (leanprover/lean4 src/Lean/Parser/Command.lean) plus the attribute
# kinds `local`/`scoped` of notation and instances: they precede the keyword of the command they modify.
MODIFIERS = frozenset(
    {"private", "public", "protected", "meta", "noncomputable", "nonrec", "unsafe", "partial", "local", "scoped"}
)
# Declaration keywords that begin a command wherever they stand at bracket depth 0, mid-line too: each is a
# keyword token of Lean core or Mathlib, never a term or tactic, so Lean's tactic block or term ends before it
# (`… := by sorry theorem bar …` is two declarations). Keywords another command keyword may precede on its line
# (`class inductive`, `deriving instance`) and those of other packages are left to the line rule.
MIDLINE_DECL_KEYWORDS = frozenset({"theorem", "lemma", "def", "example", "abbrev", "axiom", "structure", "opaque"})
# Every command keyword (Lean core, Batteries, Mathlib, compfiles; cited in lean_env.source.lexer).
COMMAND_HEADS = COMMAND_KEYWORDS | DECL_KEYWORDS


def bracket_depths(tokens: list[Token]) -> array[int]:
    """Bracket depth before each token (brackets are known to balance), 4 bytes each."""
    depths: array[int] = array("i")
    depth = 0
    for tok in tokens:
        if tok.kind is TokenKind.SYMBOL and tok.text in CLOSE_BRACKETS:
            depth -= 1
        depths.append(depth)
        if tok.kind is TokenKind.SYMBOL and tok.text in OPEN_BRACKETS:
            depth += 1
    return depths


def is_ident(tok: Token, words: frozenset[str] | set[str]) -> bool:
    return tok.kind is TokenKind.IDENT and tok.text in words


def _after_modifier(tokens: list[Token], depths: Sequence[int], i: int) -> bool:
    """Token i follows, on its line, what may precede a command keyword: a modifier (`private`,
    `public`, `noncomputable`, ...), a doc comment, an `@[...]` attribute block or a prefix's `in`."""
    if i == 0:
        return False
    prev = tokens[i - 1]
    if is_ident(prev, MODIFIERS) or prev.kind is TokenKind.DOC_COMMENT or is_ident(prev, {"in"}):
        return True
    return prev.kind is TokenKind.SYMBOL and prev.text == "]" and _attribute_start(tokens, depths, i - 1) is not None


def _is_command_head(tokens: list[Token], depths: Sequence[int], i: int, command_column: int) -> bool:
    """Whether token i (at bracket depth 0) begins a command.

    A command keyword begins a command when it is the first token of its line or follows a modifier,
    doc comment, attribute or `in` (so `snip end` and `deriving instance` are one command each, and
    `class inductive` one declaration). Keywords that are also tactics or terms (`open … in`,
    `set_option … in`), `#commands`, `@[…]` and doc comments begin one only at the start of a line that
    is not indented past the current command (a proof's lines are).
    """
    tok = tokens[i]
    prev = tokens[i - 1] if i > 0 else None
    first_on_line = prev is None or prev.line != tok.line
    line_start = first_on_line and tok.column <= command_column
    if tok.kind is TokenKind.IDENT and tok.text in COMMAND_HEADS:
        if tok.text in AMBIGUOUS_COMMAND_KEYWORDS:
            return line_start or (tok.text != "deriving" and _after_modifier(tokens, depths, i))
        if tok.text in ("instance", "inductive", "abbrev") and prev is not None and prev.text in ("deriving", "class"):
            return False
        return first_on_line or tok.text in MIDLINE_DECL_KEYWORDS or _after_modifier(tokens, depths, i)
    if not line_start:
        return False
    if tok.kind in (TokenKind.KEYWORD_HASH, TokenKind.DOC_COMMENT):
        return True
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    return (
        tok.kind is TokenKind.SYMBOL
        and tok.text == "@"
        and nxt is not None
        and nxt.text == "["
        and nxt.start == tok.end
    )


def _attribute_start(tokens: list[Token], depths: Sequence[int], close: int) -> int | None:
    """Index of the `@` opening the attribute block that ends with the `]` at `close`, if it is one."""
    j = close - 1
    while j >= 0 and depths[j] > depths[close]:
        j -= 1
    if j >= 1 and tokens[j].text == "[" and tokens[j - 1].text == "@" and tokens[j - 1].end == tokens[j].start:
        return j - 1
    return None


def _extend_back(tokens: list[Token], depths: Sequence[int], head: int, floor: int) -> int:
    """Move a declaration's start back over its modifiers, attributes and doc comment."""
    i = head
    while i - 1 > floor:
        prev = tokens[i - 1]
        if depths[i - 1] != 0:
            break
        if is_ident(prev, MODIFIERS) or prev.kind is TokenKind.DOC_COMMENT:
            i -= 1
            continue
        if prev.kind is TokenKind.SYMBOL and prev.text == "]":
            at = _attribute_start(tokens, depths, i - 1)
            if at is not None and at > floor:
                i = at
                continue
        break
    return i


def command_ranges(tokens: list[Token], depths: Sequence[int]) -> list[tuple[int, int]]:
    """Split code tokens into top-level commands: (first token, one past the last token)."""
    heads: list[int] = []
    command_column = 1 << 30  # nothing is indented past "no command yet"
    for i in range(len(tokens)):
        if depths[i] == 0 and _is_command_head(tokens, depths, i, command_column):
            start = _extend_back(tokens, depths, i, heads[-1] if heads else -1)
            if not heads or start > heads[-1]:
                heads.append(start)
                command_column = tokens[start].column
    if not heads or heads[0] != 0:
        heads.insert(0, 0)
    ranges = [(a, b) for a, b in zip(heads, heads[1:] + [len(tokens)], strict=True) if a < b]
    # `set_option x in` + `theorem ...`, or a doc comment / `@[...]` / modifier on its own line: such
    # a prefix belongs to the command after it (Lean's `in` is a trailing command parser,
    # `Lean.Parser.Command.«in»`: `cmd in cmd`, so any number of prefixes stack).
    merged: list[tuple[int, int]] = []
    for a, b in ranges:
        if merged:
            pa, pb = merged[-1]
            if _ends_with_in_prefix(tokens, depths, pa, pb) or _is_decl_prefix_only(tokens, depths, pa, pb):
                merged[-1] = (pa, b)
                continue
        merged.append((a, b))
    return merged


def _is_decl_prefix_only(tokens: list[Token], depths: Sequence[int], a: int, b: int) -> bool:
    """Tokens a..b are only a doc comment, attributes and modifiers."""
    i = a
    while i < b:
        tok = tokens[i]
        if (tok.kind is TokenKind.DOC_COMMENT and tok.text.startswith("/--")) or is_ident(tok, MODIFIERS):
            i += 1
        elif tok.text == "@" and i + 1 < b and tokens[i + 1].text == "[":
            i += 2
            while i < b and not (depths[i] == depths[a] and tokens[i].text == "]"):
                i += 1
            i += 1
        else:
            return False
    return True


def _ends_with_in_prefix(tokens: list[Token], depths: Sequence[int], a: int, b: int) -> bool:
    """Tokens a..b are `[doc] <command> in` (`open … in`, `set_option … in`, `attribute [local instance]
    … in`, `#guard_msgs in`, ...) with no declaration: a prefix of the command after it."""
    if not (tokens[b - 1].kind is TokenKind.IDENT and tokens[b - 1].text == "in" and depths[b - 1] == 0):
        return False
    top = [t for t, d in zip(tokens[a:b], depths[a:b], strict=True) if d == 0]
    head = next((t for t in top if t.kind is not TokenKind.DOC_COMMENT), None)
    is_command = head is not None and (is_ident(head, COMMAND_KEYWORDS) or head.kind is TokenKind.KEYWORD_HASH)
    return is_command and not any(is_ident(t, DECL_KEYWORDS) for t in top)
