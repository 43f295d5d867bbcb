"""A small Lean 4 lexer: enough of Lean's token rules to find declarations, brackets and `sorry`s.

It understands nested `/- -/` comments, `--` comments, string and char literals, `«»`-escaped and
dotted identifiers (with Lean's `'`, `!`, `?`, subscript and letter-like characters), numbers,
`#command` tokens and the multi-character symbols that matter to the parser (`:=`, `=>`, `<;>`).
Everything else is a one-character symbol. Positions are Python string offsets plus 1-based
line and column (columns count code points, as Lean does; Lean's own columns are 0-based).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class TokenKind(enum.Enum):
    IDENT = "ident"
    KEYWORD_HASH = "hash"  # `#eval`, `#check`, ...: a `#` glued to an identifier
    NUMBER = "number"
    STRING = "string"
    CHAR = "char"
    SYMBOL = "symbol"
    COMMENT = "comment"  # `--` or `/- -/`
    DOC_COMMENT = "doc"  # `/-- -/` and `/-! -/`


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str
    start: int  # offset into the source string
    end: int
    line: int  # 1-based
    column: int  # 1-based, in code points


class LexError(ValueError):
    """Malformed source; `offset` is where the offending construct starts."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


OPEN_BRACKETS = {"(": ")", "[": "]", "{": "}", "⟨": "⟩", "⦃": "⦄", "⟦": "⟧", "‹": "›", "⁅": "⁆"}
CLOSE_BRACKETS = {v: k for k, v in OPEN_BRACKETS.items()}
_MULTI_SYMBOLS = (":=", "=>", "<;>", "..", "<|>", "<|", "|>.", "|>", "::")

_SUBSCRIPTS = set("₀₁₂₃₄₅₆₇₈₉ₐₑₒₓₔₕₖₗₘₙₚₛₜᵢᵣᵤᵥⱼ") | set("ᵦᵧᵨᵩᵪ")


def _is_letter_like(c: str) -> bool:
    # Mirrors Lean's `isLetterLike`: Greek (minus λ, Π, Σ), Coptic, letter-like symbols (ℕ, ℝ, ...),
    # and the mathematical alphanumerics used for script letters.
    o = ord(c)
    return (
        (0x3B1 <= o <= 0x3C9 and o != 0x3BB)
        or (0x391 <= o <= 0x3A9 and o not in (0x3A0, 0x3A3))
        or (0x3CA <= o <= 0x3FB)
        or (0x1F00 <= o <= 0x1FFE)
        or (0x2100 <= o <= 0x214F)
        or (0x1D49C <= o <= 0x1D59F)
    )


def is_id_first(c: str) -> bool:
    # As in Lean: ASCII letters, `_` and letter-like symbols; `λ`, `Π`, `Σ` are syntax, not names.
    return (c.isascii() and c.isalpha()) or c == "_" or _is_letter_like(c)


def is_id_rest(c: str) -> bool:
    return is_id_first(c) or (c.isascii() and c.isdigit()) or c in "'!?" or c in _SUBSCRIPTS


class _Cursor:
    """Tracks line/column while scanning."""

    def __init__(self, text: str) -> None:
        self.text = text
        # Offsets where each line starts, for offset -> (line, column).
        self.line_starts = [0]
        for i, ch in enumerate(text):
            if ch == "\n":
                self.line_starts.append(i + 1)

    def position(self, offset: int) -> tuple[int, int]:
        lo, hi = 0, len(self.line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, offset - self.line_starts[lo] + 1


def line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of `offset` in `text`."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


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


def _scan_string(text: str, i: int) -> int:
    n = len(text)
    j = i + 1
    while j < n:
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == '"':
            return j + 1
        j += 1
    raise LexError(i, 'unterminated string literal `"`')


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


def tokenize(text: str, keep_comments: bool = True) -> list[Token]:
    """Split Lean source into tokens. Raises `LexError` for unterminated comments, strings or `«»`."""
    cur = _Cursor(text)
    tokens: list[Token] = []
    n = len(text)
    i = 0

    def emit(kind: TokenKind, end: int) -> None:
        if keep_comments or kind not in (TokenKind.COMMENT, TokenKind.DOC_COMMENT):
            line, col = cur.position(i)
            tokens.append(Token(kind, text[i:end], i, end, line, col))

    while i < n:
        c = text[i]
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
            end = _scan_string(text, i)
            emit(TokenKind.STRING, end)
            i = end
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
            emit(TokenKind.KEYWORD_HASH, ident_end)
            i = ident_end
            continue
        for sym in _MULTI_SYMBOLS:
            if text.startswith(sym, i):
                emit(TokenKind.SYMBOL, i + len(sym))
                i += len(sym)
                break
        else:
            emit(TokenKind.SYMBOL, i + 1)
            i += 1
    return tokens


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
