"""Refuse tactics that could cheat, run arbitrary code or escape the proof, before Lean sees them.

A generated "tactic" is pasted into Lean source (whole-proof checks) or sent to the REPL's tactic
mode, so it must stay a proof step. `check_tactic` tokenises the text with the Lean lexer (comments
and string literals are ignored, so `-- sorry` or `"#eval"` are harmless) and refuses:

* giving up: `sorry`, `admit`, `stop` (= `repeat sorry`), `sorryAx`: they close goals without proof;
* admitting: tactics that close the goal with a synthetic `sorry` when they find nothing (`apply?`,
  Mathlib's `hint`, `plausible`, the old `library_search`, the term `exact?%`; lean4#8212). A REPL
  without `proofStatus` reports the goal as solved, so they are refused before Lean sees them, like `sorry`;
* trusting the compiler: `native_decide`, `decide +native`, `bv_decide`, `Lean.ofReduceBool`,
  `Lean.trustCompiler` (unless `allow_native_decide`): the kernel then trusts compiled code;
* running code: `run_tac`, `run_cmd`, `run_elab`, `run_meta`, `by_elab`, any `#command` (`#eval`,
  `#exit`, `#print`, ...), `IO.*`/`EIO`/`BaseIO`, `unsafe*`, `implemented_by`, `extern`, `initialize`.
  `#` glued to a name that is not a command is Mathlib notation (`#s` is `Finset.card s`) and is fine;
* changing Lean itself: `set_option ... in` (e.g. `debug.skipKernelTC`, `maxHeartbeats 0`),
  `attribute [...]`, `local`/`scoped` instances, `elab`, `macro`, `syntax`, `notation`, ...,
  `Lean.Elab.*`/`Lean.Meta.*`/... meta-level access, `debug.*` options;
* escaping the proof: any command keyword of Lean, Batteries or Mathlib (`theorem`, `def`, `axiom`,
  `namespace`, `end`, `import`, `alias`, `notation3`, `irreducible_def`, `simproc_decl`,
  `proof_wanted`, ...; `DECLARATION_KEYWORDS`), wherever it stands: a tactic block ends where the tactic
  parser fails, and Lean parses what follows as commands of the file. `open` is allowed only as the
  tactic `open ... in tac`. An unterminated comment or string is refused too (it would swallow the
  checks that follow the proof).

Names are compared as Lean reads them: `«sorryAx»`, `Lean.«ofReduceBool»`, `«IO».println` and
`_root_.sorryAx` name `sorryAx`, `Lean.ofReduceBool`, `IO.println` and `sorryAx` (Lean's `«»` escapes only
quote a name component; `_root_.` only anchors the name at the root namespace).

Names that merely contain a refused word (`sorry_lemma`, `Nat.decide_eq_true`) are fine: only whole
tokens count. `decide`, `norm_num [Nat.factorial]`, `nlinarith [sq_nonneg (a - b)]` are fine.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lean_env.source.lexer import (
    COMMAND_KEYWORDS,
    HASH_COMMANDS,
    LexError,
    Token,
    TokenKind,
    is_hash_command,
    tokenize,
    unescape_name,
)

__all__ = [
    "DECLARATION_KEYWORDS",
    "HASH_COMMANDS",  # the lexer's, re-exported: one list for the lexer and the filter
    "check_tactic",
    "check_tactic_lexed",
    "is_allowed",
    "is_hash_command",
    "make_checker",
    "unescape_name",
]

_GIVE_UP = {
    "sorry": "`sorry` gives up on the goal",
    "admit": "`admit` gives up on the goal",
    "stop": "`stop` discards the rest of the proof with `sorry`",
    "sorryAx": "`sorryAx` is the axiom behind `sorry`",
}

_NATIVE = {
    "native_decide": "`native_decide` trusts compiled code instead of the kernel",
    "bv_decide": "`bv_decide` trusts compiled code (`Lean.ofReduceBool`) instead of the kernel",
    "ofReduceBool": "`ofReduceBool` trusts compiled code instead of the kernel",
    "Lean.ofReduceBool": "`Lean.ofReduceBool` trusts compiled code instead of the kernel",
    "reduceBool": "`reduceBool` trusts compiled code instead of the kernel",
    "Lean.reduceBool": "`Lean.reduceBool` trusts compiled code instead of the kernel",
    "ofReduceNat": "`ofReduceNat` trusts compiled code instead of the kernel",
    "Lean.ofReduceNat": "`Lean.ofReduceNat` trusts compiled code instead of the kernel",
    "reduceNat": "`reduceNat` trusts compiled code instead of the kernel",
    "Lean.reduceNat": "`Lean.reduceNat` trusts compiled code instead of the kernel",
    "trustCompiler": "`trustCompiler` trusts compiled code instead of the kernel",
    "Lean.trustCompiler": "`Lean.trustCompiler` trusts compiled code instead of the kernel",
}

_RUNS_CODE = "runs arbitrary code at elaboration time"
_CHANGES_LEAN = "changes Lean's environment or syntax, not the goal"
_ESCAPES = "is a command, not a tactic: it would escape the proof"

_REFUSED_WORDS: dict[str, str] = {
    "run_tac": _RUNS_CODE,
    "run_cmd": _RUNS_CODE,
    "run_elab": _RUNS_CODE,
    "run_meta": _RUNS_CODE,
    "by_elab": _RUNS_CODE,
    "unsafe": "unsafe code bypasses the kernel",
    "implemented_by": "swaps a definition for arbitrary code",
    "extern": "swaps a definition for foreign code",
    "initialize": _RUNS_CODE,
    "builtin_initialize": _RUNS_CODE,
    "set_option": "options can disable checks or limits (`debug.skipKernelTC`, `maxHeartbeats 0`)",
    "attribute": _CHANGES_LEAN,
    "local": _CHANGES_LEAN,
    "scoped": _CHANGES_LEAN,
    "elab": _CHANGES_LEAN,
    "elab_rules": _CHANGES_LEAN,
    "macro": _CHANGES_LEAN,
    "macro_rules": _CHANGES_LEAN,
    "syntax": _CHANGES_LEAN,
    "notation": _CHANGES_LEAN,
    "infix": _CHANGES_LEAN,
    "infixl": _CHANGES_LEAN,
    "infixr": _CHANGES_LEAN,
    "prefix": _CHANGES_LEAN,
    "postfix": _CHANGES_LEAN,
    "deriving": _CHANGES_LEAN,
}

# Tactics that close the goal by admitting it when they find no proof. Lean core
# `src/Lean/Elab/Tactic/LibrarySearch.lean` (leanprover/lean4@09ef1835aaa2609ad7def69237c3566d58ece8f7):
# `apply?` ends in `admitGoal goal` when no suggestion closes the goal (`exact?` throws instead, so it
# stays allowed). Mathlib `Mathlib/Tactic/Hint.lean` (leanprover-community/mathlib4@01a40a6cb0ac):
# `hint` ends in `admitGoal` when no registered tactic closes the goal. Both leave a "declaration uses
# sorry" warning that only the whole-proof check sees (lean4#8212).
# Plausible's `plausible` (formerly Mathlib's `slim_check`) closes the goal like `sorry` when its random tests find
# no counter-example (leanprover-community/plausible `Plausible/Tactic.lean`; lean-ja/lean-by-example
# `LeanByExample/Reference/Tactic/Plausible.lean` records the "declaration uses 'sorry'" warning it leaves).
_ADMITS = {
    "apply?": "`apply?` closes the goal with `sorry` when it finds no complete proof (lean4#8212)",
    "hint": "`hint` closes the goal with `sorry` when no hint tactic closes it",
    "plausible": "`plausible` closes the goal with `sorry` when it finds no counter-example",
    "slim_check": "`slim_check` closes the goal with `sorry` when it finds no counter-example",
    # Mathlib `Mathlib/Tactic/LibrarySearch.lean` (leanprover-community/mathlib4@01ad9ede56d5): the tactic ends in
    # `admitGoal goal` and `library_search%` in `mkSorry expectedType` when nothing closes the goal, with no
    # error; later Mathlib kept `library_search` as `apply?` (also `admitGoal`). `!` and `%` forms included.
    "library_search": "`library_search` (the old `apply?`) closes the goal with `sorry` when it finds no proof",
}
# The term elaborator `exact?%` (lexed as `exact?` then `%`): `mkLabeledSorry expectedType` when no lemma closes
# the goal (the same Lean core LibrarySearch.lean as `apply?`). `exact?` alone throws instead and stays allowed.
_TERM_ADMIT = ("exact?", "%")
_TERM_ADMIT_REASON = "`exact?%` elaborates to `sorry` when it finds no proof"

# Every command keyword of Lean core, Batteries, Mathlib and compfiles (`lean_env.source.lexer.COMMAND_KEYWORDS`, the one
# list, with its sources): inside a proof each can only end the tactic block early and add something to the file.
# Left out, because a rule of their own decides: `open` (the tactic `open ... in tac` is fine, `_open_reason`),
# `set_option`, `deriving`, `local`, `scoped` (refused as `_REFUSED_WORDS`, with their own reason), and `module`:
# besides the file header keyword it is Mathlib's `module` tactic (Mathlib.Tactic.Module), used in real proofs
# (compfiles Imo2013P2). Added: Lean 3's `axioms`, `universes`, `variables`, which a model trained on Lean 3
# text may still write (refusing them costs nothing).
DECLARATION_KEYWORDS = (COMMAND_KEYWORDS - {"open", "set_option", "deriving", "local", "scoped", "module"}) | {
    "axioms",
    "universes",
    "variables",
}

_REFUSED_PREFIXES: tuple[tuple[str, str], ...] = (
    ("IO.", "IO actions run arbitrary code"),
    ("EIO.", "IO actions run arbitrary code"),
    ("BaseIO.", "IO actions run arbitrary code"),
    ("debug.", "`debug.*` options disable checks"),
    ("declare_", _CHANGES_LEAN),
    ("register_", _CHANGES_LEAN),
    # Lean's own implementation namespaces: only reachable from meta code, never needed for math.
    ("Lean.Elab", "meta-level access to Lean's elaborator"),
    ("Lean.Meta", "meta-level access to Lean's elaborator"),
    ("Lean.Compiler", "meta-level access to Lean's compiler"),
    ("Lean.IR", "meta-level access to Lean's compiler"),
    ("Lean.Environment", "meta-level access to Lean's environment"),
    ("Lean.Kernel", "meta-level access to Lean's kernel"),
    ("Lean.Core", "meta-level access to Lean's elaborator"),
    ("Lean.Parser", "meta-level access to Lean's parser"),
    ("Lean.Syntax", "meta-level access to Lean's parser"),
    ("Lean.Macro", "meta-level access to Lean's elaborator"),
    ("Lean.PrettyPrinter", "meta-level access to Lean's elaborator"),
    ("Lean.Server", "meta-level access to Lean's server"),
    ("Lean.addDecl", "meta-level access to Lean's environment"),
)

_IO_NAMES = frozenset({"IO", "EIO", "BaseIO"})


def _identifier_reason(name: str, allow_native_decide: bool) -> str | None:
    """Why the identifier-like token `name` is refused, or None."""
    name = unescape_name(name)
    base = name.rstrip("?!")  # `bv_decide?` is `bv_decide` asking for a suggestion
    if name in _ADMITS or base in _ADMITS:  # `library_search!` too
        return _ADMITS.get(name) or _ADMITS[base]
    if base in _GIVE_UP:
        return _GIVE_UP[base]
    if base in _NATIVE:
        return None if allow_native_decide else f"{_NATIVE[base]} (allowed only with allow_native_decide)"
    if name in _REFUSED_WORDS:
        return f"`{name}`: {_REFUSED_WORDS[name]}"
    if name in DECLARATION_KEYWORDS:
        return f"`{name}` {_ESCAPES}"
    if name in _IO_NAMES:
        return f"`{name}`: IO actions run arbitrary code"
    for prefix, why in _REFUSED_PREFIXES:
        if name.startswith(prefix):
            return f"`{name}`: {why}"
    if any(part.startswith("unsafe") for part in name.split(".")):
        return f"`{name}`: unsafe functions bypass the kernel"
    return None


def _native_config_reason(tokens: list[Token], i: int) -> str | None:
    """`decide +native`, `(config := {native := v})` and `(native := v)` with any `v` but `false` request
    native evaluation; so may a `decide` configuration that is not a `{ … }` literal (`⟨false, true⟩`,
    `.mk false true …`: `Lean.Meta.DecideConfig`'s fields are positional there)."""
    tok = tokens[i]
    after = [t.text for t in tokens[i + 1 : i + 4]]
    if unescape_name(tok.text) == "decide" and after[:3] == ["(", "config", ":="]:
        value = tokens[i + 4].text if i + 4 < len(tokens) else ""
        if value != "{":
            return (
                "a `decide` configuration other than a `{ field := value }` literal may turn on native "
                "evaluation (allowed only with allow_native_decide)"
            )
        return None
    if unescape_name(tok.text) != "native":
        return None
    before = tokens[i - 1].text if i > 0 else ""
    if before == "+" or (after[:1] == [":="] and after[1:2] != ["false"]):
        return "native evaluation trusts compiled code instead of the kernel (allowed only with allow_native_decide)"
    return None


def _literal_reason(tok: Token) -> str | None:
    """A string or char literal Lean might read differently from this lexer, so that what looks like text is code.

    Interpolated strings (`s!"…{t}…"`, `m!`, `throwError`: `interpolatedStr` in leanprover/lean4
    src/Lean/Parser/StrInterpolation.lean) elaborate the term `t` between braces, and whether a string is
    interpolated depends on the syntax before it; raw strings (`r"…"`, `r#"…"#`: `rawStrLitFnAux` in
    src/Lean/Parser/Basic.lean) end at the first `"` where a plain string reads `\"` as an escape. A string
    with `{`, `}` or `\\`, any raw string and an escaped char literal are refused: proofs do not need them.
    """
    if tok.kind is TokenKind.STRING and (tok.text.startswith("r") or any(c in tok.text for c in "{}\\")):
        return (
            "a string literal with `{`, `}`, `\\` or a raw string: Lean may read part of it as code "
            "(interpolation, escapes), so the filter cannot see what it hides"
        )
    if tok.kind is TokenKind.CHAR and "\\" in tok.text:
        return "an escaped char literal: Lean may read it differently from the filter"
    return None


# What may stand between the tactic `open` and its `in` (Lean's `Lean.Parser.Command.openDecl` forms:
# `open A B`, `open A (x y)`, `open A hiding x`, `open A renaming x → y`, `open scoped A`).
_OPEN_WORDS = frozenset({"scoped", "hiding", "renaming"})
_OPEN_SYMBOLS = frozenset({"(", ")", "→", "->"})


def _open_reason(tokens: list[Token], i: int) -> str | None:
    """`open X in tac` is a tactic; `open X` without `in` is a command that ends the proof."""
    for tok in tokens[i + 1 :]:
        if tok.kind is TokenKind.IDENT and tok.text == "in":
            return None
        if tok.kind is TokenKind.IDENT or (tok.kind is TokenKind.SYMBOL and tok.text in _OPEN_SYMBOLS):
            continue
        break
    return f"`open` without `in` {_ESCAPES}"


def _hash_reason(tok: Token) -> str | None:
    """A `#name` token: a command (refused) or Mathlib's `#` notation applied to `name` (checked as a name)."""
    name = tok.text[1:]
    if is_hash_command(name):
        return f"`{tok.text}` is a command, not a tactic (commands can run code or escape the proof)"
    return None


def check_tactic(tactic: str, allow_native_decide: bool = False) -> str | None:
    """The reason `tactic` is refused, or None when it may be sent to Lean. See the module docstring.

    `tactic` is any proof text (one tactic or a whole multi-line script); the answer is one line.
    """
    if _surely_harmless(tactic):  # the verdict of `check_tactic_lexed`, without lexing: see "fast path"
        return None
    return check_tactic_lexed(tactic, allow_native_decide)


def check_tactic_lexed(tactic: str, allow_native_decide: bool = False) -> str | None:
    """`check_tactic` without its fast path: always lexes `tactic` (the reference the fast path is tested on)."""
    try:
        tokens = tokenize(tactic, keep_comments=False)
    except LexError as exc:
        return f"{exc.reason}: it would swallow the rest of the proof"
    for i in range(len(tokens)):
        reason = _token_reason(tokens, i, allow_native_decide)
        if reason is not None:
            return reason
    return None


def _token_reason(tokens: list[Token], i: int, allow_native_decide: bool) -> str | None:
    """Why `tokens[i]` (read with its neighbours) is refused, or None."""
    tok = tokens[i]
    if tok.kind in (TokenKind.STRING, TokenKind.CHAR):
        return _literal_reason(tok)
    if tok.kind is TokenKind.KEYWORD_HASH:
        return _hash_reason(tok) or _identifier_reason(tok.text[1:], allow_native_decide)
    if tok.kind is TokenKind.SYMBOL and tok.text == "#" and i + 1 < len(tokens):
        # A lexer that splits `#name` as Lean does (`#` then the identifier) still refuses commands.
        nxt = tokens[i + 1]
        if nxt.kind is TokenKind.IDENT and nxt.start == tok.end and is_hash_command(nxt.text):
            return f"`#{nxt.text}` is a command, not a tactic (commands can run code or escape the proof)"
        return None
    if tok.kind is not TokenKind.IDENT:
        return None
    return _ident_token_reason(tokens, i, allow_native_decide)


def _ident_token_reason(tokens: list[Token], i: int, allow_native_decide: bool) -> str | None:
    """Why the identifier `tokens[i]` is refused: a refused name, the term admit `exact?%`, `open` without
    `in`, or a native-code config that follows it."""
    tok = tokens[i]
    nxt_tok = tokens[i + 1] if i + 1 < len(tokens) else None
    if tok.text == _TERM_ADMIT[0] and nxt_tok is not None and (nxt_tok.start, nxt_tok.text) == (tok.end, "%"):
        return _TERM_ADMIT_REASON
    if tok.text == "open":
        reason = _open_reason(tokens, i)
    elif tok.text == "scoped" and i > 0 and tokens[i - 1].text == "open":
        reason = None  # `open scoped X in tac`
    else:
        reason = _identifier_reason(tok.text, allow_native_decide)
    if reason is None and not allow_native_decide:
        reason = _native_config_reason(tokens, i)
    return reason


def is_allowed(tactic: str, allow_native_decide: bool = False) -> bool:
    return check_tactic(tactic, allow_native_decide) is None


# ----------------------------------------------------------------------------- fast path
# Lexing costs tens to hundreds of microseconds per text, and a search meets mostly new texts (a
# model rarely repeats itself exactly). `_surely_harmless` proves, without lexing, that `check_tactic`
# would find nothing, and otherwise defers to it; it never refuses. Why it agrees with the lexer:
# * Everything the lexer can fail on, hide or glue starts with `"` (strings, `s!"…"`, `r"…"`),
#   `--` or `/-` (comments), `«` (escaped names) or `#` (`#commands`, `#` notation): texts with any
#   of them take the full path.
# * Every other refusal is about one identifier token T: T, or T without a trailing `?`/`!`, equals
#   a refused word; T starts with a refused prefix; or a dotted part of T starts with `unsafe`. An
#   ASCII letter or `_` is always part of an identifier (Lean's `isIdFirst`/`isIdRest`), so T's
#   maximal runs of [A-Za-z_] are maximal runs of the whole text too ("atoms"): a refused word made
#   of such runs shows up as atoms, a refused prefix as an atom's start. The atoms of every refused
#   word (digits split them: `notation3` gives `notation`) are `_SUSPICIOUS_ATOMS`; words with `?`
#   or `!` (`apply?`) are looked for as they are written. More suspicion only means more texts take
#   the full path, never another verdict; tests/test_filter_fast_path.py checks that the two paths
#   agree on every tactic of the shared proofsteps and of the adversarial table.
_ATOM = re.compile(r"[A-Za-z_]+")
_FULL_PATH_MARKS = ('"', "--", "/-", "«", "#", "'\\")  # `'\\`: escaped char literals (`_literal_reason`)
_REFUSED_NAMES = (
    *_GIVE_UP,
    *_NATIVE,
    *_REFUSED_WORDS,
    *DECLARATION_KEYWORDS,
    *_IO_NAMES,
    *_ADMITS,
    *(prefix for prefix, _ in _REFUSED_PREFIXES),
    "open",  # `open` without `in`
    "native",  # `decide +native`, `(config := {native := true})`
    "decide",  # `decide (config := ⟨false, true⟩)`: positional configs (`_native_config_reason`)
)
_QUESTION_WORDS = tuple(w for w in _REFUSED_NAMES if "?" in w or "!" in w)
_SUSPICIOUS_ATOMS = frozenset(
    atom for word in _REFUSED_NAMES if word not in _QUESTION_WORDS for atom in _ATOM.findall(word)
)
# Refused prefixes whose first atom a longer name continues (`declare_x`, `unsafeCast`): looked for
# anywhere in the text, which only sends more texts down the full path.
_SUSPICIOUS_STARTS = (
    "unsafe",
    *(p for p, _ in _REFUSED_PREFIXES if (m := _ATOM.match(p)) is not None and m.end() == len(p)),
)
_FULL_PATH_SUBSTRINGS = (*_FULL_PATH_MARKS, *_QUESTION_WORDS, *_SUSPICIOUS_STARTS, "".join(_TERM_ADMIT))
# Atoms are found on the UTF-8 bytes: every byte of a non-ASCII character is >= 0x80, so it separates
# atoms as the character does; the byte table turns every non-atom byte into a space (faster than a regex).
_ATOM_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_TO_ATOMS = bytes(c if c in _ATOM_BYTES else 0x20 for c in range(256))
_SUSPICIOUS_ATOM_BYTES = frozenset(a.encode() for a in _SUSPICIOUS_ATOMS)


def _surely_harmless(tactic: str) -> bool:
    """True only when `check_tactic` would find nothing to refuse (see the comment above)."""
    for mark in _FULL_PATH_SUBSTRINGS:
        if mark in tactic:
            return False
    return _SUSPICIOUS_ATOM_BYTES.isdisjoint(tactic.encode("utf-8", "surrogatepass").translate(_TO_ATOMS).split())


def make_checker(allow_native_decide: bool = False, memo_size: int = 1 << 16) -> Callable[[str], str | None]:
    """`check_tactic` for one search: the fast path, then the remembered verdicts of texts already lexed
    (a search meets the same few texts that need the lexer, such as `simp [Ne.def]`, in many states)."""
    memo: dict[str, str | None] = {}

    def check(tactic: str) -> str | None:
        if _surely_harmless(tactic):
            return None
        try:
            return memo[tactic]
        except KeyError:
            pass
        if len(memo) >= memo_size:
            memo.clear()
        verdict = memo[tactic] = check_tactic_lexed(tactic, allow_native_decide)
        return verdict

    return check
