"""Parse `.lean` files: the header, every theorem/lemma/example (statement, proof, `sorry`s), and
the other top-level declarations, with exact positions for rewriting proofs.

The text is lexed (`lean_env.source.lexer`) and split into top-level commands (`lean_env.source.commands`);
each command is read here into the document model (`lean_env.source.document`).
"""

from __future__ import annotations

import bisect
import gc
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from lean_env.errors import LeanParseError
from lean_env.source.commands import MODIFIERS, bracket_depths, command_ranges, is_ident
from lean_env.source.document import (
    DECL_KEYWORDS,
    OTHER_DECL_KEYWORDS,
    TARGET_KEYWORDS,
    Declaration,
    Hole,
    LeanFile,
    SourcePos,
    TheoremDecl,
    TheoremKind,
)
from lean_env.source.edits import Span
from lean_env.source.lexer import CLOSE_BRACKETS, COMMAND_KEYWORDS, LexError, TokenKind, check_brackets, tokenize

__all__ = ["PROOF_SUFFIX_KEYWORDS", "parse_lean_file", "parse_lean_source"]

PROOF_SUFFIX_KEYWORDS = frozenset({"where", "termination_by", "decreasing_by"})

# Terms that take a `:=` of their own inside a statement's type.
_BINDING_TERMS = frozenset({"let", "have", "letI", "haveI", "let_fun"})

# Hole classification (see `Hole`). After these a tactic starts: `by`, the tactic combinators of
# Lean's src/Init/Tactics.lean (`try`, `all_goals`, `any_goals`, `repeat`, `focus`, `first | …`,
# `iterate n`) and Mathlib's `on_goal`/`pick_goal`-style ones, `decreasing_by`.
_TACTIC_BEFORE = frozenset(
    {"by", "try", "all_goals", "any_goals", "repeat", "repeat'", "focus", "decreasing_by", "classical", "iterate"}
)
_TACTIC_BEFORE_SYMBOLS = frozenset({";", "<;>"})
_BULLETS = frozenset({"·", "."})
# `=>` opens a tactic block after these (src/Init/Tactics.lean: `case`, `next`, `induction … with`,
# `cases … with`; Mathlib's `on_goal n =>`); after `fun` it opens a term.
_ARROW_TACTIC_HEADS = frozenset({"case", "case'", "next", "induction", "cases", "on_goal", "conv", "with_reducible"})
# A term-position `by …` needs no parentheses between these (it is the whole term there).
_BARE_TERM_BEFORE = frozenset({":=", "=>", "<|", "$", "(", "⟨", ",", "[", "exact", "from"})
_BARE_TERM_AFTER = frozenset({")", "⟩", ",", "]"})

# ---------------------------------------------------------------------------------------------------


_BLOCK = 1024


class _Source:
    """Offsets -> positions and byte offsets for one source text, each in time independent of the file's size
    (a table of line starts, and of the UTF-8 byte offset of every `_BLOCK`-th code point: only the text from
    the block's start to the offset is encoded)."""

    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.path = path
        self._line_starts = [0]
        self._ascii = text.isascii()
        pos = text.find("\n")
        while pos != -1:
            self._line_starts.append(pos + 1)
            pos = text.find("\n", pos + 1)
        self._line_numbers: dict[int, int] = {}
        self._block_bytes = [0]
        if not self._ascii:
            for a in range(0, len(text), _BLOCK):
                self._block_bytes.append(self._block_bytes[-1] + len(text[a : a + _BLOCK].encode("utf-8")))

    def _line_index(self, offset: int) -> int:
        return bisect.bisect_right(self._line_starts, offset) - 1

    def line_col(self, offset: int) -> tuple[int, int]:
        lo = self._line_index(offset)
        # One int object per line number, shared by every position on that line (spans hold many).
        line = self._line_numbers.setdefault(lo, lo + 1)
        return line, offset - self._line_starts[lo] + 1

    def byte(self, offset: int) -> int:
        if self._ascii:
            return offset
        block = offset // _BLOCK
        return self._block_bytes[block] + len(self.text[block * _BLOCK : offset].encode("utf-8"))

    def span(self, start: int, end: int) -> Span:
        sl, sc = self.line_col(start)
        el, ec = self.line_col(end)
        return Span(start, end, self.byte(start), self.byte(end), sl, sc, el, ec)

    def pos(self, offset: int) -> SourcePos:
        line, col = self.line_col(offset)
        return SourcePos(line, col, offset, self.byte(offset))

    def error(self, offset: int, reason: str) -> LeanParseError:
        line, col = self.line_col(offset)
        return LeanParseError(self.path, line, col, reason)


@dataclass(slots=True)
class _DeclPrefix:
    """What may precede a command's keyword: a doc comment, `@[…]` attributes, modifiers, and `set_option x v in` /
    `open A in` / `#guard_msgs in` prefixes (without the `in`)."""

    doc: str | None = None
    attributes: list[str] = field(default_factory=list)
    modifiers: list[str] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)


_IMPORT_KEYWORDS = frozenset({"import", "public", "meta", "all"})


class _Parser:
    def __init__(self, text: str, path: str) -> None:
        self.src = _Source(text, path)
        self.text = text
        # A UTF-8 BOM is kept in `source` (write-back keeps it) but is no part of any header Lean sees.
        self.content_start = 1 if text.startswith("\ufeff") else 0
        try:
            self.tokens = tokenize(text, keep_comments=False, keep_doc_comments=True)
        except LexError as exc:
            raise self.src.error(exc.offset, exc.reason) from None
        bracket_error = check_brackets(self.tokens)
        if bracket_error is not None:
            raise self.src.error(bracket_error.offset, bracket_error.reason)
        self.depths = bracket_depths(self.tokens)
        self.scopes: list[tuple[str, str]] = []  # (kind, name) for namespace/section/mutual
        self.imports: list[str] = []
        self.theorems: list[TheoremDecl] = []
        self.declarations: list[Declaration] = []

    def namespace(self) -> str:
        return ".".join(name for kind, name in self.scopes if kind == "namespace" and name)

    def qualify(self, name: str) -> str:
        # `_root_.x` and `«_root_».x` declare `x` at the root (`mkDeclName`, lean4 src/Lean/Elab/DeclUtil.lean).
        for root in ("_root_.", "«_root_»."):
            if name.startswith(root):
                return name[len(root) :]
        ns = self.namespace()
        return f"{ns}.{name}" if ns else name

    def parse(self) -> LeanFile:
        for a, b in command_ranges(self.tokens, self.depths):
            self.command(a, b)
        first_decl = min((d.span.start for d in self.declarations), default=len(self.text))
        return LeanFile(
            path=self.src.path,
            source=self.text,
            header=self.text[self.content_start : first_decl],
            imports=self.imports,
            theorems=self.theorems,
            declarations=self.declarations,
        )

    def command(self, a: int, b: int) -> None:
        i, prefix = self._command_prefix(a, b)
        if i >= b:
            return
        head = self.tokens[i]
        word = head.text if head.kind is TokenKind.IDENT else ""
        if word in TARGET_KEYWORDS:
            self.target(a, i, b, prefix)
        elif word in OTHER_DECL_KEYWORDS:
            self.other_decl(a, i, b)
        else:
            self._scope_command(word, i, b)

    def _command_prefix(self, a: int, b: int) -> tuple[int, _DeclPrefix]:
        """What precedes command a..b's keyword: its doc comment, attributes, modifiers and `… in` prefixes;
        with the index of the first token after them."""
        toks = self.tokens
        prefix = _DeclPrefix()
        i = a
        while i < b:
            tok = toks[i]
            if tok.kind is TokenKind.DOC_COMMENT and tok.text.startswith("/--"):
                prefix.doc = tok.text
                i += 1
            elif tok.text == "@" and i + 1 < b and toks[i + 1].text == "[":
                close = self._matching(i + 1, b)
                prefix.attributes.append(self.text[toks[i + 1].end : toks[close].start].strip())
                i = close + 1
            elif is_ident(tok, MODIFIERS):
                prefix.modifiers.append(tok.text)
                i += 1
            elif (end := self._in_prefix_end(i, b)) is not None:
                prefix.prefixes.append(self.text[tok.start : toks[end - 1].end])
                i = end + 1
            else:
                break
        return i, prefix

    def _scope_command(self, word: str, i: int, b: int) -> None:
        """`import`, and the commands that open and close scopes (`namespace`, `section`, `mutual`, `end`)."""
        toks = self.tokens
        head = toks[i]
        if word == "import":
            # `import A import B` on one line is two imports (Lean's module header is `many import`, each
            # `(public)? (meta)? import (all)? ident`: lean4 src/Lean/Parser/Module.lean); the keywords are no modules.
            self.imports.extend(
                t.text for t in toks[i + 1 : b] if t.kind is TokenKind.IDENT and t.text not in _IMPORT_KEYWORDS
            )
        elif word in ("namespace", "section"):
            name = toks[i + 1].text if i + 1 < b and toks[i + 1].kind is TokenKind.IDENT else ""
            if word == "namespace" and not name:
                raise self.src.error(head.start, "`namespace` needs a name")
            self.scopes.append((word, name))
        elif word == "mutual":
            self.scopes.append(("mutual", ""))
        elif word == "end":
            if not self.scopes:
                raise self.src.error(head.start, "`end` without an open namespace, section or mutual block")
            self.scopes.pop()

    def _matching(self, open_idx: int, b: int) -> int:
        # A closing bracket is recorded at the depth of its opener.
        depth0 = self.depths[open_idx]
        for j in range(open_idx + 1, b):
            if (
                self.tokens[j].kind is TokenKind.SYMBOL
                and self.tokens[j].text in CLOSE_BRACKETS
                and self.depths[j] == depth0
            ):
                return j
        raise self.src.error(self.tokens[open_idx].start, f"unclosed bracket `{self.tokens[open_idx].text}`")

    def _in_prefix_end(self, i: int, b: int) -> int | None:
        """For `open ... in` / `set_option ... in` / `#guard_msgs ... in` at i: the index of its `in`."""
        tok = self.tokens[i]
        is_command = is_ident(tok, COMMAND_KEYWORDS) and not is_ident(tok, DECL_KEYWORDS | MODIFIERS)
        if not (is_command or tok.kind is TokenKind.KEYWORD_HASH):
            return None
        for j in range(i + 1, b):
            t = self.tokens[j]
            if self.depths[j] == 0 and t.kind is TokenKind.IDENT and t.text == "in":
                return j
            if self.depths[j] == 0 and t.kind is TokenKind.IDENT and t.text in DECL_KEYWORDS:
                return None
        return None

    def other_decl(self, a: int, i: int, b: int) -> None:
        toks = self.tokens
        kind = toks[i].text
        j = i + 1
        if kind == "class" and j < b and toks[j].text == "inductive":
            j += 1
        name: str | None = None
        if j < b and toks[j].kind is TokenKind.IDENT and toks[j].text not in ("where", "extends"):
            name = self.qualify(toks[j].text)
        self.declarations.append(Declaration(kind, name, self.src.span(toks[a].start, toks[b - 1].end)))

    def target(self, a: int, i: int, b: int, prefix: _DeclPrefix) -> None:
        toks, src = self.tokens, self.src
        keyword = toks[i]
        kind = cast(TheoremKind, keyword.text)
        short_name, j = self._target_name(kind, i, b)
        shape = self._target_shape(kind, short_name, i, j, b)
        if shape is None:
            # `example := t` is valid Lean but states nothing to prove.
            self.declarations.append(Declaration("example", None, src.span(toks[a].start, toks[b - 1].end)))
            return
        assign, stmt_end_idx, proof_first = shape
        proof_end_idx = self._proof_end(proof_first, b)

        stmt_end = toks[stmt_end_idx - 1].end
        statement_span = src.span(keyword.start, stmt_end)
        assign_span = src.span(toks[assign].start, toks[assign].end) if assign is not None else None
        proof_span, proof = self._proof_text(assign, proof_first, proof_end_idx)
        suffix = self.text[toks[proof_end_idx].start : toks[b - 1].end] if proof_end_idx < b else ""

        decl_start = toks[a].start
        sorries = tuple(src.pos(t.start) for t in toks[a:b] if t.kind is TokenKind.IDENT and t.text == "sorry")
        holes = self._holes(stmt_end_idx, b)
        if kind == "example":
            name = self.qualify(f"example_{keyword.line}")
        else:
            assert short_name is not None
            name = self.qualify(short_name)
        decl_span = src.span(decl_start, toks[b - 1].end)
        self.declarations.append(Declaration(kind, name, decl_span))
        self.theorems.append(
            TheoremDecl(
                name=name,
                short_name=short_name,
                kind=kind,
                namespace=self.namespace(),
                statement=self.text[keyword.start : stmt_end],
                proof=proof,
                sorries=sorries,
                decl_span=decl_span,
                statement_span=statement_span,
                proof_span=proof_span,
                assign_span=assign_span,
                suffix=suffix,
                doc=prefix.doc,
                attributes=tuple(prefix.attributes),
                modifiers=tuple(prefix.modifiers),
                command_prefixes=tuple(prefix.prefixes),
                holes=holes,
                proof_column=src.line_col(proof_span.start)[1] - 1 if proof_span is not None else 0,
                indent=self._line_indent(decl_start),
                source=self.text,
            )
        )

    def _target_name(self, kind: TheoremKind, i: int, b: int) -> tuple[str | None, int]:
        """The declared name after the keyword at i (None for an `example`), and the index after it."""
        toks = self.tokens
        j = i + 1
        if kind == "example":
            return None, j
        if j >= b or toks[j].kind is not TokenKind.IDENT or toks[j].text in ("where", "by"):
            raise self.src.error(toks[i].start, f"`{kind}` has no name")
        return toks[j].text, j + 1

    def _target_shape(
        self, kind: TheoremKind, short_name: str | None, i: int, j: int, b: int
    ) -> tuple[int | None, int, int | None] | None:
        """(the statement's `:=`, one past the statement's last token, the proof's first token) of the target
        whose keyword is at i and whose binders start at j; None for an `example` with no type."""
        toks, depths, src = self.tokens, self.depths, self.src
        assign = self._statement_assign(j, b)
        stmt_limit = assign if assign is not None else b
        colon = next((k for k in range(j, stmt_limit) if depths[k] == 0 and toks[k].text == ":"), None)
        if colon is None:
            if kind == "example":
                return None
            raise src.error(toks[i].start, f"`{kind} {short_name}` has no type (expected `: <statement>`)")
        equations = self._equations_start(colon, stmt_limit, b)
        if equations is not None:
            assign = None
            stmt_end_idx = equations  # statement ends before the first `|`
        else:
            stmt_end_idx = stmt_limit
        if stmt_end_idx <= colon + 1:
            raise src.error(toks[colon].start, f"`{kind}` has an empty type after `:`")
        proof_first = equations if equations is not None else (assign + 1 if assign is not None else None)
        return assign, stmt_end_idx, proof_first

    def _proof_end(self, proof_first: int | None, b: int) -> int:
        """One past the proof's last token: the first depth-0 `where`/`termination_by`/`decreasing_by`, else b."""
        if proof_first is None:
            return b
        toks, depths = self.tokens, self.depths
        for k in range(proof_first, b):
            if depths[k] == 0 and is_ident(toks[k], PROOF_SUFFIX_KEYWORDS):
                return k
        return b

    def _proof_text(self, assign: int | None, proof_first: int | None, proof_end_idx: int) -> tuple[Span | None, str]:
        """The proof's span and text; an empty span right after `:=` when nothing follows it, None without a proof."""
        if proof_first is None:
            return None, ""
        toks, src = self.tokens, self.src
        after_assign = toks[assign].end if assign is not None else toks[proof_first].start
        if proof_first < proof_end_idx:
            proof_span = src.span(toks[proof_first].start, toks[proof_end_idx - 1].end)
        else:
            proof_span = src.span(after_assign, after_assign)
        return proof_span, self.text[proof_span.start : proof_span.end]

    def _line_indent(self, offset: int) -> int:
        """Spaces before the first character of the line holding `offset` (a BOM is not indentation)."""
        return len(self._line_margin(offset))

    def _line_margin(self, offset: int) -> str:
        """The spaces and tabs that start the line holding `offset`, as written (a BOM is not indentation)."""
        line_start = self.text.rfind("\n", 0, offset) + 1
        if line_start == 0 and self.text.startswith("\ufeff"):
            line_start = 1
        line = self.text[line_start:offset]
        return line[: len(line) - len(line.lstrip(" \t"))]

    def _lead_column(self, k: int) -> int:
        """0-based column of the tactic that token k's line begins: its first token, past focusing bullets
        `·`/`.` and past an alternative's `| pattern =>` (the alternative's tactics start after it)."""
        toks = self.tokens
        j = k
        while j > 0 and toks[j - 1].line == toks[k].line:
            j -= 1
        while j < k and toks[j].kind is TokenKind.SYMBOL and toks[j].text in _BULLETS:
            j += 1
        if toks[j].text == "|":
            arrow = next(
                (m for m in range(j + 1, k) if toks[m].text == "=>" and self.depths[m] == self.depths[j]), None
            )
            if arrow is not None:
                j = arrow + 1
        return toks[j].column - 1

    def _is_tactic_position(self, k: int, floor: int) -> bool:
        """Whether token k starts a tactic (rather than a term); `floor` is the first proof token."""
        toks, depths = self.tokens, self.depths
        if k <= floor:
            return False
        prev = toks[k - 1]
        if prev.kind is TokenKind.IDENT and prev.text in _TACTIC_BEFORE:
            return True
        if prev.kind is TokenKind.SYMBOL and prev.text in _TACTIC_BEFORE_SYMBOLS:
            return True
        if prev.kind is TokenKind.SYMBOL and prev.text in _BULLETS:
            # `.` is a bullet only at the start of its line (otherwise it is field notation).
            return prev.text == "·" or k < 2 or toks[k - 2].line != prev.line
        if prev.kind is TokenKind.SYMBOL and prev.text == "=>":
            return self._arrow_opens_tactics(k - 1, floor)
        if prev.line == toks[k].line:
            return False
        if prev.kind is TokenKind.SYMBOL and prev.text not in CLOSE_BRACKETS:
            return False  # `:=`, `,`, an operator: the term goes on
        if depths[k] != 0 and not any(
            toks[m].text == "by" for m in range(k - 1, floor - 1, -1) if depths[m] == depths[k]
        ):
            return False
        # A new line in (or left of) the column of the line above starts a new tactic (`checkColEq`).
        return toks[k].column - 1 <= self._lead_column(k - 1)

    def _arrow_opens_tactics(self, arrow: int, floor: int) -> bool:
        """Whether the `=>` at `arrow` is followed by tactics (`case h =>`, an `induction ... with` arm, a
        tactic `match`) rather than a term (`fun x =>`, a term `match`)."""
        toks, depths = self.tokens, self.depths
        for m in range(arrow - 1, floor - 1, -1):
            if depths[m] != depths[arrow] or toks[m].kind is not TokenKind.IDENT:
                continue
            if toks[m].text in ("fun", "λ"):
                return False
            if toks[m].text in _ARROW_TACTIC_HEADS:
                return True
            if toks[m].text == "match":
                return self._is_tactic_position(m, floor)
        return False

    def _holes(self, first: int, b: int) -> tuple[Hole, ...]:
        toks = self.tokens
        holes: list[Hole] = []
        for k in range(first, b):
            tok = toks[k]
            if tok.kind is not TokenKind.IDENT or tok.text != "sorry":
                continue
            span = self.src.span(tok.start, tok.end)
            if self._is_tactic_position(k, first):
                holes.append(Hole(span, "tactic", tok.column - 1, len(holes), margin=self._line_margin(tok.start)))
                continue
            prev = toks[k - 1]
            nxt = toks[k + 1] if k + 1 < len(toks) else None
            bare_before = prev.text in _BARE_TERM_BEFORE
            bare_after = nxt is None or nxt.line != tok.line or nxt.text in _BARE_TERM_AFTER
            parens = not (bare_before and bare_after)
            margin = self._line_margin(tok.start)
            holes.append(Hole(span, "term", self._lead_column(k) + 2, len(holes), parens, margin))
        return tuple(holes)

    def _statement_assign(self, j: int, b: int) -> int | None:
        """The `:=` that ends the statement: the first at bracket depth 0 that no `let`/`have` of the
        type claims (`theorem t : let f := fun y => y\n  f 0 = 0 := by …`: Lean's `let`/`have` terms
        take their own `:=`, src/Lean/Parser/Term.lean `letDecl`/`haveDecl`)."""
        toks, depths = self.tokens, self.depths
        pending = 0
        for k in range(j, b):
            if depths[k] != 0:
                continue
            tok = toks[k]
            if tok.kind is TokenKind.IDENT and tok.text in _BINDING_TERMS:
                pending += 1
            elif tok.kind is TokenKind.SYMBOL and tok.text == ":=":
                if not pending:
                    return k
                pending -= 1
        return None

    def _equations_start(self, colon: int, stmt_limit: int, b: int) -> int | None:
        """The first `| pattern => ...` alternative of an equation-style proof, if the proof is one.

        A `|` counts when it starts a line at depth 0 after the type has begun and a depth-0 `=>`
        follows it before any `:=`: this tells alternatives from an absolute value `|x|` that
        happens to start a line of a multi-line statement.
        """
        toks, depths = self.tokens, self.depths
        for k in range(colon + 2, stmt_limit):
            tok = toks[k]
            if depths[k] != 0 or tok.text != "|" or toks[k - 1].line == tok.line:
                continue
            for m in range(k + 1, b):
                if depths[m] == 0 and toks[m].text == ":=":
                    break
                if depths[m] == 0 and toks[m].text == "=>":
                    return k
            return None
        return None


def parse_lean_source(text: str, path: str = "<string>") -> LeanFile:
    """Parse Lean source text. Raises `LeanParseError(path, line, column, reason)` when malformed.

    The text is kept exactly (`LeanFile.source is text`): a UTF-8 BOM and `\r\n` line endings stay, and
    every span indexes this string, so edits apply to it directly. Headers never include the BOM.
    """
    # The parse makes millions of small objects and no reference cycles: the cyclic collector would only walk
    # them again and again (its full passes grow with the heap), so it is paused while the model is built.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _Parser(text, path).parse()
    finally:
        if collecting:
            gc.enable()


def parse_lean_file(path: str | Path) -> LeanFile:
    """Parse a `.lean` file (UTF-8). Raises FileNotFoundError, or LeanParseError when malformed."""
    p = Path(path)
    data = p.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = data[: exc.start].decode("utf-8")
        line = good.count("\n") + 1
        column = len(good) - (good.rfind("\n") + 1) + 1
        raise LeanParseError(str(p), line, column, f"not valid UTF-8 (byte 0x{data[exc.start]:02x})") from None
    return parse_lean_source(text, str(p))
