"""Parse `.lean` files: the header, every theorem/lemma/example (statement, proof, `sorry`s), and
the other top-level declarations, with exact positions for rewriting proofs.

This is not Lean's parser. It lexes the file properly (`lean_env.lexer`) and then splits it into
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

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from lean_env.errors import LeanParseError
from lean_env.lexer import CLOSE_BRACKETS, OPEN_BRACKETS, LexError, Token, TokenKind, check_brackets, tokenize
from lean_env.types import Theorem, indent_block

TheoremKind = Literal["theorem", "lemma", "example"]
TARGET_KEYWORDS = frozenset({"theorem", "lemma", "example"})
OTHER_DECL_KEYWORDS = frozenset({"def", "instance", "abbrev", "structure", "class", "inductive", "axiom", "opaque"})
DECL_KEYWORDS = TARGET_KEYWORDS | OTHER_DECL_KEYWORDS
MODIFIERS = frozenset({"private", "protected", "noncomputable", "nonrec", "unsafe", "partial", "local", "scoped"})
# Never inside a term or tactic block: always start a command at bracket depth 0.
STRUCTURE_KEYWORDS = frozenset(
    {
        "namespace",
        "section",
        "end",
        "mutual",
        "import",
        "universe",
        "variable",
        "attribute",
        "export",
        "notation",
        "infix",
        "infixl",
        "infixr",
        "prefix",
        "postfix",
        "macro",
        "macro_rules",
        "syntax",
        "elab",
        "elab_rules",
        "declare_syntax_cat",
        "initialize",
        "builtin_initialize",
    }
)
# Also tactics/terms (`open Real in simp`): a command only when they begin a line in column 1.
COLUMN1_KEYWORDS = frozenset({"open", "set_option", "omit", "include", "deriving"}) | MODIFIERS
IN_PREFIX_KEYWORDS = frozenset({"open", "set_option", "omit", "include", "variable"})
PROOF_SUFFIX_KEYWORDS = frozenset({"where", "termination_by", "decreasing_by"})


@dataclass(frozen=True)
class Span:
    """A region of the source: offsets, UTF-8 byte offsets and 1-based line/column of both ends."""

    start: int
    end: int
    start_byte: int
    end_byte: int
    start_line: int
    start_column: int
    end_line: int
    end_column: int


@dataclass(frozen=True)
class SourcePos:
    line: int
    column: int
    offset: int
    byte_offset: int


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class TheoremDecl:
    """One theorem, lemma or example.

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
    header: str
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

    def to_theorem(self) -> Theorem:
        """A `Theorem` that re-elaborates on its own after `header` (all file text before it).

        `lemma` becomes `theorem` (plain Lean has no `lemma`) and an `example` becomes
        `theorem example_<line>` so that it has a name to check (`#print axioms`). Attributes and
        `#guard_msgs` are dropped; `set_option ... in`/`open ... in` prefixes are kept.
        """
        statement = self.statement
        if self.kind == "lemma":
            statement = "theorem" + statement[len("lemma") :]
        elif self.kind == "example":
            statement = f"theorem {self.name.rsplit('.', 1)[-1]}" + statement[len("example") :]
        kept_prefix = "".join(f"{p} in\n" for p in self.command_prefixes if not p.startswith("#guard_msgs"))
        return Theorem(
            name=self.name,
            statement=kept_prefix + statement,
            header=self.header,
            metadata=(("kind", self.kind), ("line", str(self.line))),
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
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


class _Source:
    """Offsets -> positions and byte offsets for one source text."""

    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.path = path
        self._line_starts = [0]
        for i, ch in enumerate(text):
            if ch == "\n":
                self._line_starts.append(i + 1)
        self._ascii = text.isascii()

    def line_col(self, offset: int) -> tuple[int, int]:
        lo, hi = 0, len(self._line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, offset - self._line_starts[lo] + 1

    def byte(self, offset: int) -> int:
        return offset if self._ascii else len(self.text[:offset].encode("utf-8"))

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


def _depths(tokens: list[Token]) -> list[int]:
    """Bracket depth before each token (brackets are known to balance)."""
    depths: list[int] = []
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


def _is_command_head(tokens: list[Token], i: int) -> bool:
    tok = tokens[i]
    prev = tokens[i - 1] if i > 0 else None
    if tok.kind is TokenKind.IDENT:
        if tok.text in DECL_KEYWORDS:
            # `class inductive`, `deriving instance`: the first keyword is the head.
            if tok.text == "inductive" and prev is not None and prev.text == "class":
                return False
            return not (tok.text == "instance" and prev is not None and prev.text == "deriving")
        if tok.text in STRUCTURE_KEYWORDS:
            return True
        return tok.column == 1 and tok.text in COLUMN1_KEYWORDS
    if tok.column != 1:
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


def _attribute_start(tokens: list[Token], depths: list[int], close: int) -> int | None:
    """Index of the `@` opening the attribute block that ends with the `]` at `close`, if it is one."""
    j = close - 1
    while j >= 0 and depths[j] > depths[close]:
        j -= 1
    if j >= 1 and tokens[j].text == "[" and tokens[j - 1].text == "@" and tokens[j - 1].end == tokens[j].start:
        return j - 1
    return None


def _extend_back(tokens: list[Token], depths: list[int], head: int, floor: int) -> int:
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


def _command_ranges(tokens: list[Token], depths: list[int]) -> list[tuple[int, int]]:
    """Split code tokens into top-level commands: (first token, one past the last token)."""
    heads: list[int] = []
    for i in range(len(tokens)):
        if depths[i] == 0 and _is_command_head(tokens, i):
            start = _extend_back(tokens, depths, i, heads[-1] if heads else -1)
            if not heads or start > heads[-1]:
                heads.append(start)
    if not heads or heads[0] != 0:
        heads.insert(0, 0)
    ranges = [(a, b) for a, b in zip(heads, heads[1:] + [len(tokens)], strict=True) if a < b]
    # `set_option x in` + `theorem ...`, or a doc comment / `@[...]` / modifier on its own line: such
    # a prefix belongs to the command after it.
    merged: list[tuple[int, int]] = []
    for a, b in ranges:
        if merged:
            pa, pb = merged[-1]
            if _ends_with_in_prefix(tokens, depths, pa, pb) or _is_decl_prefix_only(tokens, depths, pa, pb):
                merged[-1] = (pa, b)
                continue
        merged.append((a, b))
    return merged


def _is_decl_prefix_only(tokens: list[Token], depths: list[int], a: int, b: int) -> bool:
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


def _ends_with_in_prefix(tokens: list[Token], depths: list[int], a: int, b: int) -> bool:
    """Tokens a..b are `[doc] open/set_option/#cmd ... in` with no declaration: a prefix of what follows."""
    if not (tokens[b - 1].kind is TokenKind.IDENT and tokens[b - 1].text == "in" and depths[b - 1] == 0):
        return False
    top = [t for t, d in zip(tokens[a:b], depths[a:b], strict=True) if d == 0]
    has_prefix_cmd = any(_is_ident(t, IN_PREFIX_KEYWORDS) or t.kind is TokenKind.KEYWORD_HASH for t in top)
    return has_prefix_cmd and not any(_is_ident(t, DECL_KEYWORDS) for t in top)


class _Parser:
    def __init__(self, text: str, path: str) -> None:
        self.src = _Source(text, path)
        self.text = text
        try:
            all_tokens = tokenize(text)
        except LexError as exc:
            raise self.src.error(exc.offset, exc.reason) from None
        self.tokens = [t for t in all_tokens if t.kind is not TokenKind.COMMENT]
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
        if name.startswith("_root_."):
            return name[len("_root_.") :]
        ns = self.namespace()
        return f"{ns}.{name}" if ns else name

    def parse(self) -> LeanFile:
        for a, b in _command_ranges(self.tokens, self.depths):
            self.command(a, b)
        first_decl = min((d.span.start for d in self.declarations), default=len(self.text))
        return LeanFile(
            path=self.src.path,
            source=self.text,
            header=self.text[:first_decl],
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
        if not (_is_ident(tok, IN_PREFIX_KEYWORDS) or (tok.kind is TokenKind.KEYWORD_HASH)):
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

        assign = next((k for k in range(j, b) if depths[k] == 0 and toks[k].text == ":="), None)
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
                header=self.text[:decl_start],
                decl_span=decl_span,
                statement_span=statement_span,
                proof_span=proof_span,
                assign_span=assign_span,
                suffix=suffix,
                doc=doc,
                attributes=tuple(attributes),
                modifiers=tuple(modifiers),
                command_prefixes=tuple(prefixes),
            )
        )

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
    """Parse Lean source text. Raises `LeanParseError(path, line, column, reason)` when malformed."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return _Parser(text, path).parse()


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
