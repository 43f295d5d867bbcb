"""Refuse tactics that could cheat, run arbitrary code or escape the proof, before Lean sees them.

A generated "tactic" is pasted into Lean source (whole-proof checks) or sent to the REPL's tactic
mode, so it must stay a proof step. `check_tactic` tokenises the text with the Lean lexer (comments
and string literals are ignored, so `-- sorry` or `"#eval"` are harmless) and refuses:

* giving up: `sorry`, `admit`, `stop` (= `repeat sorry`), `sorryAx`: they close goals without proof;
* trusting the compiler: `native_decide`, `decide +native`, `bv_decide`, `Lean.ofReduceBool`,
  `Lean.trustCompiler` (unless `allow_native_decide`): the kernel then trusts compiled code;
* running code: `run_tac`, `run_cmd`, `run_elab`, `run_meta`, `by_elab`, any `#command` (`#eval`,
  `#exit`, `#print`, ...), `IO.*`/`EIO`/`BaseIO`, `unsafe*`, `implemented_by`, `extern`, `initialize`;
* changing Lean itself: `set_option ... in` (e.g. `debug.skipKernelTC`, `maxHeartbeats 0`),
  `attribute [...]`, `local`/`scoped` instances, `elab`, `macro`, `syntax`, `notation`, ...,
  `Lean.Elab.*`/`Lean.Meta.*`/... meta-level access, `debug.*` options;
* escaping the proof: declaration and structure commands (`theorem`, `def`, `axiom`, `instance`,
  `namespace`, `end`, `import`, ...), an unterminated comment or string (it would swallow the
  checks that follow the proof).

Names that merely contain a refused word (`sorry_lemma`, `Nat.decide_eq_true`) are fine: only whole
tokens count. `decide`, `norm_num [Nat.factorial]`, `nlinarith [sq_nonneg (a - b)]` are fine.
"""

from __future__ import annotations

from lean_env.lexer import LexError, Token, TokenKind, tokenize

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

# Declaration keywords and file-structure commands: inside a proof they can only mean an attempt to
# end the proof early and add something to the file.
DECLARATION_KEYWORDS = frozenset(
    {
        "theorem",
        "lemma",
        "def",
        "example",
        "axiom",
        "instance",
        "abbrev",
        "opaque",
        "structure",
        "class",
        "inductive",
        "coinductive",
        "mutual",
        "namespace",
        "section",
        "end",
        "import",
        "universe",
        "variable",
        "omit",
        "include",
        "noncomputable",
        "private",
        "protected",
        "partial",
        "nonrec",
        "export",
    }
)

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
    base = name.rstrip("?!")  # `bv_decide?` is `bv_decide` asking for a suggestion
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
    """`decide +native` and `(config := {native := true})` request native evaluation."""
    tok = tokens[i]
    if tok.text != "native":
        return None
    before = tokens[i - 1].text if i > 0 else ""
    after = [t.text for t in tokens[i + 1 : i + 3]]
    if before == "+" or after == [":=", "true"]:
        return "native evaluation trusts compiled code instead of the kernel (allowed only with allow_native_decide)"
    return None


def check_tactic(tactic: str, allow_native_decide: bool = False) -> str | None:
    """The reason `tactic` is refused, or None when it may be sent to Lean. See the module docstring."""
    try:
        tokens = tokenize(tactic, keep_comments=False)
    except LexError as exc:
        return f"{exc.reason}: it would swallow the rest of the proof"
    for i, tok in enumerate(tokens):
        if tok.kind is TokenKind.KEYWORD_HASH:
            return f"`{tok.text}` is a command, not a tactic (commands can run code or escape the proof)"
        if tok.kind is not TokenKind.IDENT:
            continue
        reason = _identifier_reason(tok.text, allow_native_decide)
        if reason is None and not allow_native_decide:
            reason = _native_config_reason(tokens, i)
        if reason is not None:
            return reason
    return None


def is_allowed(tactic: str, allow_native_decide: bool = False) -> bool:
    return check_tactic(tactic, allow_native_decide) is None
