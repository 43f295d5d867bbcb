"""The compile judge and the axiom policy: what a Lean answer to a check source means.

Pure functions over the REPL's JSON answer (`judge_compile`, `parse_axioms_message`, `axiom_problem`, ...), so
that tests exercise them on recorded answers. A theorem is rejected for any error (in its span, or anywhere when
judged alone), a "declaration uses `sorry`" warning or a REPL-listed `sorry` in it, and any axiom beyond
`propext`, `Classical.choice`, `Quot.sound` (`sorryAx`, `Lean.ofReduceBool`, `Lean.trustCompiler`, user axioms).
The axiom list is read only from the info message positioned on the `#print axioms` line the verifier appended,
so a tactic cannot forge it; the line asks for `_root_.<full name>` and the listing must be printed for exactly
that name (`JudgedName`), so a header constant that the open namespaces resolve first (`Foo.Foo.bar` inside
`namespace Foo`) cannot answer for the theorem.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lean_env.checks.verdict import Rejected, Verdict, Verified
from lean_env.errors import ProtocolError
from lean_env.messages import LeanMessage
from lean_env.source.lexer import LexError, escape_component, name_components

CHECKER = "lean-repl"
STANDARD_AXIOMS = frozenset({"propext", "Classical.choice", "Quot.sound"})
# Lean's native-evaluation axioms before lean4#12217 (removed in lean4#14953): `Lean.ofReduceBool`,
# `Lean.ofReduceNat` and `Lean.trustCompiler`.
NATIVE_AXIOMS = frozenset({"Lean.ofReduceBool", "Lean.ofReduceNat", "Lean.trustCompiler"})
SORRY_WARNING = "declaration uses `sorry`"

# Every form of Lean's sorry warning: ``declaration uses 'sorry'`` up to v4.27, ``declaration uses `sorry` ``
# from v4.28 (recorded in ../shared/lean_fixtures/repl_versions/), and the proposed
# ``declaration `foo` uses `sorry` `` (a name between "declaration" and "uses", in any quoting).
SORRY_WARNING_RE = re.compile(r"\bdeclaration\b(?:[^\n]*?)\buses\s+['`‘’]sorry['`‘’]")

# Native evaluation axioms. Since lean4#12217 (one axiom per native computation) `native_decide` and
# `bv_decide` assert their result with an auxiliary axiom named `<decl>._native.<tactic>.ax_<i>_<j>`
# (e.g. `foo._native.native_decide.ax_1_1`, formal-conjectures#5606) instead of `Lean.ofReduceBool`.
NATIVE_AXIOM_COMPONENT = "_native"

_AXIOMS_RE = re.compile(r"^'(?P<name>.+?)' depends on axioms: \[(?P<axioms>.*)\]\s*$", re.DOTALL)
_NO_AXIOMS_RE = re.compile(r"^'(?P<name>.+?)' does not depend on any axioms\s*$", re.DOTALL)

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


def message_line(message: Mapping[str, Any]) -> int:
    pos = message.get("pos")
    return int(pos.get("line", 0)) if isinstance(pos, dict) else 0


def _column(message: Mapping[str, Any]) -> int:
    pos = message.get("pos")
    return int(pos.get("column", -1)) if isinstance(pos, dict) else -1


def response_messages(response: Mapping[str, Any]) -> list[dict[str, Any]]:
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
    for raw in response_messages(response):
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
    messages = response_messages(response)
    lo, hi = span
    for msg in messages:
        if msg.get("severity") != "error":
            continue
        line = message_line(msg)
        inside = lo <= line <= hi or line == print_line
        at_next = next_start is not None and (line, _column(msg)) == next_start
        ignorable = not errors_anywhere and not inside and not at_next and any(a <= line <= b for a, b in outside_ok)
        if not ignorable:
            where = "in the theorem" if inside else "right after the theorem" if at_next else "outside the theorem"
            return Rejected(f"Lean error {where} at line {line}: {str(msg.get('data', '')).strip()}", CHECKER)
    for msg in messages:
        if (
            msg.get("severity") == "warning"
            and is_sorry_warning(str(msg.get("data", "")))
            and lo <= message_line(msg) <= hi
        ):
            return Rejected("Lean reports that the declaration uses `sorry`", CHECKER)
    # The REPL's own list of elaborated `sorry`s (repl `REPL/Main.lean`, the `sorries` field, each with its `pos`):
    # a layer that does not depend on the warning's wording in any release. (Only a request with
    # `"rootGoals": true` lists other goals there; the verifier never sends one.)
    for entry in response.get("sorries") or []:
        if isinstance(entry, dict) and lo <= message_line(entry) <= hi:
            return Rejected(f"the REPL lists a `sorry` in the theorem at line {message_line(entry)}", CHECKER)
    printed = [
        parsed
        for msg in messages
        if msg.get("severity") == "info" and message_line(msg) == print_line
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


def judged_name(decl: Any) -> JudgedName:
    """The full name Lean gives a parsed theorem (`lean_env.source.document.TheoremDecl`): the parser's name
    (namespaces prepended, `_root_` dropped) and its `private` modifier."""
    return JudgedName.parse(str(decl.name), private="private" in getattr(decl, "modifiers", ()))
