"""A Lean 4 lexer: Lean's token rules for what the parser, the tactic filter and the verifier need.

It follows leanprover/lean4 src/Lean/Parser/Basic.lean (`tokenFn`) and src/Init/Meta/Defs.lean: nested
`/- -/` and `--` comments, doc comments; string literals with escapes, interpolated strings (`s!"…{…}"`),
raw strings (`r#"…"#`), char literals, name literals (`` `foo ``); `«»`-escaped and dotted identifiers with
every identifier character Lean accepts (`isLetterLike`, `isSubScriptAlnum`, `'`, `!`, `?`); numbers;
`#command` tokens (`#` followed by a name that is no command is `#` then the name: Mathlib's `#s`); and the
multi-character symbols that matter to the parser (`:=`, `=>`, `<;>`). Everything else is a one-character
symbol. A UTF-8 BOM opening the text is skipped. Positions are Python string offsets plus 1-based line and
column (columns count code points, as Lean does; Lean's own columns are 0-based). `COMMAND_KEYWORDS` lists
every command keyword of Lean core, Batteries, Mathlib and compfiles, with sources.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from lean_env.source.hash_commands import HASH_COMMAND_TOKENS


class TokenKind(enum.Enum):
    IDENT = "ident"
    KEYWORD_HASH = "hash"  # `#eval`, `#check`, ...: a `#` glued to an identifier
    NUMBER = "number"
    STRING = "string"
    CHAR = "char"
    NAME = "name"  # a name literal: `` `foo.bar `` or ``` ``foo ``` (the backticks included)
    SYMBOL = "symbol"
    COMMENT = "comment"  # `--` or `/- -/`
    DOC_COMMENT = "doc"  # `/-- -/` and `/-! -/`


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str
    start: int  # offset into the source string
    line: int  # 1-based
    column: int  # 1-based, in code points

    @property
    def end(self) -> int:
        """Offset just past the token (computed, not stored: a token list is the parser's largest structure)."""
        return self.start + len(self.text)


class LexError(ValueError):
    """Malformed source; `offset` is where the offending construct starts."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


OPEN_BRACKETS = {"(": ")", "[": "]", "{": "}", "⟨": "⟩", "⦃": "⦄", "⟦": "⟧", "‹": "›", "⁅": "⁆"}
CLOSE_BRACKETS = {v: k for k, v in OPEN_BRACKETS.items()}
_MULTI_SYMBOLS = (":=", "=>", "<;>", "..", "<|>", "<|", "|>.", "|>", "::")

# ----------------------------------------------------------------------------------- command keywords
#
# Every keyword that begins a command, with where it is declared. A declaration ends where Lean's next
# command begins, so a parser that misses one swallows that command into the proof above it.
#


def _words(text: str) -> list[str]:
    return text.split()


# Lean core, leanprover/lean4@00298d032c src/Lean/Parser/Command.lean (`@[builtin_command_parser]`; `gen_injective_theorems%` lexes as the
# identifier and a `%`):
_LEAN_COMMANDS = _words(
    "abbrev def theorem opaque instance axiom example inductive coinductive class structure deriving "
    "section namespace with_weak_namespace end end_local_scope variable universe assert_not_exists "
    "assert_not_imported init_quot docs_to_verso set_option attribute export import open mutual "
    "initialize builtin_initialize add_decl_doc register_tactic_tag tactic_extension recommended_spelling "
    "gen_injective_theorems include omit register_error_explanation "
    # src/Lean/Parser/Command.lean `declModifiers`/`sectionHeader` and the module header (src/Lean/Parser/
    # Module.lean: `module`, `prelude`, `public`/`meta` imports):
    "private public protected meta noncomputable unsafe partial nonrec local scoped module prelude "
    # src/Lean/Parser/Syntax.lean (`syntax`, `macro`, `elab`, mixfix and notation commands):
    "syntax macro macro_rules elab elab_rules notation infix infixl infixr prefix postfix declare_syntax_cat "
    # src/Init (`syntax … : command`): run_cmd/run_elab/run_meta, simprocs (src/Init/Simproc.lean),
    # seal/unseal, binder predicates, unification hints, grind patterns, options and simp attributes.
    "run_cmd run_elab run_meta simproc simproc_decl dsimproc dsimproc_decl builtin_simproc "
    "builtin_simproc_decl builtin_dsimproc builtin_dsimproc_decl seal unseal binder_predicate unif_hint "
    "grind_pattern register_option register_builtin_option register_simp_attr declare_simp_like_tactic "
    "declare_config_elab register_label_attr"
)
# Batteries (leanprover-community/batteries): `alias` (Batteries/Tactic/Alias.lean), `proof_wanted`/
# `open_problem` (Batteries/Util/ProofWanted.lean: `("proof_wanted" <|> "open_problem") >> declId`),
# `library_note` (Batteries/Util/LibraryNote.lean).
_BATTERIES_COMMANDS = ("alias", "proof_wanted", "open_problem", "library_note")
# Mathlib (leanprover-community/mathlib4): `lemma` (Mathlib/Tactic/Lemma.lean), `irreducible_def`
# (Mathlib/Tactic/IrreducibleDef.lean), `notation3` (Mathlib/Util/Notation3.lean), `initialize_simps_
# projections` (Mathlib/Tactic/Simps/Basic.lean), `mk_iff_of_inductive_prop`, `suppress_compilation`/
# `unsuppress_compilation`, `compile_inductive`/`compile_def`, `name_poly_vars`, `variable?`, `sudo`,
# `recall`, `whatsnew`, `count_heartbeats`, `register_hint`, `assert_no_sorry`; Aesop's rule-set commands.
_MATHLIB_COMMANDS = _words(
    "lemma irreducible_def notation3 initialize_simps_projections initialize_simps_projections? "
    "mk_iff_of_inductive_prop suppress_compilation unsuppress_compilation compile_inductive compile_def "
    "name_poly_vars variable? sudo recall whatsnew count_heartbeats register_hint assert_no_sorry "
    "add_aesop_rules erase_aesop_rules declare_aesop_rule_sets declare_bitwise_int_theorems "
    "show_panel_widgets"
)
# compfiles (dwrensha/compfiles ProblemExtraction.lean): `problem_file`, `problem` (a `theorem`),
# `determine` (an `abbrev`) and the one-token commands `snip begin` / `snip end`.
_COMPFILES_COMMANDS = ("problem_file", "problem", "determine", "snip")

COMMAND_KEYWORDS: frozenset[str] = frozenset(_LEAN_COMMANDS + list(_BATTERIES_COMMANDS) + _MATHLIB_COMMANDS) | (
    frozenset(_COMPFILES_COMMANDS)
)
# Of those, the ones that are also tactics or term syntax (`open Real in simp`, `set_option x v in tac`,
# `deriving` after a structure): they begin a command only where a command can begin (see lean_env.source.commands).
AMBIGUOUS_COMMAND_KEYWORDS = frozenset({"open", "set_option", "deriving", "local", "scoped", "meta"})

# `#` command tokens of Lean core, Batteries and Mathlib at the default pin, with provenance: `hash_commands`.
HASH_COMMANDS: frozenset[str] = HASH_COMMAND_TOKENS


def unescape_name(name: str) -> str:
    """The name as Lean resolves it: `Lean.«ofReduceBool»` -> `Lean.ofReduceBool` (`«»` only quote a
    component) and `_root_.sorryAx`, `«_root_».sorryAx` -> `sorryAx` (`_root_` only anchors resolution at the
    root namespace). Every comparison of a written name with a known one (options, axioms, command keywords)
    goes through here. A quoted component holding a dot (`«debug.skipKernelTC»`) reads as the dotted name: one
    component to Lean, so this only ever makes a refused name match more often."""
    if "«" in name:
        name = name.replace("«", "").replace("»", "")
    while name.startswith("_root_."):
        name = name[len("_root_.") :]
    return name


def name_components(name: str) -> tuple[str, ...]:
    """The components of a name as written or as Lean prints it (`Name.toString` quotes a component that is no
    plain identifier part): `Foo.«bar baz».x` -> ("Foo", "bar baz", "x"); a private name
    `_private.M.0.foo` -> ("_private", "M", "0", "foo"). A leading `_root_` is kept (the caller decides)."""
    parts: list[str] = []
    i, n = 0, len(name)
    while i <= n:
        if name.startswith("«", i):
            close = name.find("»", i + 1)
            if close == -1:
                raise LexError(i, "unterminated identifier `«`")
            parts.append(name[i + 1 : close])
            i = close + 1
        else:
            dot = name.find(".", i)
            end = n if dot == -1 else dot
            parts.append(name[i:end])
            i = end
        if i < n and name[i] == ".":
            i += 1
            continue
        break
    return tuple(parts)


def escape_component(part: str) -> str:
    """One name component as Lean source: as is when it is a plain identifier part, else `«part»`."""
    if part and is_id_first(part[0]) and all(is_id_rest(c) for c in part[1:]):
        return part
    return f"«{part}»"


def is_hash_command(name: str) -> bool:
    """Whether `#name` (without the `#`) begins with a command token rather than being `#` notation applied to `name`.

    The one answer for the lexer and the tactic filter. Lean's tokenizer takes the longest token of its table that
    begins the text (`tokenFn`, leanprover/lean4 src/Lean/Parser/Basic.lean), so `#evalx` is `#eval` then `x`, and
    `#s_1` (no token begins it) is `#` then `s_1`, Mathlib's card notation: the answer is whether a token of
    `HASH_COMMANDS` (the complete list, `lean_env.source.hash_commands`) begins `name`. `name` is compared unescaped
    (`unescape_name`), so `#«eval»` and `#_root_.eval` are taken as commands although Lean reads `#` then a name
    there (no token starts `#_root_` or `#«`), which only errs on the side of refusal."""
    name = unescape_name(name)
    return any(name.startswith(token) for token in HASH_COMMANDS)


def _is_letter_like(c: str) -> bool:
    """Lean's `isLetterLike` (leanprover/lean4@024d2419f3 src/Init/Meta/Defs.lean): Greek but `λ`, `Π`,
    `Σ`; Coptic; polytonic Greek; the letter-like block (`ℕ`, `ℝ`, ...); the mathematical alphanumerics
    (`𝒜`, `𝔽`); Latin-1 letters but `×`, `÷`; Latin Extended-A."""
    o = ord(c)
    return (
        (0x3B1 <= o <= 0x3C9 and o != 0x3BB)
        or (0x391 <= o <= 0x3A9 and o not in (0x3A0, 0x3A3))
        or (0x3CA <= o <= 0x3FB)
        or (0x1F00 <= o <= 0x1FFE)
        or (0x2100 <= o <= 0x214F)
        or (0x1D49C <= o <= 0x1D59F)
        or (0xC0 <= o <= 0xFF and o not in (0xD7, 0xF7))
        or (0x100 <= o <= 0x17F)
    )


def _is_subscript_alnum(c: str) -> bool:
    """Lean's `isSubScriptAlnum` (same file): `₀`-`₉`, `ₐ`-`ₜ`, `ᵢ`-`ᵪ` and `ⱼ`."""
    o = ord(c)
    return 0x2080 <= o <= 0x2089 or 0x2090 <= o <= 0x209C or 0x1D62 <= o <= 0x1D6A or o == 0x2C7C


def is_id_first(c: str) -> bool:
    """Lean's `isIdFirst`: ASCII letters (`Char.isAlpha` is ASCII-only in Lean), `_`, letter-like."""
    return (c.isascii() and c.isalpha()) or c == "_" or _is_letter_like(c)


def is_id_rest(c: str) -> bool:
    """Lean's `isIdRest`: `isIdFirst`, ASCII digits, `'`, `!`, `?`, subscripts."""
    return is_id_first(c) or (c.isascii() and c.isdigit()) or c in "'!?" or _is_subscript_alnum(c)


_COMMENT_KINDS = (TokenKind.COMMENT, TokenKind.DOC_COMMENT)


class _Cursor:
    """Tracks line/column while scanning: tokens come in source order, so the line only moves forward."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.line = 1
        self.line_start = 0  # offset where `line` starts
        self.scanned = 0  # newlines before this offset are counted

    def position(self, offset: int) -> tuple[int, int]:
        if offset < self.scanned:  # out of order (not the lexer's use): count afresh
            self.line, self.line_start, self.scanned = 1, 0, 0
        text = self.text
        newlines = text.count("\n", self.scanned, offset)
        if newlines:
            self.line += newlines
            self.line_start = text.rfind("\n", self.scanned, offset) + 1
        self.scanned = offset
        return self.line, offset - self.line_start + 1


def _scan_block_comment(text: str, i: int) -> int:
    """`text[i:]` starts with `/-`; return the offset just after the matching `-/` (nesting counts)."""
    depth = 0
    n = len(text)
    j = i
    while j < n:
        if text.startswith("/-", j):
            depth += 1
            j += 2
        elif text.startswith("-/", j):
            depth -= 1
            j += 2
            if depth == 0:
                return j
        else:
            j += 1
    raise LexError(i, "unterminated comment `/-`")


def _scan_string(text: str, i: int, interpolated: bool = False) -> int:
    """`text[i]` is `"`: the offset just after the closing quote.

    As Lean's `strLitFnAux`/`quotedCharCoreFn` (leanprover/lean4 src/Lean/Parser/Basic.lean): a backslash
    escapes the next character (`\\"`, `\\n`, `\\x41`, `\\u{…}`, a line-end gap), so only an unescaped `"`
    closes. In an interpolated string (`s!"…"`, `m!"…"`, `throwError "…"`: `interpolatedStrFn` in
    src/Lean/Parser/StrInterpolation.lean) an
    unescaped `{` opens a term that runs to its matching `}` and may hold strings of its own.
    """
    n = len(text)
    j = i + 1
    while j < n:
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == '"':
            return j + 1
        if c == "{" and interpolated:
            j = _scan_interpolation(text, j)
            continue
        j += 1
    raise LexError(i, 'unterminated string literal `"`')


def _scan_interpolation(text: str, i: int) -> int:
    """`text[i]` is the `{` of an interpolated string: the offset just after its matching `}`."""
    n = len(text)
    depth = 0
    j = i
    while j < n:
        c = text[j]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return j + 1
        elif c == '"':
            # A string in the term is interpolated after the keywords that take one right away (`_INTERPOLATING`);
            # the forms with arguments before the string (`throwErrorAt ref "…"`) are not told apart here.
            j = _scan_string(text, j, _word_before(text, i, j) in _INTERPOLATING)
            continue
        elif text.startswith("/-", j):
            j = _scan_block_comment(text, j)
            continue
        j += 1
    raise LexError(i, "unterminated `{` in an interpolated string")


def _word_before(text: str, lo: int, j: int) -> str:
    """The identifier characters that end, before blanks, just before `text[j]` (not before `lo`)."""
    k = j
    while k > lo and text[k - 1] in " \t\r\n":
        k -= 1
    end = k
    while k > lo and is_id_rest(text[k - 1]):
        k -= 1
    return text[k:end]


def _scan_raw_string(text: str, i: int) -> int | None:
    """A raw string `r"…"` / `r#"…"#` (any number of `#`) at i, as Lean's `isRawStrLitStart` and
    `rawStrLitFnAux` (src/Lean/Parser/Basic.lean); None if
    `text[i:]` does not start one. No escapes: it ends at the first `"` followed by as many `#`."""
    j = i + 1
    while j < len(text) and text[j] == "#":
        j += 1
    if j >= len(text) or text[j] != '"':
        return None
    closing = '"' + "#" * (j - i - 1)
    end = text.find(closing, j + 1)
    if end == -1:
        raise LexError(i, 'unterminated raw string literal `r"`')
    return end + len(closing)


def _scan_char(text: str, i: int) -> int | None:
    """A char literal `'x'` / `'\\n'` starting at i, or None when the quote is something else."""
    if text.startswith("\\", i + 1):
        close = text.find("'", i + 3)
        if close != -1 and close - i <= 12 and "\n" not in text[i:close]:
            return close + 1
        return None
    if i + 2 < len(text) and text[i + 2] == "'" and text[i + 1] != "\n":
        return i + 3
    return None


def _scan_ident(text: str, i: int) -> int | None:
    """A possibly dotted identifier starting at i (parts may be `«escaped»`); None if there is none."""
    n = len(text)
    j = i
    parts = 0
    while j < n:
        if text[j] == "«":
            close = text.find("»", j + 1)
            if close == -1:
                raise LexError(j, "unterminated identifier `«`")
            j = close + 1
        elif is_id_first(text[j]):
            j += 1
            while j < n and is_id_rest(text[j]):
                j += 1
        else:
            break
        parts += 1
        # A dot continues the name only when another name part follows immediately.
        if j + 1 < n and text[j] == "." and (text[j + 1] == "«" or is_id_first(text[j + 1])):
            j += 1
            continue
        break
    return j if parts else None


def _scan_number(text: str, i: int) -> int:
    n = len(text)
    j = i
    if text.startswith(("0x", "0X", "0b", "0B", "0o", "0O"), i):
        j = i + 2
        while j < n and (text[j].isalnum() or text[j] == "_"):
            j += 1
        return j
    while j < n and text[j].isdigit():
        j += 1
    # `1.5` is a number; `1..5` and `h.1` are not.
    if j + 1 < n and text[j] == "." and text[j + 1].isdigit():
        j += 1
        while j < n and text[j].isdigit():
            j += 1
    if j < n and text[j] in "eE" and j + 1 < n and (text[j + 1].isdigit() or text[j + 1] in "+-"):
        k = j + 1 + (text[j + 1] in "+-")
        if k < n and text[k].isdigit():
            j = k
            while j < n and text[j].isdigit():
                j += 1
    return j


# The listed exception to the complexity limit: one dispatch on the character at the cursor, the inner loop of every
# parse. Each token kind's scan is already a `_scan_*` function; splitting the dispatch would add calls per token.
def tokenize(text: str, keep_comments: bool = True, keep_doc_comments: bool | None = None) -> list[Token]:  # noqa: C901
    """Split Lean source into tokens. Raises `LexError` for unterminated comments, strings or `«»`.

    `keep_comments=False` drops comments and doc comments; `keep_doc_comments=True` keeps doc comments even then
    (what the parser reads: a `/-- … -/` belongs to the declaration after it)."""
    dropped = () if keep_comments else (TokenKind.COMMENT,) if keep_doc_comments else _COMMENT_KINDS
    cur = _Cursor(text)
    tokens: list[Token] = []
    n = len(text)
    i = 0
    # Each distinct short token text is stored once (`theorem`, `:`, `n` recur thousands of times in a file):
    # the token list's memory then grows with the number of tokens, not with copies of their text.
    seen: dict[str, str] = {}

    def emit(kind: TokenKind, end: int) -> None:
        if kind not in dropped:
            line, col = cur.position(i)
            word = text[i:end]
            if end - i <= 32:
                word = seen.setdefault(word, word)
            tokens.append(Token(kind, word, i, line, col))

    while i < n:
        c = text[i]
        if c == "\r" and not text.startswith("\r\n", i):
            # Lean's `whitespace` (lean4 src/Lean/Parser/Basic.lean at 00c1b82722b50e9b1ae4999ccc97f932b2788b51)
            # fails with "isolated carriage returns are not allowed": a `\r` outside a comment or string is
            # whitespace only before `\n` (a CRLF line end), so a file with classic-Mac line ends does not parse.
            raise LexError(i, "isolated carriage return (`\\r` not followed by `\\n`): Lean does not accept it")
        if c.isspace() or (i == 0 and c == "\ufeff"):  # a UTF-8 BOM opening the file is no token
            i += 1
            continue
        if text.startswith("--", i):
            end = text.find("\n", i)
            end = n if end == -1 else end
            emit(TokenKind.COMMENT, end)
            i = end
            continue
        if text.startswith("/-", i):
            end = _scan_block_comment(text, i)
            doc = text.startswith(("/--", "/-!"), i) and not text.startswith("/--/", i)
            emit(TokenKind.DOC_COMMENT if doc else TokenKind.COMMENT, end)
            i = end
            continue
        if c == '"':
            end = _scan_string(text, i, _opens_interpolation(tokens, text, i))
            emit(TokenKind.STRING, end)
            i = end
            continue
        if c == "r" and i + 1 < n and text[i + 1] in '"#':
            raw_end = _scan_raw_string(text, i)
            if raw_end is not None:
                emit(TokenKind.STRING, raw_end)
                i = raw_end
                continue
        if c == "`":
            # Lean's `nameLitAux`: a backtick (two for a resolved ``` ``name ```) glued to an identifier.
            k = i + 2 if text.startswith("``", i) else i + 1
            name_end = _scan_ident(text, k) if k < n and (text[k] == "«" or is_id_first(text[k])) else None
            if name_end is not None:
                emit(TokenKind.NAME, name_end)
                i = name_end
                continue
        if c == "'":
            char_end = _scan_char(text, i)
            if char_end is not None:
                emit(TokenKind.CHAR, char_end)
                i = char_end
                continue
            emit(TokenKind.SYMBOL, i + 1)
            i += 1
            continue
        if c.isdigit():
            end = _scan_number(text, i)
            emit(TokenKind.NUMBER, end)
            i = end
            continue
        if c == "«" or is_id_first(c):
            ident_end = _scan_ident(text, i)
            if ident_end is not None:
                emit(TokenKind.IDENT, ident_end)
                i = ident_end
                continue
        if c == "#" and i + 1 < n and is_id_first(text[i + 1]):
            ident_end = _scan_ident(text, i + 1)
            assert ident_end is not None
            if is_hash_command(text[i + 1 : ident_end]):
                emit(TokenKind.KEYWORD_HASH, ident_end)
                i = ident_end
                continue
            # `#s` is Mathlib's card notation: `#` then the identifier, as Lean's longest-match lexer
            # reads it when `#s` is no token of its own.
        for sym in _MULTI_SYMBOLS:
            if text.startswith(sym, i):
                emit(TokenKind.SYMBOL, i + len(sym))
                i += len(sym)
                break
        else:
            emit(TokenKind.SYMBOL, i + 1)
            i += 1
    return tokens


# Where Lean parses a string literal as an interpolated string (`interpolatedStr`, src/Lean/Parser/
# StrInterpolation.lean): exactly in the syntax declarations of Lean core that take one, all of them listed here.
# Right after the keyword:
#   `syntax:max "s!" interpolatedStr(term)`          src/Init/Data/ToString/Macro.lean (lean4@410046a92e80)
#   `syntax:max "m!" interpolatedStr(term)`          src/Lean/Message.lean
#   `syntax:max "f!" interpolatedStr(term)`          src/Init/Data/Format/Macro.lean (lean4@39f6a83fe6d0)
#   `syntax "println! " (interpolatedStr(term) <|> term)`   src/Init/System/IO.lean
#   `syntax "throwError " (interpolatedStr(term) <|> term)` src/Lean/Exception.lean (lean4@0399a5779e7e)
#   `"dbg_trace" >> (interpolatedStr termParser <|> termParser)` src/Lean/Parser/Term.lean `dbgTrace` and
#       src/Lean/Parser/Do.lean `doDbgTrace`
#   `macro "reportIssue!" s:(interpolatedStr(term) <|> term)`   src/Lean/Meta/Tactic/Grind/Types.lean
_INTERPOLATING = frozenset({"s!", "m!", "f!", "println!", "throwError", "dbg_trace", "reportIssue!"})
# After the keyword and one `term:max` (`termParser maxPrec`):
#   `syntax "throwErrorAt " term:max ppSpace (interpolatedStr(term) <|> term)` src/Lean/Exception.lean
_INTERPOLATING_AFTER_TERM = frozenset({"throwErrorAt"})
# After the keyword and an error name (`identWithPartialTrailingDot`), src/Lean/Parser/Term.lean
# `throwNamedErrorMacro`, `logNamedErrorMacro`, `logNamedWarningMacro` (the named errors of src/Lean/Log.lean):
_INTERPOLATING_AFTER_NAME = frozenset({"throwNamedError", "logNamedError", "logNamedWarning"})
# After the keyword, a `termParser maxPrec` and an error name: `throwNamedErrorAtMacro`, `logNamedErrorAtMacro`,
# `logNamedWarningAtMacro` (same file).
_INTERPOLATING_AFTER_TERM_AND_NAME = frozenset({"throwNamedErrorAt", "logNamedErrorAt", "logNamedWarningAt"})
# `macro "trace[" id:ident "]" s:(interpolatedStr(term) <|> term) : doElem` src/Lean/Util/Trace.lean
# (lean4@0336a8385b8a): this lexer reads `trace[` as `trace` glued to `[`.
# Everything else is a plain string: `logInfo`, `logWarning`, `logError`, `logInfoAt`, ... are functions taking
# `MessageData` (src/Lean/Log.lean, lean4@0514f7ca8b36), `panic! ` takes a `termParser` (src/Lean/Parser/Term.lean
# `panic`), and a name ending in `!` is a keyword only when some syntax declares it.


def _ident_is(tokens: list[Token], k: int, words: frozenset[str]) -> bool:
    return 0 <= k < len(tokens) and tokens[k].kind is TokenKind.IDENT and tokens[k].text in words


def _atom_start(tokens: list[Token], k: int) -> int | None:
    """The index of the first token of the name, literal or bracketed group that ends with `tokens[k]`."""
    tok = tokens[k]
    if tok.kind in (TokenKind.IDENT, TokenKind.NUMBER, TokenKind.STRING, TokenKind.CHAR, TokenKind.NAME):
        return k
    if tok.kind is not TokenKind.SYMBOL or tok.text not in CLOSE_BRACKETS:
        return None
    depth = 0
    for j in range(k, -1, -1):
        t = tokens[j]
        if t.kind is TokenKind.SYMBOL and t.text in CLOSE_BRACKETS:
            depth += 1
        elif t.kind is TokenKind.SYMBOL and t.text in OPEN_BRACKETS:
            depth -= 1
            if depth == 0:
                return j
    return None


def _max_term_start(tokens: list[Token], k: int) -> int | None:
    """The index of the first token of the `term:max` that ends with `tokens[k]`, or None when none does.

    A name, a literal or a bracketed term (`(← getRef)`, `⟨a, b⟩`), with the glued trailing parts Lean
    parses at max precedence: indexing `stx[0]` and projections `(f x).1`. Enough to find the argument
    between `throwErrorAt` and its string."""
    start = _atom_start(tokens, k)
    while start is not None and start >= 1:
        head, before = tokens[start], tokens[start - 1]
        if before.end != head.start:
            break
        if head.text == "[":  # `stx[0]`
            inner = _atom_start(tokens, start - 1)
        elif before.text == "." and start >= 2 and tokens[start - 2].end == before.start:  # `(f x).1`
            inner = _atom_start(tokens, start - 2)
        else:
            break
        if inner is None:
            break
        start = inner
    return start


def _opens_interpolation(tokens: list[Token], text: str, i: int) -> bool:
    """Whether the string literal at `text[i]` is an interpolated string, from the tokens before it
    (see `_INTERPOLATING`: Lean's syntax declarations that take an `interpolatedStr`)."""
    k = len(tokens) - 1
    if k < 0:
        return False
    if _ident_is(tokens, k, _INTERPOLATING):
        return True
    prev = tokens[k]
    # `trace[cls] "…"`
    if (
        prev.text == "]"
        and k >= 3
        and tokens[k - 1].kind is TokenKind.IDENT
        and tokens[k - 2].text == "["
        and _ident_is(tokens, k - 3, frozenset({"trace"}))
        and tokens[k - 3].end == tokens[k - 2].start
    ):
        return True
    if _ident_is(tokens, k - 1, _INTERPOLATING_AFTER_NAME) and prev.kind is TokenKind.IDENT:
        return True
    start = _max_term_start(tokens, k)
    if start is not None and _ident_is(tokens, start - 1, _INTERPOLATING_AFTER_TERM):
        return True
    if prev.kind is TokenKind.IDENT and k >= 1:
        start = _max_term_start(tokens, k - 1)
        if start is not None and _ident_is(tokens, start - 1, _INTERPOLATING_AFTER_TERM_AND_NAME):
            return True
    return False


def check_brackets(tokens: list[Token]) -> LexError | None:
    """The first unbalanced bracket, as an error, or None when all brackets match."""
    stack: list[Token] = []
    for tok in tokens:
        if tok.kind is not TokenKind.SYMBOL:
            continue
        if tok.text in OPEN_BRACKETS:
            stack.append(tok)
        elif tok.text in CLOSE_BRACKETS:
            if not stack:
                return LexError(tok.start, f"unmatched closing bracket `{tok.text}`")
            opener = stack.pop()
            if OPEN_BRACKETS[opener.text] != tok.text:
                return LexError(
                    tok.start,
                    f"closing bracket `{tok.text}` does not match `{opener.text}` at {opener.line}:{opener.column}",
                )
    if stack:
        return LexError(stack[-1].start, f"unclosed bracket `{stack[-1].text}`")
    return None
