"""Parse `.lean` files: the header, every theorem/lemma/example (statement, proof, `sorry`s), and
the other top-level declarations, with exact positions for rewriting proofs.

This is not Lean's parser. It lexes the file properly (`lean_env.source.lexer`) and then splits it into
top-level commands using Lean's layout conventions:

* declaration and structure keywords (`theorem`, `def`, `namespace`, `end`, ...) at bracket depth 0
  always start a new command (they cannot occur inside a term or tactic block);
* `open`, `set_option`, `#commands`, `@[...]`, doc comments and modifiers start a command only in
  column 1, since `open ... in` and `set_option ... in` are also tactics and terms;
* a command of the form `open/set_option/#guard_msgs ... in` is a prefix of the command after it.

Positions: `line`/`column` are 1-based and count code points (Lean's REPL reports 0-based columns,
so REPL column = our column - 1); `start`/`end` are offsets into the Python string; `start_byte`/
`end_byte` are UTF-8 byte offsets.
"""

from __future__ import annotations

import bisect
import gc
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, cast

from lean_env.errors import LeanParseError
from lean_env.source.edits import Edit, Span, apply_edits, dedent_script, split_steps
from lean_env.source.lexer import (
    AMBIGUOUS_COMMAND_KEYWORDS,
    CLOSE_BRACKETS,
    COMMAND_KEYWORDS,
    OPEN_BRACKETS,
    LexError,
    Token,
    TokenKind,
    check_brackets,
    tokenize,
)
from lean_env.types import Theorem, indent_block

__all__ = [
    "Declaration",
    "Edit",
    "Hole",
    "LeanFile",
    "SourcePos",
    "Span",
    "TheoremDecl",
    "apply_edits",
    "dedent_script",
    "iter_sorries",
    "pair_theorems",
    "parse_lean_file",
    "parse_lean_source",
    "line_pad",
    "render_script_at",
    "render_whole_proof",
    "replace_proof",
    "split_steps",
]

TheoremKind = Literal["theorem", "lemma", "example", "problem"]
# compfiles' `problem` (dwrensha/compfiles ProblemExtraction.lean at 0d7ea8b0a6a108792e018492223c7a488d65666a)
# is "A synonym for `theorem`": its elab_rules elaborate `$dm theorem $di $ds $dv`, so its `sorry`s are proofs to
# fill like a theorem's. Its `determine` is not a target: "A synonym for `abbrev`" whose body is data, an answer
# "a human will inspect" when judging; a `sorry` there is a choice of answer, not a proof to search for.
TARGET_KEYWORDS = frozenset({"theorem", "lemma", "example", "problem"})
OTHER_DECL_KEYWORDS = frozenset(
    {"def", "instance", "abbrev", "structure", "class", "inductive", "coinductive", "axiom", "opaque"}
    # Declarations of Batteries, Mathlib and compfiles (see lean_env.source.lexer.COMMAND_KEYWORDS): recorded
    # with their names so that the file's structure is visible; not proof targets.
    | {"alias", "proof_wanted", "open_problem", "irreducible_def", "determine"}
)
DECL_KEYWORDS = TARGET_KEYWORDS | OTHER_DECL_KEYWORDS
# `declModifiers` and `sectionHeader` (leanprover/lean4 src/Lean/Parser/Command.lean) plus the attribute
# kinds `local`/`scoped` of notation and instances: they precede the keyword of the command they modify.
MODIFIERS = frozenset(
    {"private", "public", "protected", "meta", "noncomputable", "nonrec", "unsafe", "partial", "local", "scoped"}
)
# Every command keyword (Lean core, Batteries, Mathlib, compfiles; cited in lean_env.source.lexer).
COMMAND_HEADS = COMMAND_KEYWORDS | DECL_KEYWORDS
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


@dataclass(frozen=True, slots=True)
class SourcePos:
    line: int
    column: int
    offset: int
    byte_offset: int


@dataclass(frozen=True, slots=True)
class Declaration:
    """Any top-level declaration (targets included), so callers can see the file's structure."""

    kind: str
    name: str | None  # full name (namespaces included); None for anonymous instances
    span: Span

    @property
    def line(self) -> int:
        return self.span.start_line

    @property
    def is_target(self) -> bool:
        return self.kind in TARGET_KEYWORDS


HolePosition = Literal["tactic", "term"]


@dataclass(frozen=True, slots=True)
class Hole:
    """One `sorry` of a declaration's proof: a place where a proof script goes.

    `span` is the `sorry` token exactly. `position` is "tactic" when the `sorry` stands where a tactic
    does (`· sorry`, `:= by sorry`, a line of its own in a tactic block) and "term" where a term does
    (`exact ⟨sorry, h⟩`, `have h : p := sorry`). `indent` is the column (0-based, in code points) where
    every further line of a multi-line replacement must start: the `sorry`'s own column in tactic position
    (Lean's `sepByIndent` wants the next tactic in the first one's column), the enclosing tactic's column
    + 2 in term position (a nested `by` block indented past the tactic it belongs to). `index` is the
    0-based order among the declaration's holes, in source order, which is also the order of the REPL's
    `sorries` sorted by position. `parenthesize`: a term-position replacement needs `(by …)` here
    (the `sorry` is an argument, not the whole term after `:=`, `=>`, `<|`, `(`, `⟨` or `,`).
    `margin` is the whitespace that starts the `sorry`'s line, byte for byte (a tab stays a tab): further
    lines of a replacement start with it, then spaces up to `indent` (see `line_pad`).
    """

    span: Span
    position: HolePosition
    indent: int
    index: int
    parenthesize: bool = False
    margin: str = ""


@dataclass(frozen=True, slots=True)
class TheoremDecl:
    """One theorem, lemma, example or compfiles `problem`.

    `statement` is the text from the keyword up to (not including) the top-level `:=`; `proof` is
    the text after `:=` up to the next command, a `where` clause or `termination_by`/`decreasing_by`
    (kept in `suffix`). Equation-style proofs (`| 0 => ...`, no `:=`) are in `proof` too. A
    statement with no proof at all (`proof_span is None`) is accepted: statement files such as
    Llemma's miniF2F have none.
    """

    name: str
    short_name: str | None
    kind: TheoremKind
    namespace: str
    statement: str
    proof: str
    sorries: tuple[SourcePos, ...]
    decl_span: Span  # doc comment and attributes included
    statement_span: Span
    proof_span: Span | None
    assign_span: Span | None  # the `:=` token; None for equation-style or missing proofs
    suffix: str = ""
    doc: str | None = None
    attributes: tuple[str, ...] = ()
    modifiers: tuple[str, ...] = ()
    # `set_option x v in` / `open A in` / `#guard_msgs in` before the declaration, without the `in`.
    command_prefixes: tuple[str, ...] = ()
    # Every `sorry` after the statement (proof, `where`, `decreasing_by`), in source order.
    holes: tuple[Hole, ...] = ()
    # Column (0-based) where the proof text starts in the source, for `tactic_script`.
    proof_column: int = 0
    # Spaces before the declaration on its first line (a whole new proof is indented 2 more).
    indent: int = 0
    # The whole parsed text, shared by every declaration of the file (a reference, not a copy): a file of n
    # declarations holds its text once, not n copies of growing prefixes (`header` slices it when asked).
    source: str = field(default="", repr=False, compare=False)

    @property
    def header(self) -> str:
        """All file text before the declaration (before `decl_span`, so without its doc comment and
        attributes), a BOM left out."""
        return self.source[1 if self.source.startswith("\ufeff") else 0 : self.decl_span.start]

    @property
    def has_sorry(self) -> bool:
        return bool(self.sorries)

    @property
    def line(self) -> int:
        return self.statement_span.start_line

    @property
    def has_proof(self) -> bool:
        return self.proof_span is not None

    @property
    def equation_style(self) -> bool:
        return self.proof_span is not None and self.assign_span is None

    @property
    def tactic_script(self) -> str | None:
        """The proof's tactic block without its `by`, dedented with its layout intact; None when the
        proof is not a `by` block. A first tactic written on the `by` line keeps its real column, so
        `by intro h\n  exact h` stays one (ill-laid-out) step and `:= by\n  intro h\n  exact h` is two."""
        proof = self.proof
        if not (proof.startswith("by") and (len(proof) == 2 or proof[2].isspace())):
            return None
        return dedent_script(" " * (self.proof_column + 2) + proof[2:])

    def to_theorem(self) -> Theorem:
        """A `Theorem` that re-elaborates on its own after `header` (all file text before it).

        `lemma` becomes `theorem` (plain Lean has no `lemma`), so does compfiles' `problem` (what its
        elab_rules elaborate it to, see TARGET_KEYWORDS), and an `example` becomes
        `theorem example_<line>` so that it has a name to check (`#print axioms`). Attributes and
        `#guard_msgs` are dropped; `set_option ... in`/`open ... in` prefixes are kept.
        """
        statement = self.statement
        if self.kind in ("lemma", "problem"):
            statement = "theorem" + statement[len(self.kind) :]
        elif self.kind == "example":
            statement = f"theorem {self.name.rsplit('.', 1)[-1]}" + statement[len("example") :]
        kept_prefix = "".join(f"{p} in\n" for p in self.command_prefixes if not p.startswith("#guard_msgs"))
        return Theorem(
            name=self.name,
            statement=kept_prefix + statement,
            header=self.header,
        )

    def to_json(self) -> dict[str, Any]:
        """Every field but the shared `source`: the header is the file's text before `decl_span` (written out for
        every declaration, a file's JSON would grow with the square of its length)."""
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "source":
                continue
            if isinstance(value, tuple):
                value = [asdict(v) if isinstance(v, (SourcePos, Hole)) else v for v in value]
            data[f.name] = asdict(value) if isinstance(value, Span) else value
        data["has_sorry"] = self.has_sorry
        data["line"] = self.line
        return data


@dataclass
class LeanFile:
    path: str
    source: str
    header: str
    imports: list[str]
    theorems: list[TheoremDecl]
    declarations: list[Declaration] = field(default_factory=list)

    def get(self, name: str) -> TheoremDecl:
        """The theorem with this full name, or else this short name (unique), else KeyError."""
        for thm in self.theorems:
            if thm.name == name:
                return thm
        matches = [t for t in self.theorems if t.short_name == name or t.name.endswith("." + name)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise KeyError(f"ambiguous theorem name {name!r}: {', '.join(t.name for t in matches)}")
        raise KeyError(f"no theorem, lemma or example named {name!r} in {self.path}")

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "header": self.header,
            "imports": self.imports,
            "declarations": [
                {"kind": d.kind, "name": d.name, "line": d.line, "span": asdict(d.span)} for d in self.declarations
            ],
            "theorems": [t.to_json() for t in self.theorems],
        }


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


def _depths(tokens: list[Token]) -> array[int]:
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


def _is_ident(tok: Token, words: frozenset[str] | set[str]) -> bool:
    return tok.kind is TokenKind.IDENT and tok.text in words


def _after_modifier(tokens: list[Token], depths: Sequence[int], i: int) -> bool:
    """Token i follows, on its line, what may precede a command keyword: a modifier (`private`,
    `public`, `noncomputable`, ...), a doc comment, an `@[...]` attribute block or a prefix's `in`."""
    if i == 0:
        return False
    prev = tokens[i - 1]
    if _is_ident(prev, MODIFIERS) or prev.kind is TokenKind.DOC_COMMENT or _is_ident(prev, {"in"}):
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
        return first_on_line or _after_modifier(tokens, depths, i)
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
        if _is_ident(prev, MODIFIERS) or prev.kind is TokenKind.DOC_COMMENT:
            i -= 1
            continue
        if prev.kind is TokenKind.SYMBOL and prev.text == "]":
            at = _attribute_start(tokens, depths, i - 1)
            if at is not None and at > floor:
                i = at
                continue
        break
    return i


def _command_ranges(tokens: list[Token], depths: Sequence[int]) -> list[tuple[int, int]]:
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
        if (tok.kind is TokenKind.DOC_COMMENT and tok.text.startswith("/--")) or _is_ident(tok, MODIFIERS):
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
    is_command = head is not None and (_is_ident(head, COMMAND_KEYWORDS) or head.kind is TokenKind.KEYWORD_HASH)
    return is_command and not any(_is_ident(t, DECL_KEYWORDS) for t in top)


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
        self.depths = _depths(self.tokens)
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
        for a, b in _command_ranges(self.tokens, self.depths):
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
        toks = self.tokens
        i = a
        doc: str | None = None
        attributes: list[str] = []
        modifiers: list[str] = []
        prefixes: list[str] = []
        while i < b:
            tok = toks[i]
            if tok.kind is TokenKind.DOC_COMMENT and tok.text.startswith("/--"):
                doc = tok.text
                i += 1
            elif tok.text == "@" and i + 1 < b and toks[i + 1].text == "[":
                close = self._matching(i + 1, b)
                attributes.append(self.text[toks[i + 1].end : toks[close].start].strip())
                i = close + 1
            elif _is_ident(tok, MODIFIERS):
                modifiers.append(tok.text)
                i += 1
            elif self._in_prefix_end(i, b) is not None:
                end = self._in_prefix_end(i, b)
                assert end is not None
                prefixes.append(self.text[tok.start : toks[end - 1].end])
                i = end + 1
            else:
                break
        if i >= b:
            return
        head = toks[i]
        word = head.text if head.kind is TokenKind.IDENT else ""
        if word == "import":
            self.imports.extend(t.text for t in toks[i + 1 : b] if t.kind is TokenKind.IDENT)
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
        elif word in TARGET_KEYWORDS:
            self.target(a, i, b, doc, attributes, modifiers, prefixes)
        elif word in OTHER_DECL_KEYWORDS:
            self.other_decl(a, i, b)

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
        is_command = _is_ident(tok, COMMAND_KEYWORDS) and not _is_ident(tok, DECL_KEYWORDS | MODIFIERS)
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

    def target(
        self,
        a: int,
        i: int,
        b: int,
        doc: str | None,
        attributes: list[str],
        modifiers: list[str],
        prefixes: list[str],
    ) -> None:
        toks, depths, src = self.tokens, self.depths, self.src
        keyword = toks[i]
        kind = cast(TheoremKind, keyword.text)
        j = i + 1
        short_name: str | None = None
        if kind != "example":
            if j >= b or toks[j].kind is not TokenKind.IDENT or toks[j].text in ("where", "by"):
                raise src.error(keyword.start, f"`{kind}` has no name")
            short_name = toks[j].text
            j += 1

        assign = self._statement_assign(j, b)
        stmt_limit = assign if assign is not None else b
        colon = next((k for k in range(j, stmt_limit) if depths[k] == 0 and toks[k].text == ":"), None)
        if colon is None:
            if kind == "example":
                # `example := t` is valid Lean but states nothing to prove.
                self.declarations.append(Declaration("example", None, src.span(toks[a].start, toks[b - 1].end)))
                return
            raise src.error(keyword.start, f"`{kind} {short_name}` has no type (expected `: <statement>`)")
        equations = self._equations_start(colon, stmt_limit, b)
        if equations is not None:
            assign = None
            stmt_end_idx = equations  # statement ends before the first `|`
        else:
            stmt_end_idx = stmt_limit
        if stmt_end_idx <= colon + 1:
            raise src.error(toks[colon].start, f"`{kind}` has an empty type after `:`")

        proof_first = equations if equations is not None else (assign + 1 if assign is not None else None)
        proof_end_idx = b
        if proof_first is not None:
            for k in range(proof_first, b):
                if depths[k] == 0 and _is_ident(toks[k], PROOF_SUFFIX_KEYWORDS):
                    proof_end_idx = k
                    break

        stmt_end = toks[stmt_end_idx - 1].end
        statement_span = src.span(keyword.start, stmt_end)
        assign_span = src.span(toks[assign].start, toks[assign].end) if assign is not None else None
        proof_span: Span | None = None
        proof = ""
        if proof_first is not None:
            after_assign = toks[assign].end if assign is not None else toks[proof_first].start
            if proof_first < proof_end_idx:
                proof_span = src.span(toks[proof_first].start, toks[proof_end_idx - 1].end)
            else:
                proof_span = src.span(after_assign, after_assign)
            proof = self.text[proof_span.start : proof_span.end]
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
                doc=doc,
                attributes=tuple(attributes),
                modifiers=tuple(modifiers),
                command_prefixes=tuple(prefixes),
                holes=holes,
                proof_column=src.line_col(proof_span.start)[1] - 1 if proof_span is not None else 0,
                indent=self._line_indent(decl_start),
                source=self.text,
            )
        )

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


def replace_proof(source: str, decl: TheoremDecl, new_proof_tactics: str) -> str:
    """`source` with `decl`'s proof replaced by `:= by` and the tactic script, indented 2 spaces more
    than the declaration's line; every other byte is unchanged. `decl` must come from parsing `source`."""
    script = new_proof_tactics.strip("\n")
    if not script.strip():
        raise ValueError("the new proof is empty")
    kw = decl.statement_span.start
    if source[kw : decl.statement_span.end] != decl.statement:
        raise ValueError(f"{decl.name}: the declaration does not come from this source")
    line_start = source.rfind("\n", 0, decl.decl_span.start) + 1
    base = len(source[line_start:]) - len(source[line_start:].lstrip(" \t"))
    body = "by\n" + indent_block(script, base + 2)
    if decl.assign_span is not None and decl.proof_span is not None:
        # Keep the original `:=` and whatever separated it from the statement.
        return source[: decl.assign_span.end] + " " + body + source[decl.proof_span.end :]
    end = decl.proof_span.end if decl.proof_span is not None else decl.statement_span.end
    return source[: decl.statement_span.end] + " := " + body + source[end:]


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


def iter_sorries(lean_file: LeanFile) -> Iterator[tuple[TheoremDecl, SourcePos]]:
    for thm in lean_file.theorems:
        for pos in thm.sorries:
            yield thm, pos


def pair_theorems(original: LeanFile, rewritten: LeanFile) -> dict[str, TheoremDecl]:
    """Each original theorem's name -> the same declaration in a rewritten copy of the file.

    Paired by position, since rewriting a proof shifts the line-based names of later examples;
    empty when the files no longer have the same theorems.
    """
    if [d.kind for d in original.theorems] != [d.kind for d in rewritten.theorems]:
        return {}
    return {old.name: new for old, new in zip(original.theorems, rewritten.theorems, strict=True)}
