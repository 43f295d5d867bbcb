"""The verifier: a table of real REPL compile answers (from ../shared/lean_fixtures/repl), answers in the
documented `#print axioms` format (PROTOCOLS.md; the recordings contain no `#print axioms`), adversarial
proofs (all rejected) and well-formed ones (accepted), and one end-to-end check through a real subprocess.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from lean_env.parse import parse_lean_source
from lean_env.repl import ReplEnv, ReplSettings
from lean_env.types import Theorem
from lean_env.verdict import Rejected, Verified
from lean_env.verify import (
    ReplVerifier,
    build_check_source,
    judge_compile,
    parse_axioms_message,
    static_check,
)

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
    assert source.text.rstrip().endswith("#print axioms Foo.bar")
    assert source.print_line == source.text.count("\n")


@pytest.mark.parametrize("proof", ["have h : #s ≤ #s := le_rfl\nexact rfl", "open Finset in\nshow #s = _\nrfl"])
def test_card_notation_is_not_a_command(proof: str) -> None:
    """`#s` is Mathlib's `Finset.card` notation, not a `#command` (issue 12 point 6)."""
    theorem = Theorem("Foo.card", "theorem card (s : Finset Nat) : #s = s.card", header="import Mathlib\nopen Finset\n")
    assert static_check(theorem, proof) is None
    assert build_check_source(theorem, proof).name == "card"


def test_examples_get_a_printable_name() -> None:
    source = build_check_source(Theorem("ex", "example (a : Nat) : a = a"), "rfl")
    assert "theorem _verify_example (a : Nat) : a = a := by" in source.text
    assert source.name == "_verify_example"


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
    with ReplVerifier(transcript(tmp_path, source.text, answer)) as verifier:
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
            name = line.removeprefix("#print axioms ")
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
    assert "theorem example_10 : helper = 3" in sent and sent.rstrip().endswith("#print axioms Foo.c")


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
