"""What a header, the theorem's namespace, an escaped name, helper lemmas or an imported module of the user's own
Lake package can do to the verdict: every attack in `ATTACKS` is rejected, every row of `LEGITIMATE` accepted.

Each row is answered as Lean answers the checked source when the attack works (the worst case): the sorry warning
and `sorries` entry in the recorded format of every release in ../shared/lean_fixtures (`tactic_sorry[0]`), and the
`#print axioms` listing by Lean's name resolution (`tests.print_axioms_model`, from lean4 src/Lean/ResolveName.lean
and src/Lean/Elab/Print.lean). A forged listing is modelled as a clean one for the asked name: rejection must come
from the verifier's own checks. Sources of each kind:
* option names: `set_option` takes an `identWithPartialTrailingDot` (lean4 src/Lean/Parser/Command.lean «set_option»,
  leanprover/lean4@00298d032c), so `«debug».skipKernelTC` and `debug.«skipKernelTC»` name `debug.skipKernelTC`,
  which makes `addDecl` skip the kernel check (src/Lean/AddDecl.lean); `decide +kernel` then adds an auxiliary lemma
  that is never checked (`evalDecideCore`, src/Lean/Elab/Tactic/ElabTerm.lean) and depends on no axioms;
* native auxiliary axioms are named `<decl>._native.<tactic>.ax_<i>_<j>` (lean4#12217);
* command macros and elaborators: `elabCommand` expands macros before elaborators (src/Lean/Elab/Command.lean), so a
  `macro_rules`/`elab_rules`/`command_elab` for `#print axioms` answers the verifier's appended line itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lean_env.backends.repl import ReplSettings
from lean_env.checks.static import command_extension_problem, helper_declarations_problem, plain_module_source
from lean_env.checks.verdict import Rejected, Verified
from lean_env.checks.verifier import ReplVerifier
from lean_env.types import Theorem
from tests.print_axioms_model import Name, answer_print_axioms, axioms_message, parse, printed_name

RELEASES = ["v4.19.0", "v4.24.0", "v4.27.0", "v4.28.0", "v4.32.0", "repl"]
STD = "[propext, Classical.choice, Quot.sound]"
HEADER = "import Mathlib\n\nnamespace Foo\n"
STATEMENT = "theorem bar (n : ℕ) : n + 0 = n"


def release_sorry_answer(shared: Path, release: str) -> dict[str, Any]:
    root = shared / "lean_fixtures"
    folder = root / "repl" if release == "repl" else root / "repl_versions" / release
    text = (folder / "tactic_sorry.expected.out").read_text(encoding="utf-8")
    answer: dict[str, Any] = json.loads(next(b for b in re.split(r"\n[ \t]*\n", text) if b.strip()))
    return answer


def moved(entry: dict[str, Any], line: int) -> dict[str, Any]:
    return {**entry, **{k: {**entry[k], "line": line} for k in ("pos", "endPos") if isinstance(entry.get(k), dict)}}


@dataclass(frozen=True)
class Attack:
    """One source the verifier judges: header + helpers + statement + proof, and what Lean answers for it."""

    label: str
    proof: str = "simp"
    header: str = HEADER
    statement: str = STATEMENT
    helpers: str = ""
    axioms: str | None = STD  # the listing Lean prints for the asked name (None: no axioms)
    constants: tuple[tuple[str, str | None], ...] = ()  # declared constants: resolve names as Lean does
    native: bool = False  # also rejected with allow_native_decide (always checked)
    module: str = ""  # a forgery to put in an imported module of the user's Lake package as well

    def theorem(self) -> Theorem:
        return Theorem("t", self.statement, header=self.header)


@dataclass
class ReleaseLean:
    """Lean's answer in the format of one recorded release (see the module docstring)."""

    shared: Path
    release: str
    attack: Attack
    sent: list[str] = field(default_factory=list)
    settings: ReplSettings = field(default_factory=lambda: ReplSettings(command=("unused",)))

    def run_command(self, cmd: str, env: int | None = None, timeout: float | None = None) -> dict[str, Any]:
        self.sent.append(cmd)
        recorded = release_sorry_answer(self.shared, self.release)
        lines = [n for n, text in enumerate(cmd.split("\n"), start=1) if re.search(r"\bsorry\b", text)]
        messages = [moved(recorded["messages"][0], n) for n in lines]
        if self.attack.constants:
            constants: dict[Name, str | None] = {parse(k): v for k, v in self.attack.constants}
            messages += answer_print_axioms(cmd, constants)
        else:
            for number, text in enumerate(cmd.split("\n"), start=1):
                if text.startswith("#print axioms "):
                    name = parse(printed_name(text.removeprefix("#print axioms ")))
                    messages.append(axioms_message(number, name, self.attack.axioms))
        return {"env": 0, "messages": messages, "sorries": [moved(recorded["sorries"][0], n) for n in lines]}

    def close(self) -> None:
        pass


COMMAND_ELAB = (
    "@[command_elab Lean.Parser.Command.printAxioms] def fake : Lean.Elab.Command.CommandElab := fun _ => pure ()"
)
FORGED = "'Foo.bar' depends on axioms: [propext]"

# Each forgery of the `#print axioms` answer: in the header here, and (`module`) in an imported module below.
FORGERIES: list[tuple[str, str]] = [
    ("macro_rules for #print axioms", f'macro_rules | `(#print axioms $_x) => `(#eval IO.println "{FORGED}")'),
    ("local macro_rules", "local macro_rules | `(#print axioms $_x) => `(#check 0)"),
    ("escaped «macro_rules»", "«macro_rules» | `(#print axioms $_x) => `(#check 0)"),
    ("elab_rules : command", 'elab_rules : command | `(#print axioms $_x) => Lean.logInfo m!"x"'),
    ("scoped elab_rules", "scoped elab_rules : command | `(#print axioms $_x) => pure ()"),
    ("syntax of category command", 'syntax (name := fakePrint) "#print axioms " ident : command'),
    ("syntax of escaped category «command»", 'syntax "#fake " ident : «command»'),
    ("macro of category command", 'macro "#print axioms " x:ident : command => `(#check $x)'),
    ("elab of category command", 'elab "#print axioms " _x:ident : command => Lean.logInfo "x"'),
    ("declare_syntax_cat", "declare_syntax_cat fake_cat"),
    ("command_elab attribute", COMMAND_ELAB),
    ("escaped command_elab attribute", COMMAND_ELAB.replace("command_elab", "«command_elab»")),
    (
        "macro attribute",
        "@[macro Lean.Parser.Command.printAxioms] def fake : Lean.Macro := fun _ => Lean.Macro.throwUnsupported",
    ),
    ("command_parser attribute", '@[command_parser] def fakeParser := Lean.Parser.leading_parser "#fake"'),
    ("attribute [command_elab]", "attribute [command_elab Lean.Parser.Command.printAxioms] fake"),
    ("attribute [local macro]", "attribute [local macro Lean.Parser.Command.printAxioms] fake"),
    ("#eval meta code", '#eval show Lean.Elab.Command.CommandElabM Unit from Lean.logInfo "x"'),
    ("escaped #«eval»", "#«eval» (1 : Nat)"),
    ("run_cmd", 'run_cmd Lean.logInfo "x"'),
    ("run_elab", "run_elab pure ()"),
    ("run_meta", "run_meta pure ()"),
    ("initialize", "initialize fakeRef : IO.Ref Nat ← IO.mkRef 0"),
    # meta code at tactic level: an elaborator may log a message positioned on the appended line
    ("elab of category tactic", 'elab "fake_tac" : tactic => Lean.logInfo "x"'),
    ("elab_rules : tactic", "elab_rules : tactic | `(tactic| fake_tac) => pure ()"),
    (
        "tactic attribute on meta code",
        "@[tactic Lean.Parser.Tactic.simp] def fake : Lean.Elab.Tactic.Tactic := fun _ => pure ()",
    ),
    # meta code that a proof's own tactics run (simp, norm_num, positivity) or that prints its goals (a delaborator):
    # lean4 src/Init/Simproc.lean (simproc/dsimproc expand to a `*_decl` def plus `simproc_pattern%` and an
    # `attribute [simproc]`), Mathlib/Tactic/NormNum/Core.lean, Mathlib/Tactic/Positivity/Core.lean
    (
        "simproc command",
        'open Lean Meta Simp in simproc foo (_ + _) := fun e => do logInfo "x"; return .continue',
    ),
    ("local dsimproc command", "open Lean Meta Simp in local dsimproc foo (_ + _) := fun _ => return .continue"),
    ("simproc_decl", "open Lean Meta Simp in simproc_decl foo (_ + _) := fun _ => return .continue"),
    ("simproc_pattern% on a plain def of type Simproc", "simproc_pattern% _ + _ => foo"),
    ("simproc attribute", "attribute [simproc] foo"),
    ("@[simproc] on meta code", "@[simproc] def foo : Lean.Meta.Simp.Simproc := fun _ => return .continue"),
    ("sevalproc attribute", "attribute [sevalproc] foo"),
    ("a simp set's simproc attribute", "attribute [field_simps_proc] foo"),
    (
        "norm_num extension",
        "@[norm_num _ + _] def evalFake : Mathlib.Meta.NormNum.NormNumExt where eval _ := failure",
    ),
    ("escaped «norm_num» extension", "attribute [«norm_num» _ + _] evalFake"),
    (
        "positivity extension",
        "@[positivity _ + _] def evalFake : Mathlib.Meta.Positivity.PositivityExt where core _ _ _ := failure",
    ),
    ("delab attribute", "@[delab app.HAdd.hAdd] def fakeDelab : Lean.PrettyPrinter.Delaborator.Delab := failure"),
    ("app_delab attribute", "@[app_delab HAdd.hAdd] def fakeDelab : Lean.PrettyPrinter.Delaborator.Delab := failure"),
    # a macro_rules whose pattern is not an explicit tactic/term quotation may rewrite commands
    ("macro_rules with an unprefixed quotation", "macro_rules | `(foo) => `(bar)"),
    (
        "macro_rules with a kind option",
        "macro_rules (kind := Lean.Parser.Command.printAxioms) | `(tactic| x) => `(tactic| y)",
    ),
    (
        "macro_rules mixing a command pattern",
        "macro_rules\n  | `(tactic| x) => `(tactic| y)\n  | `(command| #print axioms $_x) => `(#check 0)",
    ),
]

HELPER_ATTACKS: list[tuple[str, str]] = [
    ("helper def", "def cheat : ℕ := 0\n"),
    ("helper instance changes the statement", "instance (priority := high) : Div ℕ := ⟨fun _ _ => 0⟩\n"),
    ("helper abbrev", "abbrev cheat := ℕ\n"),
    ("helper notation", 'notation "cheat" => 0\n'),
    ("helper open", "open Real\n\ntheorem aux : True := trivial\n"),
    ("helper set_option", "set_option maxHeartbeats 0\n\ntheorem aux : True := trivial\n"),
    ("helper with attribute", "@[simp] theorem aux (m : ℕ) : m * 1 = m := by simp\n"),
    ("helper attribute command", "theorem aux : True := trivial\nattribute [simp] aux\n"),
    ("helper local instance", "local instance : Div ℕ := ⟨fun _ _ => 0⟩\n"),
    ("helper scoped notation", 'scoped notation "cheat" => 0\n'),
    ("helper private theorem", "private theorem aux : True := trivial\n"),
    ("helper named like the statement's n", "theorem n : True := trivial\n"),
    ("helper with sorry", "theorem aux : False := by sorry\n"),
    ("helper ending in open in", "theorem aux : True := trivial\nopen Real in\n"),
    ("helper with a where clause", "theorem aux : True := go\nwhere go : True := trivial\n"),
    ("helper variable", "variable (h : False)\n"),
    ("helper noncomputable def", "noncomputable def cheat : ℕ := 0\n"),
    ("helper native_decide", "theorem aux : 2 ^ 10 = 1024 := by native_decide\n"),
    ("helper escaped «def»", "«def» cheat : ℕ := 0\n"),
    ("helper set_option in prefix", "set_option debug.skipKernelTC true in\ntheorem aux : 1 = 2 := by decide\n"),
]

ATTACKS: list[Attack] = [
    # `#print axioms` answers for exactly the judged constant (the quoted example, and a let rec auxiliary).
    Attack(
        "header theorem Foo.bar inside namespace Foo",
        proof="exact key.elim",
        header="import Mathlib\n\nnamespace Foo\n\ntheorem key : False := by sorry\n\ntheorem Foo.bar : True := trivial\n",
        statement="theorem bar (n : ℕ) : n + 1 = n",
        constants=(("Foo.key", "[sorryAx]"), ("Foo.Foo.bar", None), ("Foo.bar", "[sorryAx]")),
    ),
    Attack(
        "a private header theorem shadows",
        proof="exact key.elim",
        header="import Mathlib\n\nnamespace Foo\n\ntheorem key : False := by sorry\n\nprivate theorem Foo.bar : True := trivial\n",
        statement="theorem bar (n : ℕ) : n + 1 = n",
        constants=(("Foo.key", "[sorryAx]"), ("_private.Check.0.Foo.Foo.bar", None), ("Foo.bar", "[sorryAx]")),
    ),
    # option names compared unescaped; every `debug.*` option refused
    Attack(
        "escaped «debug».skipKernelTC in the header",
        proof="decide +kernel",
        header="import Mathlib\n\nset_option «debug».skipKernelTC true\n",
        statement="theorem two_plus_two : 2 + 2 = 5",
        axioms=None,
    ),
    Attack(
        "escaped debug.«skipKernelTC» in prefix",
        proof="decide +kernel",
        header="import Mathlib\n",
        statement="set_option debug.«skipKernelTC» true in\ntheorem two_plus_two : 2 + 2 = 5",
        axioms=None,
    ),
    Attack(
        "one quoted «debug.skipKernelTC»",
        proof="decide +kernel",
        header="import Mathlib\n\nset_option «debug.skipKernelTC» true\n",
        statement="theorem two_plus_two : 2 + 2 = 5",
        axioms=None,
    ),
    Attack(
        "_root_.debug.skipKernelTC",
        proof="decide +kernel",
        header="import Mathlib\n\nset_option _root_.debug.skipKernelTC true\n",
        statement="theorem two_plus_two : 2 + 2 = 5",
        axioms=None,
    ),
    Attack(
        "debug.byAsSorry in the header", header="import Mathlib\n\nset_option debug.byAsSorry true\n\nnamespace Foo\n"
    ),
    Attack("escaped debug option in prefix", statement="set_option «debug».byAsSorry true in\n" + STATEMENT),
    # a user axiom named like a native auxiliary axiom
    Attack(
        "user axiom named like a native one",
        proof="exact cheat._native.native_decide.ax_1_1.elim",
        header="import Mathlib\n\naxiom cheat._native.native_decide.ax_1_1 : False\n\nnamespace Foo\n",
        axioms="[cheat._native.native_decide.ax_1_1]",
        native=True,
    ),
    Attack(
        "user axiom named like the theorem's own native axiom",
        proof="exact Foo.bar._native.native_decide.ax_1_1.elim",
        header="import Mathlib\n\naxiom Foo.bar._native.native_decide.ax_1_1 : False\n\nnamespace Foo\n",
        axioms="[Foo.bar._native.native_decide.ax_1_1]",
        native=True,
    ),
    Attack(
        "escaped user axiom named like a native one",
        proof="exact cheat.elim",
        header="import Mathlib\n\naxiom «cheat._native.native_decide.ax_1_1» : False\n\nnamespace Foo\n",
        axioms="[«cheat._native.native_decide.ax_1_1»]",
        native=True,
    ),
    # a proof whose last token is `in` scopes whatever follows it
    Attack("proof ending in open … in", proof="simp\nopen Nat in"),
    Attack("proof ending in escaped «in»", proof="simp\nopen Nat «in»"),
    *(Attack(label, header=f"{HEADER}\n{text}\n", module=text) for label, text in FORGERIES),
    *(Attack(label, helpers=text) for label, text in HELPER_ATTACKS),
    Attack(
        # inside `namespace Foo` the helper is `Foo.id`, found before the root `id` the statement means
        "helper shadows a name of the statement",
        helpers="theorem id (m : ℕ) : m = m := rfl\n",
        statement="theorem bar (n : ℕ) : id n + 0 = n",
    ),
]

LEGITIMATE: list[Attack] = [
    Attack(
        # An unexpander is `Syntax → UnexpandM Syntax` (no `MetaM`, no logging); simp lemmas and a simprocs option
        # register no code.
        "header with an app_unexpander, simp lemmas and the simprocs option",
        header=(
            "import Mathlib\n\nset_option simprocs false\n\n"
            "@[app_unexpander Nat.succ] def unexpandSucc : Lean.PrettyPrinter.Unexpander\n"
            "  | `($_ $n) => `($n + 1)\n  | _ => throw ()\n\n"
            "@[simp, field_simps] theorem my_simp_lemma (m : ℕ) : m * 1 = m := by simp\n\n"
            "namespace Foo\n"
        ),
    ),
    Attack("a comment ends the last line", proof="omega -- linear arithmetic"),
    Attack("the last line is only a comment", proof="omega\n-- done"),
    Attack("a block comment after the proof", proof="simp /- closes it -/"),
    Attack(
        "header with term-level notation and a tactic macro",
        proof="my_simp",
        header=(
            "import Mathlib\n\n"
            'notation "𝟘" => (0 : ℕ)\n'
            'local notation:65 a " ⊕⊕ " b => a + b\n'
            'macro "my_simp" : tactic => `(tactic| simp)\n'
            'syntax "zero!" : term\n'
            'infixl:65 " +' + "'" + ' " => HAdd.hAdd\n\n'
            "namespace Foo\n"
        ),
    ),
    Attack(
        # compfiles Imo1965P4: a tactic-level syntax rewritten by `macro_rules` on `(tactic| …)` patterns
        "header with a tactic macro_rules",
        proof="my_order_tactic",
        header=(
            "import Mathlib\n\n"
            'syntax "my_order_tactic" : tactic\n'
            "macro_rules\n  | `(tactic| my_order_tactic) => `(tactic| (\n    simp))\n\n"
            "namespace Foo\n"
        ),
    ),
    Attack(
        "card notation #s_1",
        proof="have h : #s_1 ≤ #s_1 := le_rfl\nexact Finset.card_le_card subset_rfl",
        header="import Mathlib\n\nopen Finset\n\nnamespace Foo\n",
        statement="theorem bar (s_1 : Finset ℕ) : #s_1 ≤ s_1.card",
    ),
    Attack(
        "helper lemma with a fresh name", proof="exact aux n", helpers="theorem aux (m : ℕ) : m + 0 = m := by simp\n"
    ),
    Attack(
        "two helper lemmas, one a lemma",
        proof="exact aux₂ n",
        helpers="theorem aux₁ (m : ℕ) : 0 + m = m := by simp\n\n/-- used below -/\nlemma aux₂ (m : ℕ) : m + 0 = m := by\n  simp\n",
    ),
    Attack(
        "a private theorem",
        statement="private theorem bar (n : ℕ) : n + 0 = n",
        header="import Mathlib\n",
        constants=(("_private.Check.0.bar", STD),),
    ),
    Attack("a theorem in namespace A.B", header="import Mathlib\n\nnamespace A.B\n"),
    Attack("a «quoted» theorem name", statement="theorem «bar baz» (n : ℕ) : n + 0 = n"),
]


def test_the_attack_table_is_large() -> None:
    assert len(ATTACKS) >= 40
    labels = " ".join(a.label for a in ATTACKS)
    for kind in ("skipKernelTC", "native", "macro_rules", "command_elab", "#eval", "helper instance", "in"):
        assert kind in labels, kind


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize("attack", ATTACKS, ids=[a.label for a in ATTACKS])
def test_attacks_are_rejected(shared: Path, release: str, attack: Attack) -> None:
    for native in (False, True):
        lean = ReleaseLean(shared, release, attack)
        verdict = ReplVerifier(env=lean, allow_native_decide=native).verify(  # type: ignore[arg-type]
            attack.theorem(), attack.proof, helpers=attack.helpers
        )
        assert isinstance(verdict, Rejected), (attack.label, native, verdict)


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize("attack", LEGITIMATE, ids=[a.label for a in LEGITIMATE])
def test_legitimate_sources_are_accepted(shared: Path, release: str, attack: Attack) -> None:
    lean = ReleaseLean(shared, release, attack)
    verdict = ReplVerifier(env=lean).verify(attack.theorem(), attack.proof, helpers=attack.helpers)  # type: ignore[arg-type]
    assert isinstance(verdict, Verified), (attack.label, verdict)
    assert len(lean.sent) == 1


def lake_package(root: Path, forgery: str) -> Path:
    """A Lake package whose `MyPkg.Basic` imports `MyPkg.Cheat`, which holds `forgery` on its line 4."""
    (root / "lakefile.toml").write_text('name = "MyPkg"\n\n[[lean_lib]]\nname = "MyPkg"\n', encoding="utf-8")
    (root / "MyPkg").mkdir()
    (root / "MyPkg" / "Basic.lean").write_text("import MyPkg.Cheat\n\ntheorem basic : True := trivial\n")
    (root / "MyPkg" / "Cheat.lean").write_text(f"import Mathlib\n\n-- a forgery\n{forgery}\n", encoding="utf-8")
    # A dependency's module of the same shape under .lake/ is not the user's own (Mathlib has such commands).
    dep = root / ".lake" / "packages" / "dep" / "Dep"
    dep.mkdir(parents=True)
    (dep / "Meta.lean").write_text("run_cmd pure ()\n")
    return root


@pytest.mark.parametrize(("label", "forgery"), FORGERIES, ids=[f[0] for f in FORGERIES])
def test_a_forgery_in_an_imported_module_of_the_package_is_refused(
    shared: Path, tmp_path: Path, label: str, forgery: str
) -> None:
    project = lake_package(tmp_path, forgery)
    attack = Attack(label, header="import Mathlib\nimport MyPkg.Basic\n\nnamespace Foo\n")
    lean = ReleaseLean(shared, "repl", attack, settings=ReplSettings(project=project, command=("unused",)))
    verdict = ReplVerifier(env=lean).verify(attack.theorem(), "simp")  # type: ignore[arg-type]
    assert isinstance(verdict, Rejected), (label, verdict)
    assert "MyPkg/Cheat.lean:4:" in verdict.reason, verdict.reason
    assert "\n" not in verdict.reason
    # The same in a rewritten file (verify_file): the import is the file's own header.
    original = "import Mathlib\nimport MyPkg.Basic\n\ntheorem t (n : ℕ) : n + 0 = n := by\n  sorry\n"
    verdicts = ReplVerifier(env=lean).verify_file(original, original.replace("sorry", "simp"), ["t"])  # type: ignore[arg-type]
    assert isinstance(verdicts["t"], Rejected) and "MyPkg/Cheat.lean:4:" in verdicts["t"].reason


def test_term_level_notation_in_an_imported_module_is_fine(shared: Path, tmp_path: Path) -> None:
    project = lake_package(tmp_path, 'notation "𝟘" => (0 : ℕ)\nmacro "my_simp" : tactic => `(tactic| simp)')
    (project / ".lake" / "packages" / "dep" / "Dep" / "Meta.lean").write_text("macro_rules | `(x) => `(x)\n")
    attack = Attack("import", header="import Mathlib\nimport MyPkg.Basic\nimport Dep.Meta\n\nnamespace Foo\n")
    lean = ReleaseLean(shared, "repl", attack, settings=ReplSettings(project=project, command=("unused",)))
    assert isinstance(ReplVerifier(env=lean).verify(attack.theorem(), "simp"), Verified)  # type: ignore[arg-type]


def test_a_refusal_names_the_command_and_its_line() -> None:
    reason = command_extension_problem("import Mathlib\n\nmacro_rules | `(simp) => `(rfl)\n", "F.lean")
    assert reason is not None and reason.startswith("F.lean:3: `macro_rules`")
    assert command_extension_problem('-- macro_rules\ndef s := "run_cmd"\nnotation "x" => 1\n', "F.lean") is None


def test_helper_declarations_are_judged_on_their_own() -> None:
    assert helper_declarations_problem("theorem aux (m : ℕ) : m = m := rfl\n", STATEMENT) is None
    assert helper_declarations_problem("-- nothing\n", STATEMENT) is None
    for label, text in HELPER_ATTACKS:
        if label == "helper native_decide":
            assert helper_declarations_problem(text, STATEMENT, allow_native_decide=True) is None
            assert helper_declarations_problem(text, STATEMENT) is not None
        else:
            assert helper_declarations_problem(text, STATEMENT, allow_native_decide=True) is not None, label


def test_a_proof_ending_in_in_cannot_scope_a_later_local_instance_away() -> None:
    """In a rewritten file, a proof ending in `open Nat in` would make the next command `open Nat in local instance …`,
    whose scope ends at once, so a later theorem that is false under the instance could compile."""
    original = (
        "import Mathlib\n\ntheorem a (n : ℕ) : n + 0 = n := by\n  sorry\n\n"
        "local instance : Div ℕ := ⟨fun _ _ => 0⟩\n\ntheorem b : (4 : ℕ) / 2 = 2 := by\n  sorry\n"
    )
    new = original.replace("n + 0 = n := by\n  sorry", "n + 0 = n := by\n  simp\n  open Nat in").replace(
        "2 = 2 := by\n  sorry", "2 = 2 := by\n  norm_num"
    )
    lean = ReleaseLean(Path("/nonexistent"), "repl", Attack("in"))
    verdicts = ReplVerifier(env=lean).verify_file(original, new, ["a"])  # type: ignore[arg-type]
    assert isinstance(verdicts["a"], Rejected) and "`in`" in verdicts["a"].reason, verdicts


@pytest.mark.parametrize(
    "header",
    [
        "@[expose] public noncomputable section",
        "@[expose] public noncomputable meta section",
        "@[expose] public meta section",
        "@[expose] noncomputable section",
        "@[expose] section",
        "public noncomputable section",
    ],
)
def test_a_module_section_header_is_rewritten_whole(header: str) -> None:
    """lean4 src/Lean/Parser/Command.lean (leanprover/lean4@00298d032c): `sectionHeader` is
    `optional ("@[" >> nonReservedSymbol "expose" >> "] ") >> optional "public " >> optional "noncomputable " >>
    optional "meta "` before "section"; in a plain file only `noncomputable section` exists."""
    source = f"module\n\npublic import Mathlib\n\n{header}\n\ntheorem t : True := trivial\n"
    plain = plain_module_source(source)
    line = plain.split("\n")[4]
    assert line.split() == (["noncomputable", "section"] if "noncomputable" in header else ["section"]), line
    assert len(line) == len(header) and plain.count("\n") == source.count("\n")


@dataclass
class ScriptedComparator:
    """A kernel validator as `LadderVerifier` calls it: comparator's verdict on the compiled solution (it collects
    axioms from the compiled environment, never from a printed line: github.com/leanprover/comparator README)."""

    problem: str | None
    name: str = "comparator"

    def check(self, challenge: str, solution: str, theorem_names: Sequence[str]) -> str | None:
        return self.problem


@pytest.mark.parametrize(("label", "forgery"), FORGERIES[:3] + FORGERIES[10:11], ids=lambda x: str(x)[:30])
def test_strict_comparator_is_the_route_for_headers_with_command_macros(shared: Path, label: str, forgery: str) -> None:
    from lean_env.checks.validate import LadderVerifier
    from lean_env.checks.verifier import VerifierPolicy

    attack = Attack(label, header=f"{HEADER}\n{forgery}\n")
    open_policy = VerifierPolicy(command_extensions=True)
    # comparator finds the axiom the forged listing hid: rejected.
    inner = ReplVerifier(env=ReleaseLean(shared, "repl", attack), policy=open_policy)  # type: ignore[arg-type]
    caught = LadderVerifier(inner, ScriptedComparator("uses non-permitted axioms: sorryAx")).verify(
        attack.theorem(), "simp"
    )
    assert isinstance(caught, Rejected) and "sorryAx" in caught.reason
    # comparator accepts: proved, and the verdict says which tool checked it.
    inner = ReplVerifier(env=ReleaseLean(shared, "repl", attack), policy=open_policy)  # type: ignore[arg-type]
    passed = LadderVerifier(inner, ScriptedComparator(None)).verify(attack.theorem(), "simp")
    assert isinstance(passed, Verified) and passed.kernel == "comparator"
    # Without comparator the header is refused, whatever Lean answers.
    refused = ReplVerifier(env=ReleaseLean(shared, "repl", attack)).verify(attack.theorem(), "simp")  # type: ignore[arg-type]
    assert isinstance(refused, Rejected) and "--strict and comparator" in refused.reason


@pytest.mark.parametrize(("tool", "extensions"), [("comparator", True), ("lean4checker", False)])
def test_only_strict_comparator_opens_the_header(tmp_path: Path, monkeypatch: Any, tool: str, extensions: bool) -> None:
    """`--strict` with comparator lets a header hold command macros; lean4checker does not audit axioms (it replays
    the kernel only), so with it, as without `--strict`, such a header stays refused."""
    from lean_env.backends.repl import ReplSettings as Settings
    from prover.backends import make_verifier
    from prover.config import LeanConfig

    executable = tmp_path / tool
    executable.write_text("#!/bin/sh\nexit 0\n")
    executable.chmod(0o755)
    monkeypatch.setenv(f"PROVER_{tool.upper()}", str(executable))
    monkeypatch.setattr(Settings, "resolve_argv", lambda self: ["unused"])
    verifier = make_verifier(LeanConfig(project=str(tmp_path), strict=True, validator=tool))
    try:
        assert verifier.inner.policy.command_extensions is extensions  # type: ignore[attr-defined]
    finally:
        verifier.close()  # type: ignore[attr-defined]


def test_the_shared_corpus_and_minif2f_headers_are_refused_only_for_meta_code_they_hold(shared: Path) -> None:
    """Measured over ../shared: of the 759 corpus files, the refused ones each hold meta code (`initialize`, `#eval`,
    `elab`, a `dsimproc`); no miniF2F header (488 problems) is refused."""
    files = sorted((shared / "lean_corpus").rglob("*.lean"))
    assert len(files) == 759
    refused = {f.name: p for f in files if (p := command_extension_problem(f.read_text(encoding="utf-8"), str(f)))}
    assert all(re.search(r"`(initialize|#eval|elab|dsimproc)`", p) for p in refused.values()), refused
    assert len(refused) == 10 and "Full.lean" in refused and "`dsimproc`" in refused["Full.lean"]
    rows = [json.loads(line) for line in (shared / "data" / "minif2f" / "minif2f.jsonl").open(encoding="utf-8")]
    assert len(rows) == 488
    assert not [r["name"] for r in rows if command_extension_problem(r["header"], r["name"])]
