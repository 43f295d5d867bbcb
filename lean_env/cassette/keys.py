"""Lookup forms: how a recorded state, tactic, statement or proof skeleton is keyed, so that texts Lean
reads alike share a key and texts Lean reads differently do not."""

from __future__ import annotations

import re

from lean_env.source.document import TARGET_KEYWORDS
from lean_env.source.lexer import LexError, TokenKind, tokenize


def without_comments(text: str) -> str:
    """`text` with every comment Lean's lexer skips turned into spaces, newlines kept, so every other character
    stays at its line and column (Lean's tactic layout is positional).

    The project's lexer reads comments as Lean does (`finishCommentBlock` in lean4 `src/Lean/Parser/Basic.lean`):
    block comments nest, `--` runs to the end of the line whatever follows it (`-- /-` opens nothing), and
    comment markers inside string literals are string. Doc comments (`/-- -/`, `/-! -/`) are syntax Lean parses,
    not skipped, so they stay. A text the lexer cannot read (an unterminated comment or string) is returned as
    written: Lean rejects it, and as written it keys no recording.

    This is the one comment rule of every replay key: step keys (`normalize_tactic`), skeleton keys
    (`skeleton_key`), statement keys (`normalize_statement`) and the steps a proof is replayed as.
    """
    if "--" not in text and "/-" not in text:
        return text
    try:
        tokens = tokenize(text, keep_comments=True)
    except LexError:
        return text
    pieces: list[str] = []
    last = 0
    for tok in tokens:
        if tok.kind is TokenKind.COMMENT:
            pieces += [text[last : tok.start], re.sub(r"[^\n]", " ", tok.text)]
            last = tok.end
    pieces.append(text[last:])
    return "".join(pieces)


def normalize_tactic(tactic: str) -> str:
    """The lookup form of a tactic: what Lean distinguishes stays distinct, layout included.

    Lean's tactic blocks are whitespace-sensitive: a newline separates tactics, and a line's column
    decides which block it belongs to (`·` bullets, `case`, `induction ... with` alternatives, `calc`
    steps, nested `by`): in leanprover/lean4 `src/Lean/Parser/Term.lean` (`Term/Basic.lean` in newer
    trees) `Tactic.tacticSeq1Indented` is `sepBy1IndentSemicolon tacticParser`, items separated by `;`
    or a newline and position-checked (`checkColGe`), and tabs are an error ("tabs are not allowed"). So `constructor\n· simp\n· ring` and its run-on form
    `constructor · simp · ring` (an error in Lean) must not share a key. Kept: newlines, the
    indentation of every line after the first (a tactic text is parsed with its first token at column
    0, by the REPL's tactic mode and by LeanDojo's `lean_dojo_repl`), tabs, and string literals.
    Dropped, because Lean ignores them: comments (`without_comments`), trailing spaces, blank lines, the first line's indentation and
    runs of spaces inside a line (one space and several separate tokens alike). One layout freedom is
    Lean's own: when every continuation line is an alternative (`| zero => …` of `induction … with`,
    `cases`, `match`, `first`), their common indentation is dropped, since alternatives are only
    checked to sit at or right of the first one (`inductionAlts` = `withPosition((colGe inductionAlt)+)`
    in `src/Init/Tactics.lean`; `matchAlts` uses `many1Indent`, i.e. `checkColGe`). So LeanDojo's
    `induction m with\n| zero => …` and the same arms indented under it share a key.
    """
    lines = [line.rstrip(" \r") for line in without_comments(tactic).split("\n")]
    lines = [line for line in lines if line.strip(" ")]
    if not lines:
        return ""
    rest = lines[1:]
    if rest and all(_ALTERNATIVE.match(line.lstrip(" ")) for line in rest):
        common = min(len(line) - len(line.lstrip(" ")) for line in rest)
        lines = [lines[0], *(line[common:] for line in rest)]
    out = []
    for number, line in enumerate(lines):
        body = line.lstrip(" ")
        indent = "" if number == 0 else line[: len(line) - len(body)]
        out.append(indent + (_collapse_spaces(body) if "  " in body else body))
    return "\n".join(out)


# A line that is one alternative of `with`/`match`/`first` (`| pat => tac`), not `|>.`, `||` or `|-`.
_ALTERNATIVE = re.compile(r"\|(?![>|\-])")


def normalize_statement(statement: str) -> str:
    """The lookup form of a statement: a term's layout and comments do not matter to Lean, so each gap between
    two tokens (whitespace or comments, newlines included) becomes one space; string literals are kept as written
    (`"a  b"` is another string). A statement holding a `by` block keeps its layout (`normalize_tactic`), since
    that block's tactics are layout-sensitive."""
    if re.search(r"(?<![\w.'])by(?![\w'!?])", statement):
        return normalize_tactic(statement)
    try:
        tokens = tokenize(statement, keep_comments=False)
    except LexError:
        return " ".join(statement.split())
    pieces: list[str] = []
    for i, tok in enumerate(tokens):
        if i and tok.start > tokens[i - 1].end:
            pieces.append(" ")
        pieces.append(tok.text)
    return "".join(pieces)


def statement_signature(statement: str) -> str:
    """What a statement states, as a key: its `… in` command prefixes (`open Nat in` and `open Real in` make
    `sqrt` different functions) and the statement after its declared name, each normalised
    (`normalize_statement`); modifiers, attributes, the keyword and the declared name left out (miniF2F aliases
    rename)."""
    try:
        tokens = tokenize(statement, keep_comments=False)
    except LexError:
        return normalize_statement(statement)
    # Mathlib's deprecated `∑ x in s, f` / `∏ x in s, f` expand to `∑ x ∈ s, f` / `∏ x ∈ s, f` (`bigsumin` /
    # `bigprodin` macro_rules, Mathlib/Algebra/BigOperators/Group/Finset.lean): the same statement.
    chars = list(statement)
    for i, tok in enumerate(tokens):
        if tok.text == "in" and i >= 2 and tokens[i - 2].text in ("∑", "∏") and tokens[i - 1].kind is TokenKind.IDENT:
            chars[tok.start : tok.end] = ["∈", ""]
    statement = "".join(chars)
    for i, tok in enumerate(tokens):
        if tok.kind is TokenKind.IDENT and tok.text in TARGET_KEYWORDS:  # compfiles' `problem` is a `theorem`
            named = tok.text != "example" and i + 1 < len(tokens) and tokens[i + 1].kind is TokenKind.IDENT
            last_in = max((k for k in range(i) if tokens[k].text == "in"), default=None)
            prefixes = "" if last_in is None else normalize_statement(statement[: tokens[last_in].end])
            return f"{prefixes}\n{normalize_statement(statement[(tokens[i + 1] if named else tok).end :])}"
    return normalize_statement(statement)


def _collapse_spaces(text: str) -> str:
    """Runs of spaces -> one space, except inside string literals (`"a  b"` is another string)."""
    if '"' not in text:
        return re.sub(" {2,}", " ", text)
    parts = re.split(r'("(?:[^"\\]|\\.)*"?)', text)  # odd indices are string literals
    return "".join(part if i % 2 else re.sub(" {2,}", " ", part) for i, part in enumerate(parts))


def normalize_state(pp: str) -> str:
    return pp.strip()


def skeleton_key(skeleton: str) -> str:
    """The lookup form of a proof skeleton: comments (`without_comments`), blank lines and trailing spaces dropped,
    lines after the first dedented by their common indentation (a skeleton means the same at any indentation of its
    declaration). So `· sorry -- todo` is the skeleton `· sorry`."""
    text = without_comments(skeleton.replace("\r\n", "\n"))
    lines = [ln.rstrip() for ln in text.strip().split("\n") if ln.strip()]
    if not lines:
        return ""
    rest = lines[1:]
    common = min((len(ln) - len(ln.lstrip(" ")) for ln in rest), default=0)
    return "\n".join([lines[0], *(ln[common:] for ln in rest)])


StepKey = tuple[str, str]


def step_key(state_pp: str, tactic: str) -> StepKey:
    return (normalize_state(state_pp), normalize_tactic(tactic))
