"""The soundness gate: a proof is "proved" only when Lean compiles it from scratch and it passes here.

`ReplVerifier` shares nothing with the search (it has its own REPL process). It rebuilds the theorem's
source (original header and statement + the proof) and appends a `#print axioms` line; the header's
imports are elaborated once per verifier process (and import set) and every check is compiled as one
command on that imports-only environment, so nothing the search or an earlier check elaborated can leak
in (see `ReplVerifier`). It rejects:

* text-level problems first (`static_check`): `sorry`/`admit`, anything the tactic filter refuses,
  commands or declarations smuggled into the proof, a proof that dedents out of its `by` block;
* a compiled source whose declarations differ from header + the one theorem, or whose statement differs;
* any error, and a "declaration uses `sorry`" warning on the theorem;
* any axiom beyond `propext`, `Classical.choice`, `Quot.sound` (`sorryAx`, `Lean.ofReduceBool`,
  `Lean.trustCompiler`, user axioms). The axiom list is read only from the info message positioned on
  the `#print axioms` line we appended, so a tactic cannot forge it; the line asks for `_root_.<full name>`
  and the listing must be printed for exactly that name (`JudgedName`), so a header constant that the open
  namespaces resolve first (`Foo.Foo.bar` inside `namespace Foo`) cannot answer for the theorem.

`verify_file` does the same for a rewritten file in one compilation, judging each named theorem by the
messages inside its own span and its own appended `#print axioms` line.

The interpretation of compile output is pure functions over REPL JSON (`judge_compile`,
`parse_axioms_message`, ...) so that tests exercise them on recorded answers.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lean_env.backends.repl import ReplEnv, ReplSettings
from lean_env.checks.verdict import Rejected, Verdict, Verified
from lean_env.errors import LeanCrashError, LeanEnvError, LeanParseError, LeanTimeoutError, ProtocolError
from lean_env.messages import LeanMessage
from lean_env.source.lexer import (
    COMMAND_KEYWORDS,
    LexError,
    TokenKind,
    escape_component,
    name_components,
    tokenize,
    unescape_name,
)
from lean_env.source.parse import TARGET_KEYWORDS
from lean_env.types import ClosingContext, Theorem, indent_block

log = logging.getLogger(__name__)

CHECKER = "lean-repl"
STANDARD_AXIOMS = frozenset({"propext", "Classical.choice", "Quot.sound"})
# Lean's native-evaluation axioms before lean4#12217 (removed in lean4#14953): `Lean.ofReduceBool`,
# `Lean.ofReduceNat` and `Lean.trustCompiler`.
NATIVE_AXIOMS = frozenset({"Lean.ofReduceBool", "Lean.ofReduceNat", "Lean.trustCompiler"})
SORRY_WARNING = "declaration uses `sorry`"
EXAMPLE_NAME = "_verify_example"

# Every form of Lean's sorry warning: ``declaration uses 'sorry'`` up to v4.27, ``declaration uses `sorry` ``
# from v4.28 (recorded in ../shared/lean_fixtures/repl_versions/), and the proposed
# ``declaration `foo` uses `sorry` `` (a name between "declaration" and "uses", in any quoting).
SORRY_WARNING_RE = re.compile(r"\bdeclaration\b(?:[^\n]*?)\buses\s+['`‘’]sorry['`‘’]")

# Native evaluation axioms. Since lean4#12217 (one axiom per native computation) `native_decide` and
# `bv_decide` assert their result with an auxiliary axiom named `<decl>._native.<tactic>.ax_<i>_<j>`
# (e.g. `foo._native.native_decide.ax_1_1`, formal-conjectures#5606) instead of `Lean.ofReduceBool`.
NATIVE_AXIOM_COMPONENT = "_native"

# Lean refuses `#print axioms` in a file with a `module` header (lean4#8174 until lean4#13117;
# `src/Lean/Elab/Print.lean`, `elabPrintAxioms`, leanprover/lean4@02637a033e9d4f8f99001e01925625452fbb77c4).
MODULE_PRINT_AXIOMS_ERROR = "cannot use `#print axioms` in a `module`"

# Longest proof text the verifier sends to Lean, in characters. The longest proofs of real benchmarks are a
# few thousand characters; a huge input only costs Lean time and memory (and LeanDojo's pty truncates long
# lines), so it is refused before Lean with one clear reason.
MAX_PROOF_CHARS = 100_000

_AXIOMS_RE = re.compile(r"^'(?P<name>.+?)' depends on axioms: \[(?P<axioms>.*)\]\s*$", re.DOTALL)
_NO_AXIOMS_RE = re.compile(r"^'(?P<name>.+?)' does not depend on any axioms\s*$", re.DOTALL)


# -- text-level checks -----------------------------------------------------------------------------


def static_check(theorem: Theorem, proof: str, allow_native_decide: bool = False) -> str | None:
    """Why `proof` (a tactic script for `theorem`) is refused before Lean sees it, or None.

    Token-level, so comments and strings do not count (`-- sorry` is fine, a lemma named
    `foo_sorry` is fine).
    """
    from lean_env.checks.tactic_filter import check_tactic

    if not proof.strip():
        return "the proof is empty"
    if len(proof) > MAX_PROOF_CHARS:
        return f"the proof is {len(proof)} characters long (the verifier accepts at most {MAX_PROOF_CHARS})"
    try:
        tokens = tokenize(proof, keep_comments=False)
    except LexError as exc:
        return f"the proof does not lex: {exc.reason}"
    if not tokens:
        return "the proof contains only comments"
    # `sorry`, `#commands` (but not `#s` card notation), command keywords, `«»`-escaped names: the filter.
    for tok in tokens:
        if tok.kind is TokenKind.SYMBOL and tok.text == "@" and _next_is(tokens, tok.end, "["):
            return f"the proof starts a new attributed declaration `@[` (line {tok.line})"
    reason = check_tactic(proof, allow_native_decide)
    if reason is not None:
        return f"the tactic filter refuses the proof: {reason}"
    last = tokens[-1]
    if last.kind is TokenKind.IDENT and unescape_name(last.text) == "in":
        # `… in` scopes the command that follows the proof (`open X in local instance …` ends that instance's
        # scope at once), so a proof ending in `in` changes what the rest of the file means.
        return f"the proof ends in `in` (line {last.line}): it would scope the command that follows it"
    return _dedent_problem(proof, tokens[0].line)


def _next_is(tokens: Sequence[Any], offset: int, text: str) -> bool:
    return any(t.start == offset and t.text == text for t in tokens)


def _dedent_problem(proof: str, first_line: int) -> str | None:
    # Lean's tactic block takes the column of its first tactic; a later line further left ends the
    # block and whatever follows is parsed as commands of the file. Continuation lines sit deeper.
    lines = _code_lines(proof)
    first = next((ln for n, ln in lines if n >= first_line), None)
    if first is None:
        return None
    column = len(first) - len(first.lstrip())
    for number, line in lines:
        if number > first_line and len(line) - len(line.lstrip()) < column:
            return f"line {number} of the proof is left of the first tactic: it would end the `by` block"
    return None


def _code_lines(text: str) -> list[tuple[int, str]]:
    """(1-based line number, line) for lines that hold code (comments blanked out, blanks dropped)."""
    chars = list(text)
    for tok in tokenize(text, keep_comments=True):
        if tok.kind in (TokenKind.COMMENT, TokenKind.DOC_COMMENT, TokenKind.STRING):
            for i in range(tok.start, tok.end):
                if chars[i] != "\n":
                    chars[i] = " " if tok.kind is not TokenKind.STRING else "x"
    out = []
    for number, line in enumerate("".join(chars).split("\n"), start=1):
        if line.strip():
            out.append((number, line.rstrip()))
    return out


def _normalize(text: str) -> str:
    return " ".join(text.split())


# -- pure interpretation of compile output ---------------------------------------------------------


def parse_axioms_message(text: str) -> tuple[str, tuple[str, ...]] | None:
    """`'NAME' depends on axioms: [a, b]` -> (NAME, (a, b)); `... does not depend ...` -> (NAME, ()).

    The format is `printAxiomsOf` in Lean's `src/Lean/Elab/Print.lean`
    (leanprover/lean4@02637a033e9d4f8f99001e01925625452fbb77c4): one info message per constant,
    ``m!"'{constName}' does not depend on any axioms"`` or ``m!"'{constName}' depends on axioms: {list}"``
    with the list sorted by `Name.lt` and printed as `[a, b, c]`; a long list wraps onto further lines.
    Anything else -> None.
    """
    text = text.strip()
    if m := _NO_AXIOMS_RE.match(text):
        return m["name"], ()
    if m := _AXIOMS_RE.match(text):
        axioms = tuple(a.strip() for a in m["axioms"].replace("\n", " ").split(",") if a.strip())
        return m["name"], axioms
    return None


@dataclass(frozen=True)
class JudgedName:
    """The full name of the judged constant, as Lean stores it: its components (`«»` quotes removed, every
    enclosing `namespace` prepended, a leading `_root_` dropped, as `mkDeclName` in lean4
    `src/Lean/Elab/DeclUtil.lean` does) and whether it is `private`.

    The appended line asks for it as `#print axioms _root_.<components>` (`print_argument`): Lean resolves a
    `#print axioms` name like any identifier (`realizeGlobalConstWithInfos` → `resolveGlobalName`,
    lean4 `src/Lean/ResolveName.lean` at leanprover/lean4@00999644a5dcef73215a44bd4098202ea2e2f539), which tries
    the open namespaces first (`resolveUsingNamespace`): inside `namespace Foo` a bare `Foo.bar` would name a
    header's `Foo.Foo.bar`. The `_root_.` form is found by `resolveExact`, which also finds the private
    `_private.<module>.0.<name>` ("We also allow `_root` when accessing private declarations"). Whatever Lean
    resolved, the answer is accepted only when the printed name (`printAxiomsOf` prints `'{constName}'`, the
    full name, lean4 `src/Lean/Elab/Print.lean` at 02637a033e9d4f8f99001e01925625452fbb77c4) is exactly this
    name, or its private form for a `private` theorem (`matches`).
    """

    components: tuple[str, ...]
    private: bool = False

    @classmethod
    def parse(cls, text: str, private: bool = False) -> JudgedName:
        parts = name_components(text)
        while len(parts) > 1 and parts[0] == "_root_":
            parts = parts[1:]
        return cls(parts, private)

    @property
    def text(self) -> str:
        return ".".join(escape_component(p) for p in self.components)

    @property
    def print_argument(self) -> str:
        return "_root_." + self.text

    def matches(self, printed: str) -> bool:
        """Whether `printed` (the name in a `#print axioms` answer) is this constant and no other."""
        try:
            return self._is(name_components(printed))
        except LexError:
            return False

    def _is(self, got: tuple[str, ...]) -> bool:
        if not self.private:
            return got == self.components
        # `mkPrivateName env n` is `_private.<main module>.0 ++ n` (lean4 `src/Lean/Modifiers.lean`).
        k = len(self.components)
        return len(got) >= k + 2 and got[0] == "_private" and got[-k - 1] == "0" and got[-k:] == self.components

    def owns_auxiliary(self, axiom: str) -> bool:
        """Whether `axiom` is an auxiliary native-evaluation axiom of this declaration,
        `<name>._native.<tactic>.ax_<i>_<j>` (lean4#12217 names them under the declaration being elaborated).
        An axiom of that shape under another name (a header's `axiom cheat._native.native_decide.ax_1_1`, or a
        header lemma's own) is not this proof's native computation."""
        try:
            got = name_components(axiom)
        except LexError:
            return False
        if NATIVE_AXIOM_COMPONENT not in got:
            return False
        i = got.index(NATIVE_AXIOM_COMPONENT)
        rest = got[i:]
        return len(rest) == 3 and rest[2].startswith("ax_") and self._is(got[:i])


def is_native_axiom(name: str) -> bool:
    """`Lean.ofReduceBool`, `Lean.trustCompiler`, or a name shaped like an auxiliary native axiom,
    `<decl>._native.<tactic>.ax_<i>_<j>` (a user axiom may bear such a name: see `JudgedName.owns_auxiliary`)."""
    try:
        parts = name_components(name)
    except LexError:
        return False
    return name in NATIVE_AXIOMS or NATIVE_AXIOM_COMPONENT in parts


def is_sorry_warning(text: str) -> bool:
    """Whether a message text is Lean's "declaration uses sorry" warning, in any release's wording."""
    return SORRY_WARNING_RE.search(text) is not None


def axiom_problem(
    axioms: Sequence[str], allow_native_decide: bool = False, judged: JudgedName | None = None
) -> str | None:
    """Why a proof depending on `axioms` is refused, or None.

    Allowed: `propext`, `Classical.choice`, `Quot.sound`; with `allow_native_decide` also Lean's native
    evaluation axioms (`NATIVE_AXIOMS`) and the auxiliary native axioms of the judged declaration `judged`
    (`JudgedName.owns_auxiliary`; with no `judged`, none). `sorryAx` and native axioms get their own reason.
    """

    def allowed(a: str) -> bool:
        if a in STANDARD_AXIOMS:
            return True
        if not allow_native_decide:
            return False
        return a in NATIVE_AXIOMS or (judged is not None and judged.owns_auxiliary(a))

    extra = [a for a in axioms if not allowed(a)]
    if not extra:
        return None
    if "sorryAx" in extra:
        return "the proof depends on `sorryAx` (it uses sorry)"
    native = [a for a in extra if is_native_axiom(a)]
    if native and allow_native_decide:
        return (
            f"the proof depends on {', '.join(native)}: named like native evaluation's auxiliary axioms, but not "
            "of the judged theorem (only its own native computations are allowed by allow_native_decide)"
        )
    if native:
        return (
            f"the proof depends on {', '.join(native)} (native_decide / compiled code is not trusted; "
            "allowed only with allow_native_decide)"
        )
    return f"the proof depends on non-standard axioms: {', '.join(extra)}"


def _line(message: Mapping[str, Any]) -> int:
    pos = message.get("pos")
    return int(pos.get("line", 0)) if isinstance(pos, dict) else 0


def _column(message: Mapping[str, Any]) -> int:
    pos = message.get("pos")
    return int(pos.get("column", -1)) if isinstance(pos, dict) else -1


def _messages(response: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [m for m in response.get("messages", []) if isinstance(m, dict)]


def judge_compile(
    response: Mapping[str, Any],
    *,
    name: str | JudgedName,
    span: tuple[int, int],
    print_line: int,
    allow_native_decide: bool = False,
    errors_anywhere: bool = True,
    outside_ok: Sequence[tuple[int, int]] = (),
    next_start: tuple[int, int] | None = None,
) -> Verdict:
    """Judge one theorem from the REPL's answer to compiling a source.

    `span` is the theorem's (first, last) line; `print_line` the line of its `#print axioms`. With
    `errors_anywhere` any error rejects; otherwise errors in `outside_ok` spans (other declarations of a
    file, judged on their own) are ignored, and errors anywhere else still reject. `next_start` is the
    (line, 0-based column) of the first token after the theorem: an error exactly there is the theorem's own
    (an unfinished proof makes Lean's parser run on into the next command and fail at its first token, as
    recorded in repl/line_breaks: "unexpected token …" at the token's position), never ignored. `name` is the
    judged constant's full name (a string is read as a public name): the listing must be for exactly it.
    A rejection carries the compile's messages (`Rejected.messages`); they never change the verdict.
    """
    verdict = _judge(
        response,
        name=name if isinstance(name, JudgedName) else JudgedName.parse(name),
        span=span,
        print_line=print_line,
        allow_native_decide=allow_native_decide,
        errors_anywhere=errors_anywhere,
        outside_ok=outside_ok,
        next_start=next_start,
    )
    if isinstance(verdict, Rejected) and not verdict.messages:
        return dataclasses.replace(verdict, messages=compile_messages(response))
    return verdict


def compile_messages(response: Mapping[str, Any]) -> tuple[LeanMessage, ...]:
    """The messages of a compile's answer as `LeanMessage`s (a shape the REPL never prints is skipped: the
    answer was judged already, and a message is information, never a verdict)."""
    out: list[LeanMessage] = []
    for raw in _messages(response):
        try:
            out.append(LeanMessage.from_json(raw))
        except ProtocolError:
            continue
    return tuple(out)


def _judge(
    response: Mapping[str, Any],
    *,
    name: JudgedName,
    span: tuple[int, int],
    print_line: int,
    allow_native_decide: bool,
    errors_anywhere: bool,
    outside_ok: Sequence[tuple[int, int]],
    next_start: tuple[int, int] | None,
) -> Verdict:
    judged = name
    if "message" in response and "env" not in response:
        return Rejected(f"the REPL refused the source: {response['message']}", CHECKER)
    messages = _messages(response)
    lo, hi = span
    for msg in messages:
        if msg.get("severity") != "error":
            continue
        line = _line(msg)
        inside = lo <= line <= hi or line == print_line
        at_next = next_start is not None and (line, _column(msg)) == next_start
        ignorable = not errors_anywhere and not inside and not at_next and any(a <= line <= b for a, b in outside_ok)
        if not ignorable:
            where = "in the theorem" if inside else "right after the theorem" if at_next else "outside the theorem"
            return Rejected(f"Lean error {where} at line {line}: {str(msg.get('data', '')).strip()}", CHECKER)
    for msg in messages:
        if msg.get("severity") == "warning" and is_sorry_warning(str(msg.get("data", ""))) and lo <= _line(msg) <= hi:
            return Rejected("Lean reports that the declaration uses `sorry`", CHECKER)
    # The REPL's own list of elaborated `sorry`s (repl `REPL/Main.lean`, the `sorries` field, each with its `pos`):
    # a layer that does not depend on the warning's wording in any release. (Only a request with
    # `"rootGoals": true` lists other goals there; the verifier never sends one.)
    for entry in response.get("sorries") or []:
        if isinstance(entry, dict) and lo <= _line(entry) <= hi:
            return Rejected(f"the REPL lists a `sorry` in the theorem at line {_line(entry)}", CHECKER)
    printed = [
        parsed
        for msg in messages
        if msg.get("severity") == "info" and _line(msg) == print_line
        if (parsed := parse_axioms_message(str(msg.get("data", "")))) is not None
    ]
    if len(printed) != 1:
        return Rejected(f"no `#print axioms` answer for {judged.text} on line {print_line}", CHECKER)
    printed_name, axioms = printed[0]
    if not judged.matches(printed_name):
        return Rejected(f"`#print axioms` answered for {printed_name!r}, not {judged.text!r}", CHECKER)
    problem = axiom_problem(axioms, allow_native_decide, judged)
    if problem is not None:
        return Rejected(problem, CHECKER)
    return Verified(CHECKER, axioms=axioms)


# -- building the sources --------------------------------------------------------------------------


def prelude_problem(source: str) -> str | None:
    """Why a source with a `prelude` header cannot be audited, or None.

    `prelude` (Lean's module header, `src/Lean/Parser/Module.lean`) stops the implicit `import Init`, so the file
    may declare root axioms named `propext`, `Quot.sound` or `Classical.choice` itself, and `#print axioms`
    (which prints names only) would list them as the standard ones.
    """
    try:
        tokens = tokenize(source, keep_comments=False)
    except LexError:
        return None
    words = [t.text for t in tokens[:2] if t.kind is TokenKind.IDENT]
    if "prelude" in words[:1] or words[:2] == ["module", "prelude"]:
        return "the file is a `prelude` (no `import Init`): its axioms may reuse the standard names"
    # `set_option debug.skipKernelTC true` (in the header or as the theorem's `… in` prefix) makes Lean add
    # declarations without the kernel's type check (`Kernel.Environment.addDecl` "respecting `debug.skipKernelTC`",
    # leanprover/lean4 src/Lean/AddDecl.lean; the option's own description warns it may compromise soundness), so a
    # clean compile would prove nothing about the proof term.
    # Every `debug.*` option is refused, as in proofs (the tactic filter): they switch checks off. Names are compared
    # as Lean reads them (`unescape_name`): `«debug».skipKernelTC` and `debug.«skipKernelTC»` are that option.
    for tok in tokens:
        if tok.kind is TokenKind.IDENT and (option := unescape_name(tok.text)).startswith("debug."):
            if option == "debug.skipKernelTC":
                return "the source sets `debug.skipKernelTC`: Lean would not type-check the proof in the kernel"
            return f"the source names the option `{option}`: `debug.*` options switch Lean's checks off"
    return None


# Commands that change how later commands are parsed or elaborated, or that run code while the file elaborates.
# `elabCommand` expands macros before elaborators (lean4 `src/Lean/Elab/Command.lean`), so a header
# `macro_rules | `(#print axioms $_x) => …` or `@[command_elab Lean.Parser.Command.printAxioms]` would turn the
# verifier's appended line into a clean-looking info message; meta code (`#eval`, `run_cmd`, `initialize`, …) can
# log such a message or change the environment. Term- and tactic-level `notation`/`macro`/`syntax` stay allowed, and
# so does a `macro_rules` whose every alternative matches an explicit `(tactic| …)`, `(term| …)` or `(conv| …)`
# quotation: a macro only rewrites syntax (`MacroM` cannot log or touch the environment), cannot reach the appended
# command, and what it does to the proof shows in the compile and the listing. `elab`/`elab_rules` of any category
# run meta code (which could log a message positioned on the appended line) and are refused, as are the
# attributes that register such code as a tactic or term elaborator.
HEADER_META_COMMANDS = frozenset(
    {"elab", "elab_rules", "declare_syntax_cat", "run_cmd", "run_elab", "run_meta", "initialize"}
    | {"builtin_initialize"}
)
# The quotation categories a header's `macro_rules` may rewrite.
_MACRO_RULES_CATEGORIES = frozenset({"tactic", "term", "conv"})
# `#` commands that evaluate code (`#eval`; Lean's `#exec`; ProofWidgets' `#html`/`#widget`; Plausible's `#sample`,
# `#test`), compared unescaped without the `#`.
HEADER_META_HASH_COMMANDS = frozenset({"eval", "eval!", "exec", "html", "widget", "sample", "test"})
# Attributes that register a command macro, elaborator or parser (also given through `attribute […] x`).
COMMAND_EXTENSION_ATTRIBUTES = frozenset(
    {"command_elab", "macro", "command_parser", "builtin_command_elab", "builtin_macro", "builtin_command_parser"}
    | {"tactic", "term_elab", "builtin_tactic", "builtin_term_elab"}
)
# Commands that declare syntax with a category: refused when the category is `command`.
_SYNTAX_COMMANDS = frozenset({"syntax", "macro"})


def _macro_rules_problem(tokens: Sequence[Any], head: int) -> bool:
    """Whether the `macro_rules` at `tokens[head]` may rewrite more than tactic, term or conv syntax: an alternative
    (`| pattern => …` at the command's own bracket depth) whose pattern is not a `(tactic| …)`-style quotation, or a
    `(kind := …)` option. The command runs to the next command keyword in column 1."""
    depth = 0
    alternatives = 0
    for k in range(head + 1, len(tokens)):
        tok = tokens[k]
        if tok.column == 1 and (tok.text == "@" or unescape_name(tok.text) in COMMAND_KEYWORDS):
            break
        if tok.kind is TokenKind.IDENT and tok.text == "kind" and depth == 1 and alternatives == 0:
            return True
        if tok.kind is TokenKind.SYMBOL and tok.text in "([{⟨⦃⟦":
            depth += 1
        elif tok.kind is TokenKind.SYMBOL and tok.text in ")]}⟩⦄⟧":
            depth -= 1
        elif tok.kind is TokenKind.SYMBOL and tok.text == "|" and depth == 0:
            alternatives += 1
            quote = [t.text for t in tokens[k + 1 : k + 5]]
            if (
                quote[:2] != ["`", "("]
                or unescape_name(quote[2] if len(quote) > 2 else "") not in (_MACRO_RULES_CATEGORIES)
                or quote[3:4] != ["|"]
            ):
                return True
    return alternatives == 0


@functools.lru_cache(maxsize=256)
def command_extension_problem(text: str, where: str, first_line: int = 1) -> str | None:
    """Why `text` (a header, or a module the header imports) may forge the verifier's appended command, or None.

    One line naming the command and `where:line` (`first_line` is the line of `text`'s first line in `where`):
    a `macro_rules` with a pattern other than a `(tactic| …)`/`(term| …)`/`(conv| …)` quotation, `declare_syntax_cat`,
    `syntax`/`macro` of category `command`, a `command_elab`/`macro`/`command_parser` attribute (in `@[…]` or
    `attribute […]`), meta code (`elab`, `elab_rules`, a `tactic`/`term_elab` attribute, `#eval`, `run_cmd`,
    `run_elab`, `run_meta`, `initialize`), and any name with a `_native` component (only Lean names
    native evaluation's auxiliary axioms so; `JudgedName.owns_auxiliary`). Every token is compared as Lean reads
    it (`unescape_name`), comments and strings ignored. Such files can still be checked with `--strict` and
    comparator, which reads the axioms from the compiled environment instead of a printed line.
    """
    try:
        tokens = tokenize(text, keep_comments=False)
    except LexError as exc:
        return f"{where}:{first_line}: does not lex ({exc.reason})"

    def refuse(tok: Any, what: str) -> str:
        return (
            f"{where}:{tok.line + first_line - 1}: `{tok.text}` {what}: the verifier cannot trust its own "
            "`#print axioms` line after it (check such files with --strict and comparator)"
        )

    bracket_depth = 0
    in_attribute: list[int] = []  # depths of open attribute brackets
    syntax_head: Any = None
    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if tok.kind is TokenKind.KEYWORD_HASH:
            if unescape_name(tok.text[1:]) in HEADER_META_HASH_COMMANDS:
                return refuse(tok, "runs code while the file elaborates")
            continue
        # `#«eval»`: Lean reads `#` then a name (no token starts `#«`); refused all the same, as the filter does.
        if (
            tok.kind is TokenKind.SYMBOL
            and tok.text == "#"
            and nxt is not None
            and nxt.start == tok.end
            and nxt.kind is TokenKind.IDENT
            and unescape_name(nxt.text) in HEADER_META_HASH_COMMANDS
        ):
            return refuse(nxt, "runs code while the file elaborates")
        if tok.kind is TokenKind.SYMBOL:
            opens_attribute = (
                tok.text == "["
                and i > 0
                and (tokens[i - 1].text == "@" or unescape_name(tokens[i - 1].text) == "attribute")
            )
            if tok.text in "([{⟨⦃⟦":
                bracket_depth += 1
                if opens_attribute:
                    in_attribute.append(bracket_depth)
            elif tok.text in ")]}⟩⦄⟧":
                if in_attribute and in_attribute[-1] == bracket_depth:
                    in_attribute.pop()
                bracket_depth -= 1
            elif (
                tok.text == ":"
                and syntax_head is not None
                and nxt is not None
                and nxt.kind is TokenKind.IDENT
                and unescape_name(nxt.text) == "command"
            ):
                return refuse(syntax_head, "declares syntax of category `command`")
            continue
        if tok.kind is not TokenKind.IDENT:
            continue
        name = unescape_name(tok.text)
        if NATIVE_AXIOM_COMPONENT in name.split("."):
            return refuse(tok, "uses a `_native` name, which only native evaluation's auxiliary axioms may bear")
        if in_attribute:
            if name in COMMAND_EXTENSION_ATTRIBUTES:
                return refuse(tok, "registers a command macro, elaborator or parser")
            continue
        if name in HEADER_META_COMMANDS:
            return refuse(tok, "changes how commands elaborate or runs code")
        if name == "macro_rules" and _macro_rules_problem(tokens, i):
            return refuse(
                tok, "may rewrite commands (only `(tactic| …)`, `(term| …)`, `(conv| …)` patterns are allowed)"
            )
        if name in _SYNTAX_COMMANDS:
            syntax_head = tok
        elif tok.column == 1 and name in COMMAND_KEYWORDS and name not in MODIFIER_KEYWORDS:
            syntax_head = None  # the syntax command ended where the next command begins
    return None


# Declaration modifiers and attribute kinds that precede a command keyword (lean4 `declModifiers`).
MODIFIER_KEYWORDS = frozenset(
    {"private", "public", "protected", "noncomputable", "unsafe", "partial", "local", "scoped"}
)


def _module_imports(text: str) -> list[str]:
    """The module names `text`'s header imports (`import M`, `public import M`, `meta import M`, `import all M`)."""
    try:
        tokens = tokenize(text, keep_comments=False)
    except LexError:
        return []
    names: list[str] = []
    expect = False
    for tok in tokens:
        if tok.kind is not TokenKind.IDENT:
            break
        if tok.text == "import":
            expect = True
        elif tok.text in ("module", "prelude", "public", "meta", "private") or (expect and tok.text == "all"):
            continue
        elif expect:
            names.append(unescape_name(tok.text))
            expect = False
        else:
            break
    return names


def _source_dirs(project: Path) -> list[Path]:
    """Where the Lake package `project` keeps its own modules: its root and every `srcDir` its lakefile names."""
    dirs = [project]
    for lakefile in ("lakefile.lean", "lakefile.toml"):
        path = project / lakefile
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            dirs += [project / d for d in re.findall(r'srcDir\s*:?=\s*"([^"]+)"', text)]
    return dirs


def user_modules(header: str, project: Path) -> list[Path]:
    """The files of the Lake package `project`'s own modules that `header` imports, transitively (a module found
    under the package's root or a `srcDir`, never under `.lake/`, where dependencies such as Mathlib live)."""
    dirs = _source_dirs(project)
    found: list[Path] = []
    queue = _module_imports(header)
    seen: set[str] = set()
    while queue:
        module = queue.pop(0)
        if module in seen:
            continue
        seen.add(module)
        relative = Path(*module.split(".")).with_suffix(".lean")
        for base in dirs:
            path = base / relative
            if path.is_file() and ".lake" not in path.parts:
                found.append(path)
                queue += _module_imports(path.read_text(encoding="utf-8", errors="replace"))
                break
    return found


def header_problem(header: str, project: Path | None = None) -> str | None:
    """Why a header cannot be trusted to leave the verifier's appended `#print axioms` alone, or None:
    `command_extension_problem` on the header and on every module of the user's own Lake package (`project`)
    it imports, transitively (`user_modules`)."""
    problem = command_extension_problem(header, "the header")
    if problem is not None or project is None:
        return problem
    for path in user_modules(header, project):
        text = path.read_text(encoding="utf-8", errors="replace")
        shown = path.relative_to(project) if path.is_relative_to(project) else path
        problem = command_extension_problem(text, str(shown))
        if problem is not None:
            return f"an imported module of the project: {problem}"
    return None


def has_module_header(source: str) -> bool:
    """Whether `source` starts (after comments) with Lean's `module` keyword (the module system, lean4#8174)."""
    try:
        tokens = tokenize(source, keep_comments=False)
    except LexError:
        return False
    return bool(tokens) and tokens[0].kind is TokenKind.IDENT and tokens[0].text == "module"


def plain_module_source(source: str) -> str:
    """`source` with its module-system syntax rewritten so that it compiles as a non-module file.

    Lean refuses `#print axioms` in a `module` (`MODULE_PRINT_AXIOMS_ERROR`), and a proof is never
    accepted without an axiom listing, so module files are checked as plain files. The rewrites follow
    the module system's syntax in Lean's `src/Lean/Parser/Module.lean` (header `module`, import
    modifiers `public`/`meta`/`private` and `import all`) and `src/Lean/Parser/Command.lean`
    (`public section`, `@[expose] public section`, the `public`/`meta` declaration modifiers),
    leanprover/lean4 as of v4.22-v4.32, and the reference manual's "The Module System" chapter:

    * `module` is dropped;
    * `public import M`, `meta import M`, `public meta import M`, `private import M`, `import all M`
      become `import M` (a plain file imports everything a module import can see);
    * `public section` and `@[expose] public section` become `section`;
    * the `public` and `meta` modifiers of declarations are dropped.

    Every rewrite blanks characters out (newlines stay), so lines and columns of everything else are
    unchanged and the judge's spans still hold. Dropping visibility only lets the file see more of its
    own and its imports' definitions; the statement and the axioms checked are the same. A source
    without a `module` header is returned unchanged.
    """
    if not has_module_header(source):
        return source
    tokens = tokenize(source, keep_comments=False)
    chars = list(source)

    def blank(start: int, end: int) -> None:
        for i in range(start, end):
            if chars[i] != "\n":
                chars[i] = " "

    blank(tokens[0].start, tokens[0].end)  # `module`
    for i, tok in enumerate(tokens):
        if tok.kind is not TokenKind.IDENT:
            continue
        nxt = tokens[i + 1].text if i + 1 < len(tokens) else ""
        prev = tokens[i - 1].text if i > 0 else ""
        modifier = tok.text in ("public", "meta") or (tok.text == "private" and nxt == "import")
        if modifier or (tok.text == "all" and prev == "import"):
            blank(tok.start, tok.end)
        elif tok.text == "expose" and i >= 2 and tokens[i - 1].text == "[" and tokens[i - 2].text == "@":
            # `@[expose] public noncomputable meta section`: lean4 `src/Lean/Parser/Command.lean` `sectionHeader` is
            # `optional ("@[" >> nonReservedSymbol "expose" >> "] ") >> optional "public " >>
            # optional "noncomputable " >> optional "meta "` before "section" (leanprover/lean4@00298d032c); the
            # attribute only exists for module sections, `public`/`meta` are blanked above, `noncomputable` stays.
            k = i + 2
            while k < len(tokens) and tokens[k].text in ("public", "noncomputable", "meta"):
                k += 1
            if i + 1 < len(tokens) and tokens[i + 1].text == "]" and k < len(tokens) and tokens[k].text == "section":
                blank(tokens[i - 2].start, tokens[i + 1].end)
    return "".join(chars)


@dataclass(frozen=True)
class CheckSource:
    """A source to compile and where to look in the answer."""

    text: str
    name: JudgedName
    span: tuple[int, int]
    print_line: int


def prepare_check(
    theorem: Theorem, proof: str, allow_native_decide: bool = False, helpers: str = ""
) -> CheckSource | Rejected:
    """The source to compile for `proof` of `theorem`, or why it is refused before Lean sees it
    (`static_check`, then `build_check_source`); every Lean-compiling verifier starts here. `helpers`: helper
    lemmas a whole-proof model wrote before the theorem (`helper_declarations_problem` judges them)."""
    problem = static_check(theorem, proof, allow_native_decide)
    if problem is not None:
        return Rejected(problem, CHECKER)
    if helpers.strip() and (problem := helper_declarations_problem(helpers, theorem.statement, allow_native_decide)):
        return Rejected(problem, CHECKER)
    try:
        return build_check_source(theorem, proof, helpers)
    except (ValueError, LexError) as exc:
        return Rejected(str(exc), CHECKER)


def build_check_source(theorem: Theorem, proof: str, helpers: str = "") -> CheckSource:
    """Header (+ `helpers`) + statement + proof + `#print axioms`, after checking the parse has no surprises.

    Raises `ValueError` (one line) when the assembled text does not parse as header declarations plus
    exactly this theorem with this statement, ending with the proof, or when `helpers` (declarations placed
    between the header and the theorem) are not plain fresh lemmas (`helper_declarations_problem`).
    """
    from lean_env.source.parse import parse_lean_source

    problem = prelude_problem(f"{theorem.header}\n{helpers}\n{theorem.statement}")
    if problem is None and helpers.strip():
        problem = helper_declarations_problem(helpers, theorem.statement)
    if problem is not None:
        raise ValueError(problem)
    header = f"{theorem.header.rstrip()}\n\n{helpers.strip(chr(10))}\n" if helpers.strip() else theorem.header
    statement = _nameable_statement(theorem.statement)
    body = Theorem(theorem.name, statement, header=header).source_with_proof(proof)
    try:
        header_decls = len(parse_lean_source(header, "<header>").declarations)
        compiled = parse_lean_source(body, "<proof>")
    except LeanParseError as exc:
        raise ValueError(f"the source with the proof does not parse: {exc}") from None
    if len(compiled.declarations) != header_decls + 1 or not compiled.theorems:
        raise ValueError("the proof adds or removes declarations")
    decl = compiled.theorems[-1]
    if _normalize(_strip_in_prefixes(decl.statement)) != _normalize(_strip_in_prefixes(statement)):
        raise ValueError(f"the compiled statement differs from the original: {decl.statement!r}")
    # Comments are whitespace to Lean: `omega -- linear arithmetic` or a last line `-- done` end the proof too.
    if decl.proof_span is None or decl.suffix.strip() or tokenize(body[decl.proof_span.end :], keep_comments=False):
        raise ValueError("text follows the proof outside its `by` block")
    print_line = body.count("\n") + 1
    first_line = decl.decl_span.start_line
    # `#print axioms` is refused in a module: Lean compiles the same text as a plain file (same lines, so the
    # spans above still hold); the checks above ran on the text as written.
    judged = judged_name(decl)
    text = plain_module_source(body) + f"#print axioms {judged.print_argument}\n"
    return CheckSource(text, judged, (first_line, print_line - 1), print_line)


def judged_name(decl: Any) -> JudgedName:
    """The full name Lean gives a parsed theorem (`lean_env.source.parse.TheoremDecl`): the parser's name
    (namespaces prepended, `_root_` dropped) and its `private` modifier."""
    return JudgedName.parse(str(decl.name), private="private" in getattr(decl, "modifiers", ()))


# What may make up a helper declaration's head: `theorem`/`lemma` only (`HELPER_KEYWORDS`); every other command
# keyword before the judged theorem (`def`, `instance`, `abbrev`, `notation`, `open`, `set_option`, `attribute`,
# `local`, `scoped`, modifiers, ...) could change what the unchanged statement text means or what Lean checks.
HELPER_KEYWORDS = frozenset({"theorem", "lemma"})


def helper_declarations_problem(helpers: str, statement: str, allow_native_decide: bool = False) -> str | None:
    """Why `helpers`, the declarations a whole-proof model wrote before the judged theorem, are refused, or None.

    Accepted: only a sequence of attribute-free `theorem`/`lemma` declarations (comments allowed), each
    `theorem NAME binders : type := proof`, whose name is fresh: no component of it (as Lean reads it,
    `unescape_name`) is a component of any name in `statement`, so a helper cannot shadow what the statement
    refers to (inside a namespace `theorem foo` would be found before a root `foo`). Each helper's type and proof
    must pass the tactic filter (no `sorry`, no command keyword, no `set_option`, ...). Refused: any other command
    (`def`, `instance`, `abbrev`, `notation`, `open`, `set_option`, `attribute`, `variable`, ...), attributes
    (`@[simp]`: a new simp lemma or instance changes what tactics and elaboration of the statement do),
    modifiers (`local`, `scoped`, `private`, `noncomputable`, ...), `… in` prefixes, `where`/`termination_by`/
    `decreasing_by` clauses and equation-style proofs. Text with no declaration at all is fine (None).
    The verifier applies it to the text it places between the header and the theorem (`build_check_source`'s
    `helpers`); a whole-proof generator that keeps such a block calls it to decide whether to keep it.
    """
    from lean_env.checks.tactic_filter import check_tactic

    try:
        tokens = tokenize(helpers, keep_comments=False)
        statement_tokens = tokenize(statement, keep_comments=False)
    except LexError as exc:
        return f"the declarations before the theorem do not lex: {exc.reason}"
    if not tokens:
        return None
    heads = [i for i, t in enumerate(tokens) if t.kind is TokenKind.IDENT and unescape_name(t.text) in HELPER_KEYWORDS]
    if not heads or heads[0] != 0:
        first = tokens[0]
        return (
            f"only attribute-free `theorem`/`lemma` declarations may precede the theorem, not `{first.text}` "
            f"(line {first.line})"
        )
    used = {
        part
        for t in statement_tokens
        if t.kind in (TokenKind.IDENT, TokenKind.KEYWORD_HASH)
        for part in unescape_name(t.text.lstrip("#")).split(".")
    }
    for n, start in enumerate(heads):
        chunk = tokens[start : heads[n + 1] if n + 1 < len(heads) else len(tokens)]
        where = f"the declaration before the theorem at line {chunk[0].line}"
        if len(chunk) < 2 or chunk[1].kind is not TokenKind.IDENT:
            return f"{where} has no name"
        name = unescape_name(chunk[1].text)
        clash = sorted(set(name.split(".")) & used)
        if clash:
            return (
                f"{where} is named `{name}`, which shadows `{clash[0]}` of the statement: a helper needs a fresh name"
            )
        depth, assign = 0, None
        for k, tok in enumerate(chunk):
            if tok.kind is TokenKind.SYMBOL and tok.text in "([{⟨⦃⟦":
                depth += 1
            elif tok.kind is TokenKind.SYMBOL and tok.text in ")]}⟩⦄⟧":
                depth -= 1
            elif depth == 0 and tok.kind is TokenKind.SYMBOL and tok.text == ":=" and assign is None:
                assign = k
            if tok.kind is TokenKind.SYMBOL and tok.text == "@" and k + 1 < len(chunk) and chunk[k + 1].text == "[":
                return f"{where} is followed by an attribute `@[` (line {tok.line}): helpers must be attribute-free"
            if depth == 0 and tok.kind is TokenKind.IDENT and tok.text in ("where", "termination_by", "decreasing_by"):
                return f"{where} has a `{tok.text}` clause (line {tok.line}): helpers are plain theorems"
        if assign is None:
            return f"{where} has no `:= proof`"
        if chunk[-1].kind is TokenKind.IDENT and chunk[-1].text == "in":
            return f"{where} ends in `in` (line {chunk[-1].line}): it would scope a command over what follows"
        for part in (
            helpers[chunk[2].start : chunk[assign].start] if assign > 2 else "",
            helpers[chunk[assign].end : chunk[-1].end],
        ):
            reason = check_tactic(part, allow_native_decide) if part.strip() else None
            if reason is not None:
                return f"{where} is refused: {reason}"
    return None


def _strip_in_prefixes(statement: str) -> str:
    """The statement from its keyword on: `to_theorem` keeps `set_option ... in`/`open ... in` prefixes in the
    statement, the parser reports them apart. The keyword is any target's (`TARGET_KEYWORDS`: `theorem`, `lemma`,
    `example` and compfiles' `problem`)."""
    tokens = tokenize(statement, keep_comments=False)
    for tok in tokens:
        if tok.kind is TokenKind.IDENT and tok.text in TARGET_KEYWORDS:
            return statement[tok.start :]
    return statement


def _nameable_statement(statement: str) -> str:
    """`example : P` gets a name so `#print axioms` can ask about it; other statements (every other
    `TARGET_KEYWORDS` kind declares a name) are unchanged."""
    for tok in tokenize(statement, keep_comments=False):
        if tok.kind is TokenKind.IDENT and tok.text == "example":
            return f"{statement[: tok.start]}theorem {EXAMPLE_NAME}{statement[tok.end :]}"
        if tok.kind is TokenKind.IDENT and tok.text in TARGET_KEYWORDS:
            return statement
    return statement


# -- the verifier ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifierPolicy:
    """How the verifier's own REPL process is shared between checks and when it is replaced.

    `share_imports`: elaborate a header's imports once per process and distinct import set, and compile
    each check (rest of the header + theorem + `#print axioms`) on top of that environment; False sends
    every check as one fresh command, imports included (the old way, kept for comparison).
    `max_checks`: start a fresh process after this many checks (None: never). `restart_growth_mb`: start a
    fresh one when the process tree's resident memory, measured after a check, has grown this much above what
    it was right after the process's first import (None: never); the import alone is most of it (a Mathlib
    import is 6-8 GB), so a fixed threshold near it would re-import after nearly every check.
    `restart_memory_mb`: an absolute ceiling as well (None: none). The REPL never frees an environment, so
    without these a long run grows without bound.
    `command_extensions`: let a header (and the package modules it imports) hold command macros, elaborators and
    meta code (`header_problem` is skipped). Only for `--strict` with comparator, which reads the axioms from the
    compiled environment itself, so a forged `#print axioms` answer cannot make it accept
    (`prover.backends.make_verifier` sets it then and never otherwise).
    """

    share_imports: bool = True
    max_checks: int | None = 100
    restart_memory_mb: int | None = None
    restart_growth_mb: int | None = 4096
    command_extensions: bool = False


class ReplVerifier(ClosingContext):
    """A `ProofVerifier` that compiles each proof in its own Lean REPL process (never the search's).

    Each check starts from the environment of the header's imports alone (`import Mathlib`), elaborated
    once per process and per distinct import set; the rest of the header, the theorem and its
    `#print axioms` line are compiled on top of it as one command with that `env`. REPL environments are
    immutable values (a command on `env` n makes a new one and leaves n as it was: repl `Command.env`,
    `REPL/JSON.lean` at leanprover-community/repl@8948401a), so nothing an earlier check elaborated is
    visible to the next, and nothing the search elaborated ever is (other process). Line numbers are kept:
    the imports' lines are sent as empty lines, so the judge reads positions exactly as in the whole source.
    """

    checker = CHECKER

    def __init__(
        self,
        settings: ReplSettings | None = None,
        *,
        env: ReplEnv | None = None,
        timeout_s: float | None = None,
        allow_native_decide: bool | None = None,
        policy: VerifierPolicy | None = None,
    ) -> None:
        if env is None and settings is None:
            raise ValueError("ReplVerifier needs ReplSettings or a ReplEnv of its own")
        self._env = env if env is not None else ReplEnv(settings)  # type: ignore[arg-type]
        self._owns_env = env is None
        self.settings = self._env.settings
        self.timeout_s = timeout_s if timeout_s is not None else self.settings.command_timeout_s
        self.allow_native_decide = (
            self.settings.allow_native_decide if allow_native_decide is None else allow_native_decide
        )
        self.policy = policy if policy is not None else VerifierPolicy()
        # The user's Lake package, whose own modules a header may import (`header_problem`); None for a stand-in.
        project = self.settings.project_dir
        self._project: Path | None = (
            project if any((project / f).is_file() for f in ("lakefile.lean", "lakefile.toml")) else None
        )
        # Only a real ReplEnv can hold environments between requests; a stand-in that just answers
        # `run_command` (tests of the judgment) gets every source whole, as one fresh command.
        self._shares = self.policy.share_imports and isinstance(self._env, ReplEnv)
        self._imports_envs: dict[str, tuple[int, int]] = {}  # imports text -> (process generation, env id)
        self._checks_in_process = 0
        self._baseline_mb: tuple[int, float] | None = None  # (process generation, resident MB after its first import)
        self.checks = 0
        self.imports_elaborated = 0  # import commands sent (one per process and import set when shared)
        self.recycles = 0  # planned process replacements (max_checks / restart_memory_mb)

    def verify(self, theorem: Theorem, proof: str, helpers: str = "") -> Verdict:
        """Verify `proof` of `theorem`; `helpers`: helper lemmas placed before it (`helper_declarations_problem`)."""
        source = prepare_check(theorem, proof, self.allow_native_decide, helpers)
        if isinstance(source, Rejected):
            return source
        problem = (
            None if self.policy.command_extensions else header_problem(f"{theorem.header}\n{helpers}", self._project)
        )
        if problem is not None:
            return Rejected(problem, CHECKER)
        response = self._check(source.text)
        if isinstance(response, Rejected):
            return response
        verdict = judge_compile(
            response,
            name=source.name,
            span=source.span,
            print_line=source.print_line,
            allow_native_decide=self.allow_native_decide,
        )
        return dataclasses.replace(verdict, source=source.text) if isinstance(verdict, Rejected) else verdict

    def verify_file(self, original_source: str, new_source: str, names: Sequence[str]) -> dict[str, Verdict]:
        """Compile `new_source` once and judge each named theorem (`names` as `lean_env.source.parse` names them)."""
        from lean_env.source.parse import pair_theorems, parse_lean_source

        try:
            old = parse_lean_source(original_source, "<original>")
            new = parse_lean_source(new_source, "<rewritten>")
        except LeanParseError as exc:
            return dict.fromkeys(names, Rejected(f"the file does not parse: {exc}", CHECKER))
        verdicts: dict[str, Verdict] = {}
        if (prelude := prelude_problem(new_source)) is not None:
            return dict.fromkeys(names, Rejected(prelude, CHECKER))
        # The rewritten file's text outside the judged proofs is its header for every judged theorem.
        header = None if self.policy.command_extensions else header_problem(new_source, self._project)
        if header is not None:
            return dict.fromkeys(names, Rejected(header, CHECKER))
        targets = {}
        paired = pair_theorems(old, new)
        for name in names:
            try:
                old_decl = old.get(name)
            except KeyError as exc:
                verdicts[name] = Rejected(str(exc.args[0]), CHECKER)
                continue
            new_decl = paired.get(old_decl.name)
            if new_decl is None:
                verdicts[name] = Rejected("the rewritten file no longer has the same theorems", CHECKER)
                continue
            if _normalize(old_decl.statement) != _normalize(new_decl.statement):
                verdicts[name] = Rejected("the statement in the rewritten file differs from the original", CHECKER)
                continue
            body = new_decl.proof.strip()
            body = body[2:] if body.startswith("by") and not body[2:3].isalnum() else body
            problem = static_check(
                new_decl.to_theorem(), indent_block(body.strip("\n"), 0) or body, self.allow_native_decide
            )
            if problem is None and new_decl.suffix.strip():
                problem = "text follows the proof outside its `by` block"
            if problem is not None:
                verdicts[name] = Rejected(problem, CHECKER)
                continue
            targets[name] = (old_decl, new_decl)
        if not targets:
            return verdicts
        if _outside_proofs(original_source, [d for d, _ in targets.values()]) != _outside_proofs(
            new_source, [d for _, d in targets.values()]
        ):
            reason = "the rewritten file differs from the original outside the rewritten proofs"
            return {**verdicts, **dict.fromkeys(targets, Rejected(reason, CHECKER))}

        # A module file is compiled as a plain file (same lines): `#print axioms` is refused in a module.
        text = plain_module_source(_name_examples(new_source, [d for _, d in targets.values()]))
        text = text if text.endswith("\n") else text + "\n"
        first_print = text.count("\n") + 1
        print_lines = {}
        for i, (name, (_, decl)) in enumerate(targets.items()):
            print_lines[name] = first_print + i
            text += f"#print axioms {judged_name(decl).print_argument}\n"
        response = self._check(text)  # on the imports' environment, like every check
        spans = [(d.span.start_line, d.span.end_line) for d in new.declarations]
        for name, (_, decl) in targets.items():
            if isinstance(response, Rejected):
                verdicts[name] = response
                continue
            span = (decl.decl_span.start_line, (decl.proof_span or decl.statement_span).end_line)
            verdicts[name] = judge_compile(
                response,
                name=judged_name(decl),
                span=span,
                print_line=print_lines[name],
                allow_native_decide=self.allow_native_decide,
                errors_anywhere=False,
                outside_ok=[s for s in spans if s != span],
                next_start=_next_start(new_source, (decl.proof_span or decl.statement_span).end),
            )
        return {name: verdicts[name] for name in names}

    def _check(self, text: str) -> dict[str, Any] | Rejected:
        """Compile one check source (header + theorem + `#print axioms`) and count it for the restart policy."""
        from lean_env.backends.repl import split_header

        imports, rest = split_header(text)
        try:
            if not self._shares or not imports.strip():
                self.imports_elaborated += 1 if imports.strip() else 0
                return self._compile(text)
            # The imports' lines become empty lines: positions in the answer are those of the whole source.
            return self._compile_on_imports(imports, "\n" * imports.count("\n") + rest)
        finally:
            self.checks += 1
            self._checks_in_process += 1
            self._maybe_recycle()

    def _compile_on_imports(self, imports: str, body: str) -> dict[str, Any] | Rejected:
        # One retry after a crash, protocol failure or a forgotten env: a fresh process re-imports.
        for attempt in (1, 2):
            env_id = self._imports_env(imports)
            if isinstance(env_id, Rejected):
                return env_id
            try:
                response = self._env.run_command(body, env=env_id, timeout=self.timeout_s)
            except LeanTimeoutError:
                return Rejected(f"Lean did not finish checking the proof within {self.timeout_s:g} s", CHECKER)
            except (LeanCrashError, ProtocolError) as exc:
                if attempt == 2:
                    return Rejected(f"Lean failed while checking the proof: {exc}", CHECKER)
                continue
            except LeanEnvError as exc:
                return Rejected(f"Lean failed while checking the proof: {exc}", CHECKER)
            if "env" not in response and "environment" in str(response.get("message", "")).lower():
                # `{"message": "Unknown environment."}`: the process is not the one that made env_id.
                self._imports_envs.pop(imports, None)
                if attempt == 1:
                    continue
            return response
        raise AssertionError("unreachable")

    def _imports_env(self, imports: str) -> int | Rejected:
        """The env id of `imports` elaborated alone in the current process (elaborated now if needed)."""
        generation = self._env.generation
        cached = self._imports_envs.get(imports)
        if cached is not None and cached[0] == generation and self._env.process_id is not None:
            return cached[1]
        try:
            response = self._env.run_command(imports, env=None, timeout=self.settings.start_timeout_s)
        except LeanTimeoutError:
            return Rejected(
                f"Lean did not finish elaborating the header's imports within {self.settings.start_timeout_s:g} s",
                CHECKER,
            )
        except LeanEnvError as exc:
            return Rejected(f"Lean failed while elaborating the header's imports: {exc}", CHECKER)
        self.imports_elaborated += 1
        errors = [m for m in _messages(response) if m.get("severity") == "error"]
        if "message" in response and "env" not in response:
            return Rejected(f"the REPL refused the header's imports: {response['message']}", CHECKER)
        if errors:
            first = errors[0]
            return Rejected(
                f"Lean error in the header's imports at line {_line(first)}: {str(first.get('data', '')).strip()}",
                CHECKER,
            )
        env_id = response.get("env")
        if not isinstance(env_id, int):
            return Rejected(f"the REPL answered the header's imports without an env id: {response!r:.200}", CHECKER)
        self._imports_envs[imports] = (self._env.generation, env_id)
        self._note_baseline()
        return env_id

    def _note_baseline(self) -> None:
        """Measure the process's resident memory right after its first import (the restart threshold's base)."""
        pid = self._env.process_id if isinstance(self._env, ReplEnv) else None
        if pid is None or self.policy.restart_growth_mb is None:
            return
        if self._baseline_mb is None or self._baseline_mb[0] != self._env.generation:
            from lean_env.backends.repl_process import tree_rss_mb

            self._baseline_mb = (self._env.generation, tree_rss_mb(pid))

    def _maybe_recycle(self) -> None:
        """Replace the process after `policy.max_checks` checks or above `policy.restart_memory_mb`."""
        if not isinstance(self._env, ReplEnv):
            return
        policy = self.policy
        why = None
        if policy.max_checks is not None and self._checks_in_process >= policy.max_checks:
            why = f"{self._checks_in_process} checks"
        elif (pid := self._env.process_id) is not None:
            from lean_env.backends.repl_process import tree_rss_mb

            if not self._shares:
                self._note_baseline()  # each check imports: the first one in the process is the baseline
            limits: list[tuple[float, str]] = []
            if policy.restart_memory_mb is not None:
                limits.append((policy.restart_memory_mb, ""))
            baseline = self._baseline_mb
            if policy.restart_growth_mb is not None and baseline is not None and baseline[0] == self._env.generation:
                limits.append((baseline[1] + policy.restart_growth_mb, f" ({baseline[1]:.0f} MB after the import)"))
            if limits:
                used = tree_rss_mb(pid)
                over = [(limit, how) for limit, how in limits if used > limit]
                if over:
                    why = f"{used:.0f} MB resident > {over[0][0]:.0f} MB{over[0][1]}"
        if why is not None:
            log.info("verifier: starting a fresh Lean REPL after %s", why)
            self._env.recycle()
            self._imports_envs.clear()
            self._checks_in_process = 0
            self.recycles += 1

    def _compile(self, text: str) -> dict[str, Any] | Rejected:
        # One retry on a crash or protocol failure: a long-lived REPL that piled up environments can die
        # (or hit the memory limit) on an innocent proof; a fresh process decides. Timeouts are final.
        for attempt in (1, 2):
            try:
                return self._env.run_command(text, env=None, timeout=self.timeout_s)
            except LeanTimeoutError:
                return Rejected(f"Lean did not finish checking the proof within {self.timeout_s:g} s", CHECKER)
            except (LeanCrashError, ProtocolError) as exc:
                if attempt == 2:
                    return Rejected(f"Lean failed while checking the proof: {exc}", CHECKER)
            except LeanEnvError as exc:
                return Rejected(f"Lean failed while checking the proof: {exc}", CHECKER)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._owns_env:
            self._env.close()


def _next_start(source: str, offset: int) -> tuple[int, int] | None:
    """(line, 0-based column, as the REPL reports positions) of the first token at or after `offset`, or None."""
    try:
        # Comments are whitespace to Lean, doc comments are tokens (`/--` starts a docComment).
        tokens = [t for t in tokenize(source[offset:], keep_comments=True) if t.kind is not TokenKind.COMMENT]
    except LexError:
        return None
    if not tokens:
        return None
    start = offset + tokens[0].start
    line = source.count("\n", 0, start) + 1
    return line, start - (source.rfind("\n", 0, start) + 1)


def _outside_proofs(source: str, decls: Sequence[Any]) -> str:
    """The source with the given declarations' proofs cut out: what must not change."""
    cuts = sorted(((d.proof_span.start, d.proof_span.end) for d in decls if d.proof_span is not None), reverse=True)
    for start, end in cuts:
        source = source[:start] + "\0" + source[end:]
    return source.rstrip()


def _name_examples(source: str, decls: Sequence[Any]) -> str:
    """Rename each targeted `example` to `theorem <its parse name>` (same line) so it can be printed."""
    edits = []
    for d in decls:
        if d.kind != "example":
            continue
        region = source[d.statement_span.start : d.statement_span.end]
        m = re.search(r"\bexample\b", region)
        if m:
            edits.append((d.statement_span.start + m.start(), d.statement_span.start + m.end(), d.name))
    for start, end, name in sorted(edits, reverse=True):
        source = f"{source[:start]}theorem {name.rsplit('.', 1)[-1]}{source[end:]}"
    return source
