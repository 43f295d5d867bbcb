"""`#print axioms` answers for exactly the judged constant: the verifier asks for `_root_.<full name>` and accepts
only a listing printed for that full name (or its private form), in the REPL check, `verify_file` and the dojo
verifier.

Lean's answers are built by `tests.print_axioms_model` (name resolution from lean4 `src/Lean/ResolveName.lean`,
the printed name from `src/Lean/Elab/Print.lean`, both cited there) over the constants each case declares, with
the sorry warning and `sorries` entry of a header lemma in the recorded format of every release in
../shared/lean_fixtures (`tactic_sorry[0]`: ``declaration uses 'sorry'`` to v4.27, ``uses `sorry` `` after).
Each case has a shadowing constant that a bare `#print axioms NAME` resolves to first (asserted on the model, so
the case is a real attack) and that depends on no axioms, while the judged theorem itself depends on `sorryAx`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from lean_env.backends.repl import ReplSettings
from lean_env.checks.dojo_verify import DojoVerifier
from lean_env.checks.judge import JudgedName, judge_compile
from lean_env.checks.static import build_check_source
from lean_env.checks.verdict import Rejected, Verified
from lean_env.checks.verifier import ReplVerifier
from lean_env.source.declarations import parse_lean_source
from lean_env.types import DojoSource, Theorem
from tests.print_axioms_model import Name, answer_print_axioms, namespace_at, parse, private, resolve

RELEASES = ["v4.19.0", "v4.24.0", "v4.27.0", "v4.28.0", "v4.32.0", "repl"]
SORRY = "[sorryAx]"


def release_sorry_answer(shared: Path, release: str) -> dict[str, Any]:
    """The recorded answer to `def f : Nat := by sorry` at `release` (warning and `sorries` entry)."""
    root = shared / "lean_fixtures"
    folder = root / "repl" if release == "repl" else root / "repl_versions" / release
    text = (folder / "tactic_sorry.expected.out").read_text(encoding="utf-8")
    first = next(b for b in re.split(r"\n[ \t]*\n", text) if b.strip())
    answer: dict[str, Any] = json.loads(first)
    return answer


def moved(entry: dict[str, Any], line: int) -> dict[str, Any]:
    """A recorded message or `sorries` entry moved to `line` (same columns, same shape)."""
    out = dict(entry)
    for key in ("pos", "endPos"):
        if isinstance(entry.get(key), dict):
            out[key] = {**entry[key], "line": line}
    return out


class NamedLean:
    """Answers a check as Lean would for a source declaring `constants`: the recorded sorry warning and `sorries`
    entry at each `sorry` line (in the release's format), and the `#print axioms` listings by name resolution."""

    def __init__(self, shared: Path, release: str, constants: dict[Name, str | None]) -> None:
        self.recorded = release_sorry_answer(shared, release)
        self.constants = constants
        self.sent: list[str] = []
        self.settings = ReplSettings(command=("unused",))

    def answer(self, cmd: str) -> dict[str, Any]:
        lines = cmd.split("\n")
        sorry_lines = [n for n, line in enumerate(lines, start=1) if re.search(r"\bsorry\b", line)]
        warning = self.recorded["messages"][0]
        messages = [moved(warning, n) for n in sorry_lines] + answer_print_axioms(cmd, self.constants)
        sorries = [moved(self.recorded["sorries"][0], n) for n in sorry_lines]
        return {"env": 0, "messages": messages, "sorries": sorries}

    def run_command(self, cmd: str, env: int | None = None, timeout: float | None = None) -> dict[str, Any]:
        self.sent.append(cmd)
        return self.answer(cmd)

    def close(self) -> None:
        pass


def bare_print_resolves_to(source: str, name: str, constants: dict[Name, str | None]) -> list[Name]:
    """What the old appended line `#print axioms <name>` named at the end of `source`."""
    return resolve(constants, namespace_at(source + "\n", source.count("\n") + 2), name)


# (label, header, statement, proof, constants Lean declares: {full name: axioms}, the shadowing constant)
QUOTED_HEADER = (
    "import Mathlib\n\nnamespace Foo\n\ntheorem key : False := by sorry\n\ntheorem Foo.bar : True := trivial\n"
)
CASES: list[tuple[str, str, str, str, dict[Name, str | None], Name]] = [
    (
        # The example of the soundness review: `theorem Foo.bar` inside `namespace Foo` is `Foo.Foo.bar`.
        "namespace Foo, header theorem Foo.bar",
        QUOTED_HEADER,
        "theorem bar (n : ℕ) : n + 1 = n",
        "exact key.elim",
        {("Foo", "key"): SORRY, ("Foo", "Foo", "bar"): None, ("Foo", "bar"): SORRY},
        ("Foo", "Foo", "bar"),
    ),
    (
        "namespace A.B",
        "import Mathlib\n\nnamespace A.B\n\ntheorem key : False := by sorry\ntheorem A.B.t : True := trivial\n",
        "theorem t : 1 = 2",
        "exact key.elim",
        {("A", "B", "key"): SORRY, ("A", "B", "A", "B", "t"): None, ("A", "B", "t"): SORRY},
        ("A", "B", "A", "B", "t"),
    ),
    (
        "an enclosing namespace resolves before the exact name",
        "import Mathlib\n\nnamespace A\nnamespace B\n\ntheorem key : False := by sorry\n"
        "theorem _root_.A.A.B.t : True := trivial\n",
        "theorem t : 1 = 2",
        "exact key.elim",
        {("A", "B", "key"): SORRY, ("A", "A", "B", "t"): None, ("A", "B", "t"): SORRY},
        ("A", "A", "B", "t"),
    ),
    (
        "theorem _root_.x inside a namespace",
        "import Mathlib\n\nnamespace Foo\n\ntheorem key : False := by sorry\ntheorem x : True := trivial\n",
        "theorem _root_.x : 1 = 2",
        "exact key.elim",
        {("Foo", "key"): SORRY, ("Foo", "x"): None, ("x",): SORRY},
        ("Foo", "x"),
    ),
    (
        "«» components",
        "import Mathlib\n\nnamespace Foo\n\ntheorem key : False := by sorry\ntheorem Foo.«bar baz» : True := trivial\n",
        "theorem «bar baz» : 1 = 2",
        "exact key.elim",
        {("Foo", "key"): SORRY, ("Foo", "Foo", "bar baz"): None, ("Foo", "bar baz"): SORRY},
        ("Foo", "Foo", "bar baz"),
    ),
    (
        "example renamed and shadowed by Foo.Foo._verify_example",
        "import Mathlib\n\nnamespace Foo\n\ntheorem key : False := by sorry\n"
        "theorem Foo._verify_example : True := trivial\n",
        "example : 1 = 2",
        "exact key.elim",
        {("Foo", "key"): SORRY, ("Foo", "Foo", "_verify_example"): None, ("Foo", "_verify_example"): SORRY},
        ("Foo", "Foo", "_verify_example"),
    ),
    (
        # `let rec bar` in the proof of `bar.bar` declares `bar.bar.bar` (lean4 src/Lean/Elab/LetRec.lean: the
        # auxiliary is named under the declaration), which `#print axioms bar.bar` inside `namespace bar` finds first.
        "let rec inside the proof",
        "import Mathlib\n\nnamespace bar\n\ntheorem key : False := by sorry\n",
        "theorem bar : 1 = 2",
        "exact (let rec bar : True := trivial; key.elim)",
        {("bar", "key"): SORRY, ("bar", "bar", "bar"): None, ("bar", "bar"): SORRY},
        ("bar", "bar", "bar"),
    ),
]


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize(
    ("label", "header", "statement", "proof", "constants", "shadow"), CASES, ids=[c[0] for c in CASES]
)
def test_a_shadowing_constant_cannot_answer_for_the_theorem(
    shared: Path,
    release: str,
    label: str,
    header: str,
    statement: str,
    proof: str,
    constants: dict[Name, str | None],
    shadow: Name,
) -> None:
    theorem = Theorem("t", statement, header=header)
    check = build_check_source(theorem, proof)
    body = check.text.rsplit("#print axioms", 1)[0].rstrip("\n")
    # The attack is real: the old bare line would have printed the shadowing constant's clean listing.
    assert bare_print_resolves_to(body, check.name.text, constants) == [shadow], label
    lean = NamedLean(shared, release, constants)
    verdict = ReplVerifier(env=lean).verify(theorem, proof)  # type: ignore[arg-type]
    assert isinstance(verdict, Rejected), (label, verdict)
    assert "sorryAx" in verdict.reason, verdict
    # The same theorem without the poisoned lemma is accepted: the fix refuses the forgery, not the name.
    clean = {**constants, check.name.components: "[propext]"}
    assert isinstance(ReplVerifier(env=NamedLean(shared, release, clean)).verify(theorem, proof), Verified)  # type: ignore[arg-type]


def test_the_printed_name_must_equal_the_full_name_exactly() -> None:
    foo_bar = JudgedName.parse("Foo.bar")
    assert foo_bar.print_argument == "_root_.Foo.bar"
    assert foo_bar.matches("Foo.bar") and foo_bar.matches("Foo.«bar»")
    for other in ("Foo.Foo.bar", "bar", "X.Foo.bar", "Foo.bar.bar", "_private.Check.0.Foo.bar", "Foo._root_.Foo.bar"):
        assert not foo_bar.matches(other), other
    assert JudgedName.parse("_root_.x").components == ("x",)
    spaced = JudgedName.parse("Foo.«bar baz»")
    assert spaced.print_argument == "_root_.Foo.«bar baz»" and spaced.matches("Foo.«bar baz»")
    hidden = JudgedName.parse("bar", private=True)
    assert hidden.matches("_private.Check.0.bar") and hidden.matches("_private.A.B.0.bar")
    assert not hidden.matches("bar") and not hidden.matches("_private.Check.0.Foo.bar")


@pytest.mark.parametrize("release", RELEASES)
def test_a_private_theorem_is_judged_by_its_private_name(shared: Path, release: str) -> None:
    """`private theorem bar` is `_private.<module>.0.bar`; `_root_.bar` resolves to it (`resolveExact`)."""
    theorem = Theorem("bar", "private theorem bar : 1 = 1", header="import Mathlib\n")
    check = build_check_source(theorem, "rfl")
    assert check.name == JudgedName(("bar",), private=True)
    good = NamedLean(shared, release, {private(("bar",)): None})
    assert isinstance(ReplVerifier(env=good).verify(theorem, "rfl"), Verified)  # type: ignore[arg-type]
    # A public `bar` answering for the private theorem is another constant.
    answer = {"env": 0, "messages": answer_print_axioms(check.text, {("bar",): None})}
    verdict = judge_compile(answer, name=check.name, span=check.span, print_line=check.print_line)
    assert isinstance(verdict, Rejected) and "not 'bar'" in verdict.reason


ORIGINAL_NEVER_CLOSED = """import Mathlib

namespace Foo

theorem key : False := by sorry

theorem Foo.t : True := trivial

theorem t (n : ℕ) : n + 1 = n := by
  sorry

private theorem p : 1 = 1 := by
  sorry
"""


@pytest.mark.parametrize("release", RELEASES)
def test_verify_file_asks_for_the_full_name_in_a_file_that_never_closes_its_namespace(
    shared: Path, release: str
) -> None:
    new = ORIGINAL_NEVER_CLOSED.replace("n + 1 = n := by\n  sorry", "n + 1 = n := by\n  exact key.elim").replace(
        "1 = 1 := by\n  sorry", "1 = 1 := by\n  rfl"
    )
    names = [d.name for d in parse_lean_source(ORIGINAL_NEVER_CLOSED).theorems if d.name != "Foo.key"]
    constants: dict[Name, str | None] = {
        ("Foo", "key"): SORRY,
        ("Foo", "Foo", "t"): None,
        ("Foo", "t"): SORRY,
        private(("Foo", "p")): None,
    }
    lean = NamedLean(shared, release, constants)
    verdicts = ReplVerifier(env=lean).verify_file(ORIGINAL_NEVER_CLOSED, new, names)  # type: ignore[arg-type]
    (sent,) = lean.sent
    assert "#print axioms _root_.Foo.t\n" in sent and "#print axioms _root_.Foo.p\n" in sent
    assert isinstance(verdicts["Foo.t"], Rejected) and "sorryAx" in verdicts["Foo.t"].reason, verdicts
    assert isinstance(verdicts["Foo.p"], Verified), verdicts
    assert isinstance(verdicts["Foo.Foo.t"], Verified), verdicts


class _OutputDojo(DojoVerifier):
    """The dojo verifier with `lake env lean` answered as Lean prints a compile: `FILE:L:C: warning: …` for the
    header lemma's sorry, bare `#print axioms` lines (src/Lean/Message.lean `SerialMessage.toString`)."""

    def __init__(self, root: Path, constants: dict[Name, str | None], **kwargs: Any) -> None:
        super().__init__(traced_root=lambda _source: root, **kwargs)
        self.constants = constants
        self.sent: list[str] = []

    def _compile(self, root: Path, traced_file: Path, text: str) -> tuple[str | None, int]:
        self.sent.append(text)
        out = [
            f"{traced_file.name}:{n}:8: warning: declaration uses 'sorry'"
            for n, line in enumerate(text.split("\n"), start=1)
            if re.search(r"\bsorry\b", line)
        ]
        out += [str(m["data"]) for m in answer_print_axioms(text, self.constants)]
        return "\n".join(out) + "\n", 0


def test_the_dojo_verifier_asks_for_the_full_name(tmp_path: Path) -> None:
    traced = (
        "import Mathlib\n\nnamespace Foo\n\ntheorem key : False := by sorry\n\ntheorem Foo.bar : True := trivial\n\n"
    )
    traced += "theorem bar (n : ℕ) : n + 1 = n := by\n  sorry\n"
    (tmp_path / "Foo.lean").write_text(traced, encoding="utf-8")
    source = DojoSource(url="https://example.invalid/r", commit="0" * 40, file_path="Foo.lean", full_name="Foo.bar")
    theorem = Theorem("Foo.bar", "theorem bar (n : ℕ) : n + 1 = n", dojo=source)
    constants: dict[Name, str | None] = {("Foo", "key"): SORRY, ("Foo", "Foo", "bar"): None, ("Foo", "bar"): SORRY}
    dojo = _OutputDojo(tmp_path, constants)
    verdict = dojo.verify(theorem, "exact key.elim")
    assert "#print axioms _root_.Foo.bar\n" in dojo.sent[0]
    assert isinstance(verdict, Rejected) and "sorryAx" in verdict.reason, verdict
    clean = _OutputDojo(tmp_path, {**constants, ("Foo", "bar"): "[propext]"})
    assert isinstance(clean.verify(theorem, "exact key.elim"), Verified)


def test_the_model_resolves_as_lean_does() -> None:
    """The stand-in's resolution, on the documented examples (ResolveName.lean, `resolveGlobalName` docstring)."""
    constants: dict[Name, Any] = {("Foo", "x"): 1, ("Boo", "x"): 2, ("x",): 3, private(("y",)): 4}
    assert resolve(constants, ("Foo",), "x") == [("Foo", "x")]
    assert resolve(constants, ("Foo",), "_root_.x") == [("x",)]
    assert resolve(constants, (), "Boo.x") == [("Boo", "x")]
    assert resolve(constants, ("Foo",), "_root_.y") == [private(("y",))]
    assert parse("Foo.«a b»") == ("Foo", "a b")
