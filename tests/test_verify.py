"""The verifier: a table of real REPL compile answers (from ../shared/lean_fixtures/repl), answers in the
documented `#print axioms` format (PROTOCOLS.md; the recordings contain no `#print axioms`), adversarial
proofs (all rejected) and well-formed ones (accepted), and one end-to-end check through a real subprocess.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lean_env.backends.repl import ReplEnv, ReplSettings
from lean_env.checks.judge import judge_compile, parse_axioms_message
from lean_env.checks.static import build_check_source, static_check
from lean_env.checks.verdict import Rejected, Verified
from lean_env.checks.verifier import ReplVerifier
from lean_env.source.declarations import parse_lean_source
from lean_env.types import Theorem
from tests.print_axioms_model import printed_name
from tests.test_verify_header_attacks import FORGERIES

STANDIN = Path(__file__).parent / "standins" / "replay_repl.py"
STD = "[propext, Classical.choice, Quot.sound]"


def recorded(shared: Path, name: str, index: int) -> dict[str, Any]:
    path = shared / "lean_fixtures" / "repl" / f"{name}.expected.out"
    blocks = [b for b in re.split(r"\n[ \t]*\n", path.read_text(encoding="utf-8")) if b.strip()]
    answer: dict[str, Any] = json.loads(blocks[index])
    return answer


def axioms_info(line: int, name: str, axioms: str | None) -> dict[str, Any]:
    """An info message in the documented `#print axioms` format, positioned on `line`."""
    data = f"'{name}' does not depend on any axioms" if axioms is None else f"'{name}' depends on axioms: {axioms}"
    return {"severity": "info", "pos": {"line": line, "column": 0}, "endPos": {"line": line, "column": 6}, "data": data}


def with_messages(answer: dict[str, Any], *extra: dict[str, Any]) -> dict[str, Any]:
    return {**answer, "messages": [*answer.get("messages", []), *extra]}


# -- the table ---------------------------------------------------------------------------------------

# (fixture, answer index, theorem span, print line, extra messages, expected: "ok" or a reason fragment)
TABLE: list[tuple[str, int, tuple[int, int], int, list[dict[str, Any]], str]] = [
    # Real clean compiles (Mathlib/test/H20231020: norm_num and simp proofs) + a standard axiom list.
    ("Mathlib/test/H20231020", 1, (1, 1), 2, [axioms_info(2, "mathd_numbertheory_188", STD)], "ok"),
    ("Mathlib/test/H20231020", 2, (1, 1), 2, [axioms_info(2, "mathd_numbertheory_403", None)], "ok"),
    # A clean compile but no `#print axioms` answer: never accepted.
    ("Mathlib/test/H20231020", 3, (1, 1), 2, [], "no `#print axioms`"),
    # Real sorry warning, even with a clean-looking axiom list.
    ("tactic_sorry", 0, (1, 1), 2, [axioms_info(2, "f", STD)], "uses `sorry`"),
    ("term_sorry", 0, (1, 1), 2, [], "uses `sorry`"),
    # Real errors: unsolved goals, no goals, kernel rejection, unknown identifier.
    ("incomplete", 0, (1, 1), 2, [axioms_info(2, "f", STD)], "unsolved goals"),
    ("no_goal_sorry_2", 0, (1, 3), 4, [axioms_info(4, "x", STD)], "No goals to be solved"),
    ("app_type_mismatch", 0, (1, 4), 5, [axioms_info(5, "x", STD)], "declaration has metavariables"),
    ("self_proof_check", 0, (1, 1), 2, [axioms_info(2, "ex", STD)], "could not close the goal"),
    ("dup_msg", 2, (1, 1), 2, [axioms_info(2, "g", STD)], "Unknown identifier"),
    ("have_by_sorry", 0, (1, 2), 3, [axioms_info(3, "foo", STD)], "unsolved goals"),
    # A REPL-level failure.
    ("unknown_environment", 0, (1, 1), 2, [], "refused the source"),
    # Axioms that are not standard.
    ("import_lean", 0, (1, 1), 2, [axioms_info(2, "t", "[propext, sorryAx]")], "sorryAx"),
    ("import_lean", 0, (1, 1), 2, [axioms_info(2, "t", "[propext, Lean.ofReduceBool]")], "Lean.ofReduceBool"),
    ("import_lean", 0, (1, 1), 2, [axioms_info(2, "t", "[Lean.trustCompiler, propext]")], "Lean.trustCompiler"),
    ("import_lean", 0, (1, 1), 2, [axioms_info(2, "t", "[propext, cheat]")], "non-standard axioms: cheat"),
    # Forgery: a clean list logged from inside the proof (line 1) does not count.
    ("import_lean", 0, (1, 1), 2, [axioms_info(1, "t", STD)], "no `#print axioms`"),
    ("import_lean", 0, (1, 1), 2, [axioms_info(1, "t", STD), axioms_info(2, "t", "[sorryAx]")], "sorryAx"),
    # Two answers on the print line (one forged): ambiguous, rejected.
    ("import_lean", 0, (1, 1), 2, [axioms_info(2, "t", STD), axioms_info(2, "t", None)], "no `#print axioms`"),
    # Axioms of another declaration.
    ("import_lean", 0, (1, 1), 2, [axioms_info(2, "other", STD)], "not 't'"),
    # An error on the `#print axioms` line itself.
    (
        "import_lean",
        0,
        (1, 1),
        2,
        [{"severity": "error", "pos": {"line": 2, "column": 14}, "data": "unknown constant 't'"}],
        "unknown constant",
    ),
]


@pytest.mark.parametrize(("fixture", "index", "span", "print_line", "extra", "expected"), TABLE)
def test_compile_answers_are_judged(
    shared: Path,
    fixture: str,
    index: int,
    span: tuple[int, int],
    print_line: int,
    extra: list[dict[str, Any]],
    expected: str,
) -> None:
    answer = with_messages(recorded(shared, fixture, index), *extra)
    names = [parse_axioms_message(m["data"]) for m in extra if m.get("severity") == "info"]
    name = next((n[0] for n in names if n and n[0] != "other"), "t")
    verdict = judge_compile(answer, name=name, span=span, print_line=print_line)
    if expected == "ok":
        assert isinstance(verdict, Verified) and verdict.checker == "lean-repl"
        assert set(verdict.axioms) <= {"propext", "Classical.choice", "Quot.sound"}
    else:
        assert isinstance(verdict, Rejected), verdict
        assert expected in verdict.reason


def test_native_axioms_are_allowed_only_when_configured(shared: Path) -> None:
    answer = with_messages(recorded(shared, "import_lean", 0), axioms_info(2, "t", "[propext, Lean.ofReduceBool]"))
    assert isinstance(judge_compile(answer, name="t", span=(1, 1), print_line=2), Rejected)
    allowed = judge_compile(answer, name="t", span=(1, 1), print_line=2, allow_native_decide=True)
    assert isinstance(allowed, Verified) and "Lean.ofReduceBool" in allowed.axioms


def test_axioms_messages_parse() -> None:
    assert parse_axioms_message("'foo' depends on axioms: [propext, Classical.choice, Quot.sound]") == (
        "foo",
        ("propext", "Classical.choice", "Quot.sound"),
    )
    assert parse_axioms_message("'A.b' depends on axioms: [propext,\n Classical.choice]") == (
        "A.b",
        ("propext", "Classical.choice"),
    )
    assert parse_axioms_message("'foo' does not depend on any axioms") == ("foo", ())
    assert parse_axioms_message("foo : Nat") is None


def test_errors_in_other_declarations_are_ignored_only_for_files(shared: Path) -> None:
    error = {"severity": "error", "pos": {"line": 1, "column": 0}, "data": "unsolved goals"}
    answer = {"env": 0, "messages": [error, axioms_info(9, "t", STD)]}
    assert isinstance(judge_compile(answer, name="t", span=(4, 6), print_line=9), Rejected)
    in_file = judge_compile(
        answer, name="t", span=(4, 6), print_line=9, errors_anywhere=False, outside_ok=[(1, 2), (4, 6)]
    )
    assert isinstance(in_file, Verified)
    stray = {"env": 0, "messages": [{**error, "pos": {"line": 7, "column": 0}}, axioms_info(9, "t", STD)]}
    assert isinstance(
        judge_compile(stray, name="t", span=(4, 6), print_line=9, errors_anywhere=False, outside_ok=[(1, 2)]),
        Rejected,
    )


# -- adversarial proofs: every one is rejected before Lean ----------------------------------------------

THEOREM = Theorem("Foo.bar", "theorem bar (n : Nat) : n + 0 = n", header="import Mathlib\nopen Real\n\nnamespace Foo\n")

ADVERSARIAL = [
    "sorry",
    "admit",
    "simp\n  sorry",
    "exact sorryAx _ false",
    "exact (sorry : n + 0 = n)",
    "native_decide",
    "decide +native",
    "run_tac Lean.Elab.Tactic.closeMainGoal",
    "simp\n#eval IO.println \"'Foo.bar' depends on axioms: [propext]\"",
    "simp\n#print axioms Nat.add_zero",
    "set_option debug.skipKernelTC true in simp",
    "simp\naxiom cheat : False",
    "exact cheat\n\ntheorem cheat2 : False := by exact absurd",
    "  simp\nexact h",  # dedents out of the `by` block
    "simp\n@[simp] theorem x : True := trivial",
    "simp\nend Foo",
    "simp\nnamespace Bar",
    'macro "cheat" : tactic => `(tactic| sorry)',
    'elab "cheat" : tactic => pure ()',
    "simp /- unterminated comment",
    'exact "unterminated string',
    "exact unsafeCast ()",
    'exact (IO.println "x")',
    "attribute [simp] Nat.add_zero in simp",
    "simp\nwhere foo : False := absurd",
    "simp\ndecreasing_by simp",
    "",
    "-- only a comment",
]


@pytest.mark.parametrize("proof", ADVERSARIAL)
def test_adversarial_proofs_are_rejected_without_lean(shared: Path, proof: str) -> None:
    # No request is recorded: a proof that reached Lean would crash the stand-in, which the check below catches.
    empty = shared / "lean_fixtures" / "repl" / "import_lean.in"
    env = ReplEnv(ReplSettings(command=(sys.executable, str(STANDIN), str(empty))))
    with ReplVerifier(env=env) as verifier:
        verdict = verifier.verify(THEOREM, proof)
        assert isinstance(verdict, Rejected), proof
        assert "Lean failed" not in verdict.reason
        assert env.requests == 0
    env.close()


@pytest.mark.parametrize(
    "proof",
    [
        "simp",
        "-- sorry is only mentioned here\nsimp",
        "induction n with\n| zero => rfl\n| succ k ih => simp",
        "nlinarith [sq_nonneg (n - 1),\n  sq_nonneg n]",
        "have h : n + 0 = n := by\n  simp\nexact h",
        'simp [show "sorry" = "sorry" from rfl]',
        "open Nat in simp",
        "calc n + 0 = n := by simp\n  _ = n := rfl",
    ],
)
def test_well_formed_proofs_pass_the_text_checks(proof: str) -> None:
    assert static_check(THEOREM, proof) is None
    source = build_check_source(THEOREM, proof)
    assert source.text.rstrip().endswith("#print axioms _root_.Foo.bar")
    assert source.print_line == source.text.count("\n")


@pytest.mark.parametrize("proof", ["have h : #s ≤ #s := le_rfl\nexact rfl", "open Finset in\nshow #s = _\nrfl"])
def test_card_notation_is_not_a_command(proof: str) -> None:
    """`#s` is Mathlib's `Finset.card` notation, not a `#command`."""
    theorem = Theorem("Foo.card", "theorem card (s : Finset Nat) : #s = s.card", header="import Mathlib\nopen Finset\n")
    assert static_check(theorem, proof) is None
    assert build_check_source(theorem, proof).name.text == "card"


def test_examples_get_a_printable_name() -> None:
    source = build_check_source(Theorem("ex", "example (a : Nat) : a = a"), "rfl")
    assert "theorem _verify_example (a : Nat) : a = a := by" in source.text
    assert source.name.text == "_verify_example"


@pytest.mark.parametrize("prefix", ["", "set_option maxHeartbeats 400000 in\n", "open Real in\n"])
def test_a_compfiles_problem_checks_like_a_theorem(prefix: str) -> None:
    """compfiles' `problem` is a synonym of `theorem` (`lean_env.source.document.TARGET_KEYWORDS`, dwrensha/compfiles
    ProblemExtraction.lean): the check source keeps its `… in` prefixes and its name, as for a theorem."""
    header = "import Mathlib\nimport ProblemExtraction\n\nproblem_file\n"
    source = build_check_source(Theorem("foo", f"{prefix}problem foo : (2 : ℕ) ≤ 5", header=header), "norm_num")
    assert f"{prefix}problem foo : (2 : ℕ) ≤ 5 := by\n  norm_num\n#print axioms _root_.foo\n" in source.text
    assert source.name.text == "foo"


# -- end to end through a real subprocess ----------------------------------------------------------------


def transcript(tmp_path: Path, cmd: str, answer: dict[str, Any]) -> ReplSettings:
    (tmp_path / "v.in").write_text(json.dumps({"cmd": cmd}, ensure_ascii=False) + "\n")
    (tmp_path / "v.expected.out").write_text(json.dumps(answer, ensure_ascii=False) + "\n")
    return ReplSettings(command=(sys.executable, str(STANDIN), str(tmp_path / "v.in")))


def test_verify_sends_one_fresh_command_and_accepts(shared: Path, tmp_path: Path) -> None:
    theorem = Theorem(
        "mathd_numbertheory_188", "theorem mathd_numbertheory_188 : Nat.gcd 180 168 = 12", "import Mathlib"
    )
    source = build_check_source(theorem, "norm_num")
    # Lean's real answer to this theorem (H20231020) plus the documented `#print axioms` answer.
    answer = with_messages(
        recorded(shared, "Mathlib/test/H20231020", 1), axioms_info(source.print_line, theorem.name, STD)
    )
    # The imports are elaborated once, alone; the check is compiled on their env
    # with the import lines blanked, so the answer's line numbers are those of the whole source.
    imports_line = "import Mathlib"
    check = {"cmd": "\n" * imports_line.count("\n") + source.text[len(imports_line) :], "env": 0}
    (tmp_path / "v.in").write_text(
        json.dumps({"cmd": imports_line}) + "\n\n" + json.dumps(check, ensure_ascii=False) + "\n"
    )
    (tmp_path / "v.expected.out").write_text(
        '{"env": 0}\n\n' + json.dumps({**answer, "env": 1}, ensure_ascii=False) + "\n"
    )
    with ReplVerifier(ReplSettings(command=(sys.executable, str(STANDIN), str(tmp_path / "v.in")))) as verifier:
        verdict = verifier.verify(theorem, "norm_num")
    assert verdict == Verified("lean-repl", ("propext", "Classical.choice", "Quot.sound"))


def test_verify_rejects_a_sorry_warning_from_lean(shared: Path, tmp_path: Path) -> None:
    # `exact?` passes the text checks; suppose Lean's answer carries the real sorry warning (tactic_sorry).
    theorem = Theorem("f", "theorem f : Nat", "")
    source = build_check_source(theorem, "exact?")
    warning = recorded(shared, "tactic_sorry", 0)["messages"][0]
    answer = {"env": 0, "messages": [{**warning, "pos": {"line": source.span[0], "column": 8}}]}
    with ReplVerifier(transcript(tmp_path, source.text, answer)) as verifier:
        verdict = verifier.verify(theorem, "exact?")
    assert isinstance(verdict, Rejected) and "sorry" in verdict.reason


def test_verify_timeout_is_a_rejection(shared: Path, tmp_path: Path) -> None:
    theorem = Theorem("f", "theorem f : 1 = 1", "")
    source = build_check_source(theorem, "rfl")
    settings = transcript(tmp_path, source.text, {"env": 0})
    settings = ReplSettings(command=(*(settings.command or ()), "--fault", "hang"))
    with ReplVerifier(settings, timeout_s=0.5) as verifier:
        verdict = verifier.verify(theorem, "rfl")
    assert isinstance(verdict, Rejected) and "within 0.5 s" in verdict.reason


# -- whole files -------------------------------------------------------------------------------------------


class ScriptedEnv:
    """Answers `run_command` by computing messages from the compiled text (for verify_file's bookkeeping)."""

    def __init__(self, settings: ReplSettings, respond: Any) -> None:
        self.settings = settings
        self.respond = respond
        self.sent: list[str] = []

    def run_command(self, cmd: str, env: int | None = None, timeout: float | None = None) -> dict[str, Any]:
        assert env is None, "the verifier must compile from scratch"
        self.sent.append(cmd)
        result: dict[str, Any] = self.respond(cmd)
        return result

    def close(self) -> None:
        pass


ORIGINAL = """import Mathlib

namespace Foo

theorem a (n : Nat) : n + 0 = n := by
  sorry

def helper : Nat := 3

example : helper = 3 := by sorry

theorem c : True := by sorry

end Foo
"""


def rewritten(a: str = "simp", ex: str | None = "rfl", c: str = "trivial") -> str:
    text = ORIGINAL.replace("by\n  sorry", f"by\n  {a}", 1).replace("True := by sorry", f"True := by\n  {c}")
    return text if ex is None else text.replace("helper = 3 := by sorry", f"helper = 3 := by\n  {ex}")


def clean_axioms(cmd: str, bad: dict[str, str] | None = None) -> dict[str, Any]:
    messages = []
    for number, line in enumerate(cmd.split("\n"), start=1):
        if line.startswith("#print axioms "):
            name = printed_name(line.removeprefix("#print axioms "))
            messages.append(axioms_info(number, name, (bad or {}).get(name, STD)))
    return {"env": 0, "messages": messages}


def test_verify_file_judges_each_theorem() -> None:
    settings = ReplSettings(command=("unused",))
    env = ScriptedEnv(settings, lambda cmd: clean_axioms(cmd, {"Foo.c": "[sorryAx]"}))
    verifier = ReplVerifier(env=env)  # type: ignore[arg-type]
    names = ["Foo.a", "Foo.example_10", "Foo.c"]
    verdicts = verifier.verify_file(ORIGINAL, rewritten(), names)
    assert list(verdicts) == names
    assert isinstance(verdicts["Foo.a"], Verified)
    assert isinstance(verdicts["Foo.example_10"], Verified)
    assert isinstance(verdicts["Foo.c"], Rejected) and "sorryAx" in verdicts["Foo.c"].reason
    (sent,) = env.sent
    assert "theorem example_10 : helper = 3" in sent and sent.rstrip().endswith("#print axioms _root_.Foo.c")


def test_verify_file_positions_errors_per_theorem() -> None:
    new = rewritten(ex=None)
    line_of_a = new.split("\n").index("  simp") + 1

    def respond(cmd: str) -> dict[str, Any]:
        answer = clean_axioms(cmd)
        answer["messages"].append({"severity": "error", "pos": {"line": line_of_a, "column": 2}, "data": "simp failed"})
        return answer

    verifier = ReplVerifier(env=ScriptedEnv(ReplSettings(command=("unused",)), respond))  # type: ignore[arg-type]
    verdicts = verifier.verify_file(ORIGINAL, new, ["Foo.a", "Foo.c"])
    assert isinstance(verdicts["Foo.a"], Rejected) and "simp failed" in verdicts["Foo.a"].reason
    assert isinstance(verdicts["Foo.c"], Verified)


def test_verify_file_rejects_tampering_and_adversarial_proofs() -> None:
    env = ScriptedEnv(ReplSettings(command=("unused",)), clean_axioms)
    verifier = ReplVerifier(env=env)  # type: ignore[arg-type]
    changed_statement = rewritten().replace("theorem c : True", "theorem c : 1 = 1")
    verdicts = verifier.verify_file(ORIGINAL, changed_statement, ["Foo.c"])
    assert "statement" in verdicts["Foo.c"].reason  # type: ignore[union-attr]
    changed_def = rewritten().replace("def helper : Nat := 3", "def helper : Nat := 4")
    verdicts = verifier.verify_file(ORIGINAL, changed_def, ["Foo.a", "Foo.c", "Foo.example_10"])
    assert all(isinstance(v, Rejected) and "outside" in v.reason for v in verdicts.values())
    verdicts = verifier.verify_file(ORIGINAL, rewritten(a="native_decide", ex=None, c="sorry"), ["Foo.a", "Foo.c"])
    assert all(isinstance(v, Rejected) for v in verdicts.values())
    # Only the named theorems' proofs may change: the example's changed too.
    verdicts = verifier.verify_file(ORIGINAL, rewritten(), ["Foo.a"])
    assert "outside" in verdicts["Foo.a"].reason  # type: ignore[union-attr]
    assert verifier.verify_file(ORIGINAL, rewritten(), ["Foo.nope"])["Foo.nope"].reason.startswith("no theorem")  # type: ignore[union-attr]
    assert not env.sent, "nothing above should have reached Lean"


def test_verify_retries_once_after_a_crash(shared: Path, tmp_path: Path) -> None:
    theorem = Theorem("f", "theorem f : 1 = 1", "")
    source = build_check_source(theorem, "rfl")
    answer = {"env": 0, "messages": [axioms_info(source.print_line, "f", None)]}
    settings = transcript(tmp_path, source.text, answer)
    once = str(tmp_path / "fired")
    settings = ReplSettings(command=(*(settings.command or ()), "--fault", "crash", "--once", once))
    with ReplVerifier(settings) as verifier:
        assert verifier.verify(theorem, "rfl") == Verified("lean-repl", ())
        assert verifier._env.restarts == 1


def test_verify_file_finds_an_example_whose_line_moved() -> None:
    """A longer proof above an example shifts its line-based name; it is still judged, not lost."""
    original = "theorem a : True := by\n  sorry\n\nexample : True := by\n  sorry\n"
    names = [d.name for d in parse_lean_source(original).theorems]
    new = "theorem a : True := by\n  skip\n  trivial\n\nexample : True := by\n  trivial\n"
    verifier = ReplVerifier(env=ScriptedEnv(ReplSettings(command=("unused",)), clean_axioms))  # type: ignore[arg-type]
    verdicts = verifier.verify_file(original, new, names)
    assert all(isinstance(v, Verified) for v in verdicts.values()), verdicts


# -- every release: the judge over the REPL's recorded answers ------------------------

# For each recorded session (a `.in` file of the REPL's own test suite, same name at every release), the
# meaning of each answer, in order: "ok" a clean compile (errors none, no sorry warning: info messages and
# linter warnings are fine), "sorry" a sorry warning (``declaration uses 'sorry'`` up to v4.27,
# ``declaration uses `sorry` `` from v4.28), "error" an error message, "refused" a REPL-level error,
# "-" a request that is not a compile (tactic mode, pickling), not judged. Read from the recordings by hand.
RELEASE_MEANINGS: dict[str, str] = {
    "Mathlib/test/20240209": "sorry -",
    "Mathlib/test/H20231020": "ok ok ok ok",  # v4.19 adds `#eval`-style info messages: still ok
    "Mathlib/test/H20231110": "ok ok",
    "Mathlib/test/H20231115": "ok sorry -",
    "Mathlib/test/H20231115_2": "ok sorry",
    "Mathlib/test/H20231115_3": "ok error",
    "Mathlib/test/H20231215": "ok -",
    "Mathlib/test/H20231215_2": "- sorry",
    "Mathlib/test/exact": "ok sorry - sorry -",
    "Mathlib/test/file_env": "ok sorry ok",
    "Mathlib/test/induction": "ok sorry - - -",
    "Mathlib/test/line_breaks": "ok sorry",
    "Mathlib/test/on_goal": "ok sorry -",
    "Mathlib/test/pickle": "ok sorry -",
    "Mathlib/test/pickle_2": "- -",
    "Mathlib/test/placeholder_synthesis": "ok error sorry - -",
    "all_tactics": "ok",
    "all_tactics-20250622": "ok -",
    "app_type_mismatch": "error sorry - - -",
    "app_type_mismatch2": "error sorry - - - - -",
    "assumption_proof": "sorry -",
    "by_cases": "sorry - - -",
    "calc": "sorry",
    "def_eval": "ok ok",
    "dup_msg": "ok ok error",
    "dup_sorries": "sorry sorry",
    "file": "ok",
    "file2": "ok",
    "file_env": "ok ok ok",
    "have_by_sorry": "error sorry -",
    "import_lean": "ok",
    "incomplete": "error error",
    "infotree": "ok",  # an unused-variable linter warning only
    "infotree_theorem": "ok",
    "invalid_line_break": "error error",
    "invalid_tactic": "sorry -",
    # The session changed at v4.32: a first command whose `sorry` sits in column 0 ends the `by` block.
    "line_breaks": "sorry ok",
    "line_breaks@v4.32.0": "error sorry ok",
    "line_breaks@repl": "error sorry ok",
    "name_generator": "sorry - - - - - - - -",
    "no_goal_sorry": "error",
    "no_goal_sorry_2": "error",
    "options": "ok ok ok",
    "pickle_environment": "ok - - ok",
    "pickle_environment_with_imports": "ok ok - - ok",
    "pickle_open": "ok ok ok -",
    "pickle_open_2": "- ok",
    "pickle_open_scoped": "ok ok sorry -",
    "pickle_open_scoped_2": "- sorry",
    "pickle_proof_state_1": "ok sorry - - - - - -",
    "pickle_proof_state_2": "- -",
    "pickle_proof_state_env": "ok sorry - - - - - -",
    "proof_branching": "sorry - - - -",
    "proof_branching2": "sorry - - - - - -",
    "proof_step": "sorry - - -",
    "proof_transitivity": "sorry - sorry -",
    "readme": "sorry - -",
    "root_goals": "ok - -",
    "self_proof_apply_check": "error sorry -",
    "self_proof_check": "error sorry - sorry - sorry - sorry -",
    "self_proof_exact_check": "error sorry -",
    "self_proof_rw": "error sorry -",
    "sorry_hypotheses": "sorry -",
    "synthesize_placeholder": "error",
    "tactic_mode_sorry": "sorry -",
    "tactic_sorry": "sorry",
    "term_sorry": "sorry",
    "trace_simp": "ok ok ok ok sorry - - ok",
    "unfinished_tactic_block": "error",
    "unknown_environment": "refused",
    "unknown_proof_state": "sorry -",
    "unknown_tactic": "sorry -",
    "variables": "ok ok sorry",
}

FAR = 10**6  # a span covering every line of a recorded command; the `#print axioms` answer sits after it


def _release_folders(shared: Path) -> list[Path]:
    root = shared / "lean_fixtures"
    return [*sorted((root / "repl_versions").glob("v*")), root / "repl"]


def _json_blocks(path: Path) -> list[dict[str, Any]]:
    # Recorded requests may hold raw newlines inside strings (line_breaks.in): strict=False reads them.
    text = path.read_text(encoding="utf-8")
    return [json.loads(b, strict=False) for b in re.split(r"\n[ \t]*\n", text) if b.strip()]


@pytest.mark.parametrize("release", ["v4.19.0", "v4.24.0", "v4.27.0", "v4.28.0", "v4.32.0", "repl"])
def test_judge_over_every_release(shared: Path, release: str) -> None:
    """Every compile answer the REPL recorded at this release is judged as its meaning says.

    Each judged answer gets the standard `#print axioms` answer appended (Lean's format, `printAxiomsOf` in
    `src/Lean/Elab/Print.lean`), so only the recorded messages decide: a sorry warning in either wording
    and any error reject; clean compiles are accepted.
    """
    (folder,) = [f for f in _release_folders(shared) if f.name == release]
    sessions = sorted(folder.rglob("*.expected.out"))
    assert len(sessions) > 60
    judged = {"ok": 0, "sorry": 0, "error": 0, "refused": 0}
    for out in sessions:
        name = str(out.relative_to(folder))[: -len(".expected.out")]
        meanings = RELEASE_MEANINGS.get(f"{name}@{release}", RELEASE_MEANINGS[name]).split()
        answers = _json_blocks(out)
        assert len(answers) == len(meanings), name
        for index, (answer, meaning) in enumerate(zip(answers, meanings, strict=True)):
            if meaning == "-":
                continue
            if name == "root_goals":
                # The request asked `"rootGoals": true` (repl README): `sorries` then holds every declaration's
                # root goal, not sorries. The verifier never asks for root goals.
                answer = {k: v for k, v in answer.items() if k != "sorries"}
            full = with_messages(answer, axioms_info(FAR + 1, "t", STD)) if "env" in answer else answer
            verdict = judge_compile(full, name="t", span=(1, FAR), print_line=FAR + 1)
            where = f"{release}/{name}[{index}]"
            judged[meaning] += 1
            if meaning == "ok":
                assert isinstance(verdict, Verified), (where, verdict)
            else:
                assert isinstance(verdict, Rejected), where
                fragment = {"sorry": "uses `sorry`", "error": "Lean error", "refused": "refused the source"}[meaning]
                assert fragment in verdict.reason, (where, verdict.reason)
    assert judged["sorry"] > 30 and judged["error"] > 10 and judged["ok"] > 30, judged


@pytest.mark.parametrize(
    "text",
    [
        "declaration uses 'sorry'",  # Lean <= v4.27 (recorded)
        "declaration uses `sorry`",  # Lean >= v4.28 (recorded)
        "declaration `foo` uses `sorry`",  # the proposed wording with the name
        "declaration 'Foo.«bar baz»' uses 'sorry'",
    ],
)
def test_every_sorry_warning_form_rejects(text: str) -> None:
    warning = {"severity": "warning", "pos": {"line": 1, "column": 8}, "data": text}
    answer = {"env": 0, "messages": [warning, axioms_info(2, "foo", STD)]}
    verdict = judge_compile(answer, name="foo", span=(1, 1), print_line=2)
    assert isinstance(verdict, Rejected) and "sorry" in verdict.reason


# -- `#print axioms` answers built from Lean's source -----------------------------------------------------
# `src/Lean/Elab/Print.lean` at leanprover/lean4@02637a033e9d4f8f99001e01925625452fbb77c4: `printAxiomsOf`
# logs one info per constant, `'{constName}' does not depend on any axioms` or
# `'{constName}' depends on axioms: {axioms.qsort Name.lt |>.toList}` (a list, `[a, b]`, that the
# formatter wraps onto further lines when long); `elabPrintAxioms` throws
# "cannot use `#print axioms` in a `module`; consider temporarily removing the `module` header or placing
# the command in a separate file" when the environment's header is a module. Since lean4#12217 native
# evaluation adds auxiliary axioms `<decl>._native.<tactic>.ax_<i>_<j>` (wrapped as in formal-conjectures#5606).

NATIVE_WRAPPED = (
    "[propext, Classical.choice, Quot.sound,\n foo._native.native_decide.ax_1_1, foo._native.native_decide.ax_1_2]"
)
MODULE_ERROR = (
    "cannot use `#print axioms` in a `module`; consider temporarily removing the `module` header or placing "
    "the command in a separate file"
)

# (messages on top of a clean compile of `foo` on line 1, print line 2; allow_native_decide; expected)
PRINT_AXIOMS_ROWS: list[tuple[list[dict[str, Any]], bool, str]] = [
    ([axioms_info(2, "foo", STD)], False, "ok"),
    ([axioms_info(2, "foo", None)], False, "ok"),
    ([axioms_info(2, "foo", "[propext,\n Classical.choice,\n Quot.sound]")], False, "ok"),
    ([axioms_info(2, "foo", NATIVE_WRAPPED)], False, "allowed only with allow_native_decide"),
    ([axioms_info(2, "foo", NATIVE_WRAPPED)], True, "ok"),
    ([axioms_info(2, "foo", "[propext, foo._native.bv_decide.ax_1_1]")], False, "native_decide"),
    ([axioms_info(2, "foo", "[propext, foo._native.bv_decide.ax_1_1]")], True, "ok"),
    ([axioms_info(2, "foo", "[foo._native.native_decide.ax_1_1, sorryAx]")], True, "sorryAx"),
    ([axioms_info(2, "foo", "[Lean.ofReduceBool, Lean.trustCompiler, propext]")], True, "ok"),
    ([axioms_info(2, "foo", "[Lean.ofReduceNat, propext]")], False, "Lean.ofReduceNat"),
    ([axioms_info(2, "foo", "[Lean.ofReduceNat, propext]")], True, "ok"),
    ([axioms_info(2, "foo", "[Classical.choice, foo_native_ax]")], True, "non-standard axioms: foo_native_ax"),
    ([axioms_info(2, "foo", "[Classical.choice, Foo.bar._native]")], False, "native"),
    ([axioms_info(2, "Foo.«foo bar»", STD)], False, "not 'foo'"),
    # An ambiguous name makes `cs.forM printAxiomsOf` print two answers: never accepted.
    ([axioms_info(2, "foo", STD), axioms_info(2, "Bar.foo", STD)], False, "no `#print axioms`"),
    # The module refusal is an error on the print line (and leaves no listing).
    ([{"severity": "error", "pos": {"line": 2, "column": 0}, "data": MODULE_ERROR}], False, "in a `module`"),
]


@pytest.mark.parametrize(("extra", "native", "expected"), PRINT_AXIOMS_ROWS)
def test_print_axioms_answers_from_leans_source(extra: list[dict[str, Any]], native: bool, expected: str) -> None:
    verdict = judge_compile(
        {"env": 0, "messages": extra}, name="foo", span=(1, 1), print_line=2, allow_native_decide=native
    )
    if expected == "ok":
        assert isinstance(verdict, Verified), verdict
    else:
        assert isinstance(verdict, Rejected) and expected in verdict.reason, verdict


def test_native_auxiliary_axioms_are_native() -> None:
    from lean_env.checks.judge import JudgedName, axiom_problem, is_native_axiom

    assert is_native_axiom("SierpinskiNumber.selfridge_78557._native.native_decide.ax_1_8")
    assert is_native_axiom("Lean.ofReduceBool") and not is_native_axiom("my_native_lemma")
    reason = axiom_problem(["propext", "foo._native.native_decide.ax_1_1"])
    assert reason is not None and "native_decide" in reason and "non-standard" not in reason
    foo = JudgedName.parse("foo")
    assert axiom_problem(["propext", "foo._native.native_decide.ax_1_1"], True, foo) is None
    assert axiom_problem(["propext", "«foo»._native.bv_decide.ax_2_1"], True, foo) is None
    # Only the judged declaration's own auxiliary axioms: a user axiom (or another lemma's) named like one is not.
    for other in ("cheat._native.native_decide.ax_1_1", "foo.bar._native.native_decide.ax_1_1", "foo._native.x"):
        refused = axiom_problem(["propext", other], True, foo)
        assert refused is not None and "not of the judged theorem" in refused, other
    assert axiom_problem(["propext", "foo._native.native_decide.ax_1_1"], allow_native_decide=True) is not None
    private_foo = JudgedName.parse("foo", private=True)
    assert axiom_problem(["_private.M.0.foo._native.native_decide.ax_1_1"], True, private_foo) is None


# -- module files -----------------------------------------------------------------------

MODULE_HEADER = (
    "module\n\npublic import Mathlib\npublic meta import Lean.Elab.Command\nimport all Foo.Bar\n\n"
    "@[expose] public section\n\nnamespace Foo\n"
)


def module_aware_lean(cmd: str) -> dict[str, Any]:
    """Lean's answer as `elabPrintAxioms` gives it: refused in a module, the listing otherwise."""
    from lean_env.checks.static import has_module_header

    if has_module_header(cmd):
        line = cmd.rstrip("\n").count("\n") + 1
        return {"env": 0, "messages": [{"severity": "error", "pos": {"line": line, "column": 0}, "data": MODULE_ERROR}]}
    return clean_axioms(cmd)


def test_module_files_are_checked_as_plain_files() -> None:
    from lean_env.checks.static import plain_module_source

    theorem = Theorem("Foo.bar", "public theorem bar (n : Nat) : n + 0 = n", header=MODULE_HEADER)
    source = build_check_source(theorem, "simp")
    plain = source.text
    assert "module" not in plain and "public" not in plain and "meta" not in plain and "expose" not in plain
    assert "import Mathlib" in plain and "import Lean.Elab.Command" in plain and "import     Foo.Bar" in plain
    assert "\n                 section\n" in plain  # `@[expose] public section` -> `section`, same columns
    assert plain.count("\n") == theorem.source_with_proof("simp").count("\n") + 1  # same lines + `#print axioms`
    assert plain_module_source("import Mathlib\ntheorem public_x : True := trivial\n").startswith("import Mathlib")

    verifier = ReplVerifier(env=ScriptedEnv(ReplSettings(command=("unused",)), module_aware_lean))  # type: ignore[arg-type]
    assert isinstance(verifier.verify(theorem, "simp"), Verified)
    assert isinstance(verifier.verify(theorem, "sorry"), Rejected)


def test_module_file_verify_file_compiles_as_plain_file() -> None:
    original = MODULE_HEADER + "\npublic theorem a (n : Nat) : n + 0 = n := by\n  sorry\n\nend Foo\n"
    new = original.replace("  sorry", "  simp")
    names = [d.name for d in parse_lean_source(original).theorems]
    env = ScriptedEnv(ReplSettings(command=("unused",)), module_aware_lean)
    verdicts = ReplVerifier(env=env).verify_file(original, new, names)  # type: ignore[arg-type]
    assert all(isinstance(v, Verified) for v in verdicts.values()), verdicts
    (sent,) = env.sent
    assert not sent.lstrip().startswith("module") and sent.count("\n") == new.count("\n") + len(names)


# -- the adversarial table: bogus proofs, each with the answer real Lean gives ------------------------------
#
# Each row pairs a proof of `THEOREM` (or of the row's own theorem) with what real Lean answers when the
# checked source reaches it: a recorded answer (file + index in ../shared/lean_fixtures/repl*) where one
# exists, otherwise an answer built from the message formats in Lean's source (cited per kind below). The
# verifier sees that answer through `ScriptedEnv`, so a row is rejected either before Lean (text checks)
# or by judging Lean's answer; zero rows may be accepted, and every well-formed row must be.

SORRY_WARNING_OLD = "declaration uses 'sorry'"  # recorded, repl_versions/v4.19.0/tactic_sorry[0]
SORRY_WARNING_NEW = "declaration uses `sorry`"  # recorded, repl/tactic_sorry[0]
SELF_REFERENCE = (  # recorded, repl/self_proof_exact_check[0] (same text in self_proof_apply_check, self_proof_rw)
    "fail to show termination for\n  bar\nwith errors\nfailed to infer structural recursion:\nno parameters suitable "
    "for structural recursion\n\nwell-founded recursion cannot be used, `bar` does not take any (non-fixed) arguments"
)
UNSOLVED = "unsolved goals\nn : ℕ\n⊢ n + 0 = n"  # the format of repl/incomplete[0]
UNKNOWN_ID = "Unknown identifier `foo_missing`"  # recorded wording, repl/dup_msg[2]
# Lean `src/Lean/Elab/Tactic/LibrarySearch.lean` (exact? / apply? / exact?%), lean4@09ef1835.
EXACT_PCT_ERROR = "`exact?%` could not close the goal. Try `by apply?` to see partial suggestions."
APPLY_INFO = "Try this: refine Nat.le_of_lt_succ ?_"
# Lean `src/Lean/Exception.lean` `throwMaxRecDepthAt` / `maxRecDepthErrorMessage`.
MAX_REC_DEPTH = (
    "maximum recursion depth has been reached\nuse `set_option maxRecDepth <num>` to increase limit\n"
    "use `set_option diagnostics true` to get diagnostic information"
)
PARSE_EOF = "unexpected end of input; expected ')', ',' or ':'"  # parser error format, src/Lean/Parser/Types.lean
NATIVE_AUX = "[propext, Foo.bar._native.native_decide.ax_1_1]"  # lean4#12217 naming

STD_ANSWER: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LeanAnswer:
    """What Lean answers for the checked source: messages on the theorem's line, then `#print axioms`."""

    messages: tuple[tuple[str, str], ...] = ()  # (severity, data)
    axioms: str | None = STD  # None: "does not depend on any axioms"
    source: str = ""  # where the answer comes from
    elsewhere: tuple[tuple[int, str], ...] = ()  # (line, error) outside the theorem
    listed: bool = True  # False: Lean never reached the `#print axioms` line (`#exit` stops the file)

    def respond(self, cmd: str) -> dict[str, Any]:
        lines = cmd.rstrip("\n").split("\n")
        print_line = len(lines)
        name = printed_name(lines[-1].removeprefix("#print axioms "))
        decl_line = max(i for i, ln in enumerate(lines, start=1) if re.match(r"\s*theorem\b", ln))
        messages: list[dict[str, Any]] = [
            {"severity": sev, "pos": {"line": decl_line, "column": 8}, "data": data} for sev, data in self.messages
        ]
        messages += [{"severity": "error", "pos": {"line": ln, "column": 0}, "data": d} for ln, d in self.elsewhere]
        if self.listed:
            messages.append(axioms_info(print_line, name, self.axioms))
        return {"env": 0, "messages": messages}


SORRY_ANSWER = LeanAnswer((("warning", SORRY_WARNING_NEW),), "[sorryAx]", "repl/tactic_sorry[0] + sorryAx")
SORRY_ANSWER_OLD = LeanAnswer((("warning", SORRY_WARNING_OLD),), "[sorryAx]", "v4.19.0/tactic_sorry[0] + sorryAx")
ADMIT_ANSWER = LeanAnswer(
    (("info", APPLY_INFO), ("warning", SORRY_WARNING_OLD)), "[sorryAx]", "LibrarySearch.lean admitGoal"
)
NATIVE_OLD = LeanAnswer((), "[propext, Lean.ofReduceBool]", "Lean <= v4.26: native_decide uses Lean.ofReduceBool")
NATIVE_NEW = LeanAnswer((), NATIVE_AUX, "lean4#12217: one auxiliary axiom per native computation")
CHEAT = LeanAnswer((), "[cheat]", "#print axioms lists the user axiom (Print.lean printAxiomsOf)")
CLEAN = LeanAnswer((), STD, "recorded clean compile (Mathlib/test/H20231020[1]) + standard axioms")
SELF_REF = LeanAnswer((("error", SELF_REFERENCE),), "[sorryAx]", "repl/self_proof_exact_check[0]")
ERROR_UNSOLVED = LeanAnswer((("error", UNSOLVED),), "[sorryAx]", "repl/incomplete[0] format")
ERROR_UNKNOWN = LeanAnswer((("error", UNKNOWN_ID),), "[sorryAx]", "repl/dup_msg[2] format")
DEEP = LeanAnswer((("error", MAX_REC_DEPTH),), "[sorryAx]", "Lean maxRecDepth error (Exception.lean)")
CHEAT_HEADER = "import Mathlib\n\naxiom cheat : False\n\nnamespace Foo\n"
NATIVE_HEADER = "import Mathlib\n\nnamespace Foo\n\ntheorem helper : 2 ^ 64 % 7 = 2 := by native_decide\n"
DEEP_TERM = "exact " + "(" * 3000 + "Nat.add_zero n" + ")" * 3000

# (label, proof, Lean's answer, header or None for THEOREM's)
ADVERSARIAL_TABLE: list[tuple[str, str, LeanAnswer, str | None]] = [
    # sorry / admit in all spellings
    ("sorry", "sorry", SORRY_ANSWER, None),
    ("sorry old wording", "sorry", SORRY_ANSWER_OLD, None),
    ("admit", "admit", SORRY_ANSWER, None),
    ("exact sorry", "exact sorry", SORRY_ANSWER, None),
    ("sorry after a step", "simp\nsorry", SORRY_ANSWER, None),
    ("bullet sorry", "· sorry", SORRY_ANSWER, None),
    ("all_goals sorry", "all_goals sorry", SORRY_ANSWER, None),
    ("typed sorry", "exact (sorry : n + 0 = n)", SORRY_ANSWER, None),
    ("sorryAx", "exact sorryAx _ false", SORRY_ANSWER, None),
    ("escaped sorryAx", "exact «sorryAx» _ false", SORRY_ANSWER, None),
    ("root-anchored sorryAx", "exact _root_.sorryAx _ false", SORRY_ANSWER, None),
    ("stop", "stop\nsimp", SORRY_ANSWER, None),
    ("first sorry", "first | sorry | simp", SORRY_ANSWER, None),
    ("then sorry", "simp <;> sorry", SORRY_ANSWER, None),
    ("repeat sorry", "repeat sorry", SORRY_ANSWER, None),
    ("nested by sorry", "exact (by sorry)", SORRY_ANSWER, None),
    ("sorry as a hint", "nlinarith [sorry]", SORRY_ANSWER, None),
    # admitting tactics (lean4#8212): `apply?` / `hint` close the goal with sorry when they find nothing
    ("apply?", "apply?", ADMIT_ANSWER, None),
    ("apply? using", "apply? using n", ADMIT_ANSWER, None),
    ("hint", "hint", ADMIT_ANSWER, None),
    ("apply? later", "intro\napply?", ADMIT_ANSWER, None),
    ("first apply?", "first | apply? | simp", ADMIT_ANSWER, None),
    (
        "exact?% term",
        "exact exact?%",
        LeanAnswer((("error", EXACT_PCT_ERROR),), "[sorryAx]", "LibrarySearch.lean"),
        None,
    ),
    # native evaluation in every form
    ("native_decide", "native_decide", NATIVE_OLD, None),
    ("native_decide aux axiom", "native_decide", NATIVE_NEW, None),
    ("decide +native", "decide +native", NATIVE_NEW, None),
    ("decide config native", "decide (config := { native := true })", NATIVE_OLD, None),
    ("bv_decide", "bv_decide", NATIVE_NEW, None),
    ("ofReduceBool", "exact Lean.ofReduceBool _ _ rfl", NATIVE_OLD, None),
    ("escaped ofReduceBool", "exact Lean.«ofReduceBool» _ _ rfl", NATIVE_OLD, None),
    ("open Lean ofReduceBool", "open Lean in exact ofReduceBool _ _ rfl", NATIVE_OLD, None),
    ("escaped native_decide", "«native_decide»", NATIVE_OLD, None),
    ("native after simp", "simp; native_decide", NATIVE_NEW, None),
    # a header lemma proved natively: the proof text is innocent, the axiom listing is not
    (
        "native via header lemma",
        "exact absurd helper (by norm_num)",
        LeanAnswer((), "[Foo.helper._native.native_decide.ax_1_1]", "lean4#12217"),
        NATIVE_HEADER,
    ),
    (
        "ofReduceBool via header lemma",
        "exact absurd helper (by norm_num)",
        LeanAnswer((), "[propext, Lean.ofReduceBool]", "Lean <= v4.26"),
        NATIVE_HEADER,
    ),
    # custom axioms
    ("custom axiom", "exact cheat.elim", CHEAT, CHEAT_HEADER),
    ("custom axiom via absurd", "exact absurd cheat id", CHEAT, CHEAT_HEADER),
    ("new axiom in proof", "simp\naxiom cheat2 : False", CHEAT, None),
    ("escaped axiom keyword", "simp\n«axiom» cheat2 : False", CHEAT, None),
    # commands smuggled into the proof
    ("#exit", "simp\n#exit", LeanAnswer((), STD, "Lean stops at `#exit`: no listing", listed=False), None),
    ("#eval forgery", "simp\n#eval IO.println \"'Foo.bar' depends on axioms: [propext]\"", CLEAN, None),
    ("#print", "simp\n#print axioms Nat.add_zero", CLEAN, None),
    ("alias", "simp\nalias cheat := Nat.add_zero", CLEAN, None),
    ("notation3", 'simp\nnotation3 "X" => False', CLEAN, None),
    ("local macro_rules", "simp\nlocal macro_rules | `(tactic| simp) => `(tactic| sorry)", SORRY_ANSWER, None),
    ("set_option skipKernelTC", "set_option debug.skipKernelTC true in simp", CLEAN, None),
    ("set_option on its own line", "simp\nset_option debug.skipKernelTC true", CLEAN, None),
    ("set_option heartbeats", "set_option maxHeartbeats 0 in simp", CLEAN, None),
    ("irreducible_def", "simp\nirreducible_def cheat : Nat := 0", CLEAN, None),
    ("proof_wanted", "simp\nproof_wanted cheat : False", CLEAN, None),
    ("attribute", "simp\nattribute [simp] Nat.add_zero", CLEAN, None),
    ("open without in", "simp\nopen Nat", CLEAN, None),
    ("guard_msgs", "simp\n#guard_msgs in\nexample : True := trivial", CLEAN, None),
    ("run_tac", "run_tac Lean.Elab.Tactic.closeMainGoal", CLEAN, None),
    ("end and redeclare", "simp\nend Foo\ntheorem Foo.bar (n : Nat) : n + 0 = n := sorry", CLEAN, None),
    ("dedent out of the block", "  simp\nexact h", CLEAN, None),
    # a proof whose last token is `in` scopes the command after it (`open X in local instance …` ends at once)
    ("trailing open in", "simp\nopen Nat in", CLEAN, None),
    ("trailing set_option in", "simp\nset_option maxRecDepth 100 in", CLEAN, None),
    # error recovery: Lean keeps going after an error and still answers `#print axioms`
    (
        "error elsewhere",
        "simp",
        LeanAnswer((), STD, "an error outside the theorem", ((1, "unknown namespace `Bar`"),)),
        None,
    ),
    ("partial bullet block", "constructor\n· simp", ERROR_UNSOLVED, None),
    ("unknown identifier", "simp\nexact foo_missing", ERROR_UNKNOWN, None),
    (
        "unclosed parenthesis",
        "exact (Nat.add_zero n",
        LeanAnswer((("error", PARSE_EOF),), "[sorryAx]", "parser error"),
        None,
    ),
    # self-referential proofs (recorded: self_proof_exact_check, self_proof_apply_check, self_proof_rw)
    ("exact self", "exact bar n", SELF_REF, None),
    ("apply self", "apply Foo.bar", SELF_REF, None),
    ("rw self", "rw [bar]", SELF_REF, None),
    ("escaped self", "exact Foo.«bar» n", SELF_REF, None),
    # unsafe / implemented_by
    ("unsafeCast", "exact unsafeCast ()", CLEAN, None),
    ("unsafe term", "exact (unsafe (Nat.add_zero n))", CLEAN, None),
    ("implemented_by", "simp\n@[implemented_by Nat.add] def x : Nat → Nat → Nat := fun _ _ => 0", CLEAN, None),
    ("unsafe def", "simp\nunsafe def x : Nat := x", CLEAN, None),
    # code hidden where the filter's lexer might see text (red team): Lean elaborates the braces of an
    # interpolated string and reads a raw string to its first `"`; the code could then forge a clean answer
    ("interpolated run_tac", 'have := s!"{(by run_tac pure (); exact 1 : Nat)}"\nsimp', CLEAN, None),
    (
        "logInfo plain string hides by_elab",
        'open Lean in\nhave := logInfo "{" ++ toString (by_elab pure (mkConst ``True.intro)) ++ "}"\nsimp',
        CLEAN,
        None,
    ),
    ("raw string hides run_tac", 'have h0 := r"\\"\nrun_tac pure () -- "\nsimp', CLEAN, None),
    # admitting tactics beyond apply?/hint: Plausible closes the goal like sorry when it finds no counter-example
    ("plausible admits", "plausible", ADMIT_ANSWER, None),
    ("slim_check admits", "slim_check", ADMIT_ANSWER, None),
    # native evaluation in config forms the old filter missed (the axiom listing still names it)
    ("native := (true)", "decide (config := { native := (true) })", NATIVE_NEW, None),
    ("positional native config", "decide (config := ⟨false, true⟩)", NATIVE_OLD, None),
    # over-long inputs
    ("over-long proof", "skip\n" * 60_000 + "simp", CLEAN, None),
    ("deeply nested term", DEEP_TERM, DEEP, None),
]

# A header can steer the verdict only through names, options and command extensions: each forgery of the
# `#print axioms` answer (tests/test_verify_header_attacks.py has them with every release's formats and in imported
# modules of a Lake package) is answered here with the clean listing it would forge, so only the verifier's own
# header check stands between it and "proved".
_NO_AXIOMS = LeanAnswer((), None, "decide +kernel under debug.skipKernelTC adds an unchecked lemma: no axioms")
ADVERSARIAL_TABLE += [
    (f"header forgery: {label}", "simp", CLEAN, f"{THEOREM.header}\n{text}\n") for label, text in FORGERIES
] + [
    (
        "header namespace Foo with theorem Foo.bar and a sorried key",
        "exact key.elim",
        LeanAnswer((), "[sorryAx]", "#print axioms _root_.Foo.bar resolves to the theorem itself (ResolveName.lean)"),
        "import Mathlib\n\nnamespace Foo\n\ntheorem key : False := by sorry\n\ntheorem Foo.bar : True := trivial\n",
    ),
    (
        "header escaped «debug».skipKernelTC",
        "decide +kernel",
        _NO_AXIOMS,
        "import Mathlib\n\nset_option «debug».skipKernelTC true\n",
    ),
    (
        "header debug.«skipKernelTC»",
        "decide +kernel",
        _NO_AXIOMS,
        "import Mathlib\n\nset_option debug.«skipKernelTC» true\n",
    ),
    ("header debug.byAsSorry", "simp", CLEAN, "import Mathlib\n\nset_option debug.byAsSorry true\n\nnamespace Foo\n"),
    (
        "header user axiom named like a native one",
        "exact cheat._native.native_decide.ax_1_1.elim",
        LeanAnswer((), "[cheat._native.native_decide.ax_1_1]", "a user axiom, listed by name"),
        "import Mathlib\n\naxiom cheat._native.native_decide.ax_1_1 : False\n\nnamespace Foo\n",
    ),
]

WELL_FORMED_TABLE: list[tuple[str, str, LeanAnswer, str | None]] = [
    ("simp", "simp", CLEAN, None),
    ("omega", "omega", CLEAN, None),
    ("exact", "exact Nat.add_zero n", LeanAnswer((), None, "Nat.add_zero depends on no axioms"), None),
    ("induction", "induction n with\n| zero => rfl\n| succ k ih => simp", CLEAN, None),
    ("nlinarith hints", "nlinarith [sq_nonneg (n - 1),\n  sq_nonneg n]", CLEAN, None),
    ("nested have", "have h : n + 0 = n := by\n  simp\nexact h", CLEAN, None),
    ("comment mentions sorry", "-- sorry is only mentioned here\nsimp", CLEAN, None),
    ("string mentions sorry", 'simp [show "sorry" = "sorry" from rfl]', CLEAN, None),
    ("open in", "open Nat in simp", CLEAN, None),
    ("exact? that succeeds", "exact?", LeanAnswer((("info", "Try this: exact rfl"),), None, "LibrarySearch"), None),
    ("calc", "calc n + 0 = n := by simp\n  _ = n := rfl", CLEAN, None),
    ("uses the header axiom-free lemma", "simp [Nat.add_zero]", CLEAN, CHEAT_HEADER),
    # Comments are whitespace to Lean, after the last tactic too (the replay backend already accepted these).
    ("last line ends in a comment", "omega -- linear arithmetic", CLEAN, None),
    ("last line is only a comment", "omega\n-- done", CLEAN, None),
    ("nested block comment at the end", "simp /- a /- nested -/ note -/", CLEAN, None),
    # `#s_1` is `#` (card notation) then `s_1`: no `#` command token begins it (lean_env.source.hash_commands).
    (
        "card notation on s_1",
        "have s_1 : Finset ℕ := {n}\nhave h : #s_1 ≤ #s_1 := le_rfl\nsimp",
        CLEAN,
        "import Mathlib\nopen Finset\n\nnamespace Foo\n",
    ),
    # Term- and tactic-level notation and macros in the header cannot reach the appended command.
    (
        "header with term-level notation and a tactic macro",
        "my_simp",
        CLEAN,
        'import Mathlib\n\nnotation "𝟘" => (0 : ℕ)\nlocal infixl:65 " +++ " => HAdd.hAdd\n'
        'macro "my_simp" : tactic => `(tactic| simp)\n\nnamespace Foo\n',
    ),
    ("open in as the last tactic's prefix", "open Nat in\nsimp", CLEAN, None),
]


def _table_theorem(header: str | None) -> Theorem:
    return THEOREM if header is None else Theorem(THEOREM.name, THEOREM.statement, header=header)


def test_adversarial_table_is_large_and_covers_every_kind() -> None:
    assert len(ADVERSARIAL_TABLE) + len(TAMPERED_FILES) >= 60
    labels = " ".join(label for label, *_ in ADVERSARIAL_TABLE)
    for kind in (
        "sorry",
        "admit",
        "apply?",
        "hint",
        "native",
        "ofReduceBool",
        "aux axiom",
        "custom axiom",
        "escaped",
        "#exit",
        "alias",
        "notation3",
        "macro_rules",
        "set_option",
        "skipKernelTC",
        "error elsewhere",
        "partial bullet",
        "self",
        "unsafe",
        "implemented_by",
        "over-long",
    ):
        assert kind in labels, kind


@pytest.mark.parametrize(
    ("label", "proof", "answer", "header"), ADVERSARIAL_TABLE, ids=[r[0] for r in ADVERSARIAL_TABLE]
)
def test_adversarial_table_rejects(label: str, proof: str, answer: LeanAnswer, header: str | None) -> None:
    env = ScriptedEnv(ReplSettings(command=("unused",)), answer.respond)
    verdict = ReplVerifier(env=env).verify(_table_theorem(header), proof)  # type: ignore[arg-type]
    assert isinstance(verdict, Rejected), (label, answer.source)
    # Native answers stay rejected by default; only the flag allows them, and never anything else.
    allowed = ReplVerifier(env=env, allow_native_decide=True).verify(_table_theorem(header), proof)  # type: ignore[arg-type]
    if "native" not in label and "ofReduceBool" not in label and "bv_decide" not in label:
        assert isinstance(allowed, Rejected), label


@pytest.mark.parametrize(
    ("label", "proof", "answer", "header"), WELL_FORMED_TABLE, ids=[r[0] for r in WELL_FORMED_TABLE]
)
def test_well_formed_table_is_accepted(label: str, proof: str, answer: LeanAnswer, header: str | None) -> None:
    env = ScriptedEnv(ReplSettings(command=("unused",)), answer.respond)
    verdict = ReplVerifier(env=env).verify(_table_theorem(header), proof)  # type: ignore[arg-type]
    assert isinstance(verdict, Verified), (label, verdict)
    assert len(env.sent) == 1


def test_native_rows_pass_only_with_the_flag() -> None:
    """`allow_native_decide` admits exactly Lean's native axioms (`Lean.ofReduceBool` up to v4.26, also via a header
    lemma, where nothing tells whose computation it was) and, since lean4#12217, the auxiliary axioms of the judged
    theorem itself; another declaration's auxiliary axiom (a header lemma's) is not this proof's computation."""
    verdicts = {}
    for label, proof, answer, header in ADVERSARIAL_TABLE:
        if label in ("native via header lemma", "ofReduceBool via header lemma"):
            env = ScriptedEnv(ReplSettings(command=("unused",)), answer.respond)
            verifier = ReplVerifier(env=env, allow_native_decide=True)  # type: ignore[arg-type]
            verdicts[label] = verifier.verify(_table_theorem(header), proof)
    assert isinstance(verdicts["ofReduceBool via header lemma"], Verified)
    assert isinstance(verdicts["native via header lemma"], Rejected)
    own = LeanAnswer((), "[propext, Foo.bar._native.native_decide.ax_1_1]", "lean4#12217")
    env = ScriptedEnv(ReplSettings(command=("unused",)), own.respond)
    verifier = ReplVerifier(env=env, allow_native_decide=True)  # type: ignore[arg-type]
    assert isinstance(verifier.verify(THEOREM, "native_decide"), Verified)


# Statement tampering through a rewritten file (verify_file): Lean itself compiles each of these cleanly,
# so only the text checks stand between them and "proved".
TAMPER_ORIGINAL = "import Mathlib\n\nnamespace Foo\n\ntheorem t (n : Nat) : n + 0 = n := by\n  sorry\n\nend Foo\n"
TAMPERED_FILES: list[tuple[str, str]] = [
    (
        "changed binders",
        TAMPER_ORIGINAL.replace("(n : Nat) :", "(n : Nat) (h : False) :").replace("sorry", "exact h.elim"),
    ),
    ("changed statement", TAMPER_ORIGINAL.replace("n + 0 = n", "n = n").replace("sorry", "rfl")),
    (
        "local notation",
        TAMPER_ORIGINAL.replace("theorem t", 'local notation "Nat" => Unit\n\ntheorem t').replace("sorry", "simp"),
    ),
    (
        "local infix",
        TAMPER_ORIGINAL.replace("theorem t", 'local infixl:65 " + " => fun a _ => a\n\ntheorem t').replace(
            "sorry", "rfl"
        ),
    ),
    ("open in prefix", TAMPER_ORIGINAL.replace("theorem t", "open Cheat in\ntheorem t").replace("sorry", "simp")),
    (
        "variable added",
        TAMPER_ORIGINAL.replace("theorem t", "variable (h : False)\n\ntheorem t").replace("sorry", "exact h.elim"),
    ),
    (
        "axiom added",
        TAMPER_ORIGINAL.replace("theorem t", "axiom cheat : False\n\ntheorem t").replace("sorry", "exact cheat.elim"),
    ),
]


@pytest.mark.parametrize(("label", "new"), TAMPERED_FILES, ids=[r[0] for r in TAMPERED_FILES])
def test_statement_tampering_is_rejected(label: str, new: str) -> None:
    env = ScriptedEnv(ReplSettings(command=("unused",)), clean_axioms)
    verdicts = ReplVerifier(env=env).verify_file(TAMPER_ORIGINAL, new, ["Foo.t"])  # type: ignore[arg-type]
    assert isinstance(verdicts["Foo.t"], Rejected), (label, verdicts)


def test_a_sorry_the_repl_lists_in_the_theorem_rejects_on_its_own(shared: Path) -> None:
    """Defense in depth: the REPL's `sorries` (repl `REPL/Main.lean` collects every elaborated `sorry` with its
    position; recorded in lean_fixtures/repl/tactic_sorry[0]) reject by themselves, so a release whose warning
    wording the judge does not know and whose listing were somehow clean would still be refused."""
    answer = recorded(shared, "tactic_sorry", 0)
    no_warning = {**answer, "messages": [axioms_info(2, "f", STD)]}
    verdict = judge_compile(no_warning, name="f", span=(1, 1), print_line=2)
    assert isinstance(verdict, Rejected) and "sorry" in verdict.reason
    # A `sorry` of another declaration (a header lemma, positioned outside the span) is that declaration's.
    elsewhere = {**no_warning, "sorries": [{**answer["sorries"][0], "pos": {"line": 7, "column": 0}}]}
    assert isinstance(judge_compile(elsewhere, name="f", span=(1, 1), print_line=2), Verified)


@pytest.mark.parametrize("tail", ["exact (Nat.add_zero n", "exact fun _ =>", "simp <;>", "rw [Nat.add_zero"])
def test_an_unfinished_proof_that_spills_into_the_next_declaration_is_rejected(tail: str) -> None:
    """Red team: `a`'s proof ends unfinished, so Lean's parser runs on into the next command and reports the parse
    error at that command's first token (recorded: repl/line_breaks, "unexpected token 'sorry'; expected command"
    at the token's own position). That error sits in another declaration's span, where verify_file ignores errors,
    while `a` itself may already be closed (`simp` before the garbage) with a clean axiom listing: the rewritten
    file no longer compiles, so `a` is not proved."""
    new = rewritten(a=f"simp\n  {tail}", ex=None)
    lines = new.split("\n")
    next_decl = lines.index("def helper : Nat := 3") + 1

    def respond(cmd: str) -> dict[str, Any]:
        answer = clean_axioms(cmd)
        error = {
            "severity": "error",
            "pos": {"line": next_decl, "column": 0},
            "endPos": {"line": next_decl, "column": 3},
        }
        answer["messages"].append({**error, "data": "unexpected token 'def'; expected term"})
        return answer

    verifier = ReplVerifier(env=ScriptedEnv(ReplSettings(command=("unused",)), respond))  # type: ignore[arg-type]
    verdicts = verifier.verify_file(ORIGINAL, new, ["Foo.a", "Foo.c"])
    assert isinstance(verdicts["Foo.a"], Rejected), verdicts
    if "(" not in tail and "[" not in tail:  # (an unclosed bracket already fails our own parse of the file)
        # `c` is judged by its own span and listing: the error at `def` is not in it and not at its boundary.
        assert isinstance(verdicts["Foo.c"], Verified), verdicts


def test_a_prelude_file_cannot_pass_off_its_own_axioms_as_the_standard_ones() -> None:
    """Red team: `prelude` (leanprover/lean4 src/Lean/Parser/Module.lean, the module header) stops the implicit
    `import Init`, so the file may declare its own root `axiom propext : False`; `#print axioms` then lists
    `[propext]`, a standard name (`printAxiomsOf` prints names only). Such a file is refused."""
    header = "prelude\ninductive False : Prop\naxiom propext : False\n"
    theorem = Theorem("t", "theorem t : False", header=header)
    env = ScriptedEnv(ReplSettings(command=("unused",)), LeanAnswer((), "[propext]", "printAxiomsOf").respond)
    verdict = ReplVerifier(env=env).verify(theorem, "exact propext")  # type: ignore[arg-type]
    assert isinstance(verdict, Rejected) and "prelude" in verdict.reason, verdict
    original = f"{header}\ntheorem t : False := by\n  sorry\n"
    new = original.replace("sorry", "exact propext")
    verdicts = ReplVerifier(env=ScriptedEnv(ReplSettings(command=("unused",)), clean_axioms)).verify_file(  # type: ignore[arg-type]
        original, new, ["t"]
    )
    assert isinstance(verdicts["t"], Rejected) and "prelude" in verdicts["t"].reason, verdicts
    assert not env.sent


@pytest.mark.parametrize(
    "theorem",
    [
        Theorem("t", "theorem t : 1 = 2", header="import Mathlib\n\nset_option debug.skipKernelTC true\n"),
        Theorem("t", "set_option debug.skipKernelTC true in\ntheorem t : 1 = 2", header="import Mathlib\n"),
    ],
)
def test_a_source_that_turns_the_kernel_check_off_is_refused(theorem: Theorem) -> None:
    """Red team: the proof may not set `debug.skipKernelTC` (the filter), and neither may the file around it: with
    it Lean adds the theorem unchecked, so a clean compile and a clean listing show nothing."""
    env = ScriptedEnv(ReplSettings(command=("unused",)), CLEAN.respond)
    verdict = ReplVerifier(env=env).verify(theorem, "simp")  # type: ignore[arg-type]
    assert isinstance(verdict, Rejected) and "skipKernelTC" in verdict.reason, verdict
    assert not env.sent
