"""A recorded step counts only under the theorem that recorded it.

Lean prints numerals without their type by default (`pp.numericTypes` is off), so `(2 : ℤ) - 3 + 3 = 2` (true)
and `(2 : ℕ) - 3 + 3 = 2` (false: truncated subtraction) both print `⊢ 2 - 3 + 3 = 2` under one header; so do
`(1 : ℚ) / 2 * 2 = 1` (true) and `(1 : ℕ) / 2 * 2 = 1` (false: `1 / 2 = 0`). A step recorded for one is not
Lean's answer for the other. Only a cassette recorded live with type-revealing printer options, and marked so
in its header, may share steps across theorems of one context.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lean_env.backends.replay import RecordingEnv, ReplayEnv, ReplayVerifier
from lean_env.cassette.format import FinishedOutcome, StepLine, TheoremLine
from lean_env.cassette.store import Cassette, new_cassette
from lean_env.checks.verdict import Rejected, Verified
from lean_env.types import ProofFinished, ProofState, Theorem
from tests.cli_support import run_cli

HEADER = "import Mathlib\n\nset_option maxHeartbeats 400000\n"
PAIRS = [
    # (true theorem, the false one that prints the same goal, the goal both print)
    ("theorem z : (2 : ℤ) - 3 + 3 = 2", "theorem n : (2 : ℕ) - 3 + 3 = 2", "⊢ 2 - 3 + 3 = 2"),
    ("theorem z : (1 : ℚ) / 2 * 2 = 1", "theorem n : (1 : ℕ) / 2 * 2 = 1", "⊢ 1 / 2 * 2 = 1"),
]


def _cassette(true_stmt: str, false_stmt: str, goal: str, **header: object) -> Cassette:
    """Both theorems recorded (their initial goals as Lean prints them); `norm_num` recorded for `z` only."""
    cassette = new_cassette("shaped like a build from a published dataset")
    if header:
        cassette.header = cassette.header.model_copy(update=header)
    for name, statement in (("z", true_stmt), ("n", false_stmt)):
        cassette.add_theorem(
            TheoremLine(kind="theorem", name=name, statement=statement, header=HEADER, initial_state=goal)
        )
    cassette.add_step(
        StepLine(kind="step", state=goal, tactic="norm_num", result=FinishedOutcome(kind="finished"), theorem="z")
    )
    return Cassette.loads(cassette.dumps())


@pytest.mark.parametrize(("true_stmt", "false_stmt", "goal"), PAIRS)
def test_a_step_recorded_for_one_theorem_does_not_prove_another_that_prints_the_same_goal(
    true_stmt: str, false_stmt: str, goal: str
) -> None:
    verifier = ReplayVerifier(_cassette(true_stmt, false_stmt, goal))
    assert isinstance(verifier.verify(Theorem("z", true_stmt, header=HEADER), "norm_num"), Verified)
    verdict = verifier.verify(Theorem("n", false_stmt, header=HEADER), "norm_num")
    assert isinstance(verdict, Rejected), verdict
    assert "z" in verdict.reason


@pytest.mark.parametrize(("true_stmt", "false_stmt", "goal"), PAIRS)
def test_the_replay_env_answers_a_step_only_for_the_theorem_that_recorded_it(
    true_stmt: str, false_stmt: str, goal: str
) -> None:
    """The search sees what the verifier would accept: from `n`'s start, `z`'s `norm_num` is no answer."""
    env = ReplayEnv(_cassette(true_stmt, false_stmt, goal))
    z = env.start(Theorem("z", true_stmt, header=HEADER))
    assert isinstance(env.run_tactic(z, "norm_num"), ProofFinished)
    n = env.start(Theorem("n", false_stmt, header=HEADER))
    assert not isinstance(env.run_tactic(n, "norm_num"), ProofFinished)
    # A bare state (no theorem behind it: `prover suggest` on a goal) is answered as recorded.
    assert isinstance(env.run_tactic(ProofState.from_pp(goal), "norm_num"), ProofFinished)


def test_only_a_live_cassette_printed_with_numeric_types_shares_steps_across_theorems() -> None:
    true_stmt, _, goal = PAIRS[0]
    other = "theorem z2 : (2 : ℤ) - 3 + 3 = 2"
    for header, shared in (
        ({}, False),
        ({"recorded_live": True}, False),
        ({"pp_options": ("pp.numericTypes",)}, False),  # a dataset build never shares, whatever it claims
        ({"recorded_live": True, "pp_options": ("pp.numericTypes",)}, True),
    ):
        cassette = _cassette(true_stmt, other, goal, **header)
        verdict = ReplayVerifier(cassette).verify(Theorem("n", other, header=HEADER), "norm_num")
        assert isinstance(verdict, Verified) is shared, (header, verdict)
        # Even then, never under another header.
        verdict = ReplayVerifier(cassette).verify(Theorem("n", other, header=HEADER + "open Nat\n"), "norm_num")
        assert isinstance(verdict, Rejected), (header, verdict)


def test_a_recording_env_marks_its_cassette_live_with_its_printer_options() -> None:
    true_stmt, false_stmt, goal = PAIRS[0]
    inner = ReplayEnv(_cassette(true_stmt, false_stmt, goal))
    recorder = RecordingEnv(inner, pp_options=("pp.numericTypes",))
    state = recorder.start(Theorem("z", true_stmt, header=HEADER))
    recorder.run_tactic(state, "norm_num")
    again = Cassette.loads(recorder.cassette.dumps())
    assert again.header.recorded_live and again.header.pp_options == ("pp.numericTypes",)
    assert isinstance(ReplayVerifier(again).verify(Theorem("z", true_stmt, header=HEADER), "norm_num"), Verified)


def test_prove_on_one_benchmark_file_proves_the_true_theorem_only(tmp_path: Path) -> None:
    """One file states `z` and the false `n`; the cassette recorded `norm_num` for `z`: `prover prove` with the
    replay backend proves `z` and not `n`, and writes nothing into `n`."""

    true_stmt, false_stmt, goal = PAIRS[0]
    cassette = tmp_path / "zn.cassette.jsonl"
    cassette.write_text(_cassette(true_stmt, false_stmt, goal).dumps(), encoding="utf-8")
    lean = tmp_path / "zn.lean"
    lean.write_text(f"{HEADER}\n{true_stmt} := by\n  sorry\n\n{false_stmt} := by\n  sorry\n", encoding="utf-8")
    report = tmp_path / "report.json"
    args = ["prove", str(lean), "--backend", "replay", "--cassette", str(cassette), "--generator", "fixed"]
    result = run_cli([*args, "--report", str(report)])
    assert result.exit_code == 1, result.output
    entries = json.loads(report.read_text(encoding="utf-8"))["theorems"]
    status = {e["name"]: e["status"] for e in entries}
    assert status["z"] == "proved" and status["n"] != "proved", status
    assert {e["checker"] for e in entries if e["status"] == "proved"} == {"replay"}
    assert "1/2 proved (checker: replay)" in " ".join(result.output.split())


def test_an_open_in_prefix_is_part_of_the_statement() -> None:
    """`open Nat in` and `open Real in` make `sqrt` another function: the statements differ."""
    from lean_env.backends.replay import same_theorem

    record = TheoremLine(kind="theorem", name="s", statement="open Nat in\ntheorem s : sqrt 4 = 2", header=HEADER)
    assert same_theorem(record, Theorem("s", "open Nat in\ntheorem s : sqrt 4 = 2", header=HEADER)) is None
    assert same_theorem(record, Theorem("s", "open Real in\ntheorem s : sqrt 4 = 2", header=HEADER)) is not None
    assert same_theorem(record, Theorem("s", "theorem s : sqrt 4 = 2", header=HEADER)) is not None


def test_imports_and_earlier_theorems_with_attributes_are_header_context() -> None:
    from lean_env.backends.replay import same_theorem

    record = TheoremLine(kind="theorem", name="t", statement="theorem t : f 1 = 1", header="import Mathlib\n")
    for same in (
        "import Mathlib\n\n/-! notes -/\ntheorem earlier : True := trivial\n",
        "import Mathlib\nimport Aesop\n",  # Mathlib imports Aesop: nothing more is in scope
    ):
        assert same_theorem(record, Theorem("t", "theorem t : f 1 = 1", header=same)) is None, same
    for other in (
        "import Mathlib\nimport MyProject.Instances\n",
        "import Mathlib\n@[simp] theorem f_one : f 1 = 2 := sorry\n",
        "import Mathlib\ninstance : Inhabited ℕ := ⟨5⟩\n",
    ):
        assert same_theorem(record, Theorem("t", "theorem t : f 1 = 1", header=other)) is not None, other


def test_a_record_without_statement_or_traced_source_is_no_evidence() -> None:
    cassette = new_cassette("t")
    cassette.add_theorem(TheoremLine(kind="theorem", name="anon", initial_state="⊢ False"))
    cassette.add_step(
        StepLine(
            kind="step", state="⊢ False", tactic="trivial", result=FinishedOutcome(kind="finished"), theorem="anon"
        )
    )
    verdict = ReplayVerifier(cassette).verify(Theorem("anon", "theorem anon : False"), "trivial")
    assert isinstance(verdict, Rejected), verdict
    assert "statement" in verdict.reason


def test_a_step_line_without_its_theorem_counts_for_no_theorem() -> None:
    true_stmt, _, goal = PAIRS[0]
    cassette = new_cassette("t")
    cassette.add_theorem(TheoremLine(kind="theorem", name="z", statement=true_stmt, header=HEADER, initial_state=goal))
    cassette.add_step(StepLine(kind="step", state=goal, tactic="norm_num", result=FinishedOutcome(kind="finished")))
    verdict = ReplayVerifier(Cassette.loads(cassette.dumps())).verify(
        Theorem("z", true_stmt, header=HEADER), "norm_num"
    )
    assert isinstance(verdict, Rejected), verdict


def test_keeping_some_theorems_keeps_every_step_they_recorded() -> None:
    """`cassette build --theorems n`: a step `n` recorded after `z` recorded it too stays, under `n`."""
    true_stmt, false_stmt, goal = PAIRS[0]
    cassette = _cassette(true_stmt, false_stmt, goal)
    cassette.add_step(
        StepLine(kind="step", state=goal, tactic="norm_num", result=FinishedOutcome(kind="finished"), theorem="n")
    )
    kept = Cassette.loads(cassette.restricted_to({"n"}).dumps())
    assert set(kept.theorems) == {"n"}
    assert kept.recorders(goal, "norm_num") == {"n"}
    assert isinstance(ReplayVerifier(kept).verify(Theorem("n", false_stmt, header=HEADER), "norm_num"), Verified)
    assert not cassette.restricted_to({"z2"}).steps


def test_a_sweep_summary_names_who_checked_and_keeps_replay_apart_from_lean(tmp_path: Path) -> None:
    """Results lines carry `checker`; the summary and the markdown report name it, and a results file that
    mixes Lean's and replay's verdicts counts each checker's proved problems apart."""
    from benchmarks.report import write_report
    from benchmarks.results import AttemptRecord, ResultsStore
    from benchmarks.summary import summarize

    def rec(problem: str, checker: str | None) -> AttemptRecord:
        proved = checker is not None
        return AttemptRecord(
            problem=problem,
            attempt=0,
            status="proved" if proved else "failed_exhausted",
            proved=proved,
            checker=checker,
        )

    replay_only = summarize([rec("mathd_algebra_1", "replay"), rec("mathd_algebra_2", None)])
    assert replay_only.checker_line() == "checker: replay"
    mixed = summarize(
        [rec("mathd_algebra_1", "replay"), rec("mathd_algebra_2", "lean"), rec("mathd_algebra_3", "replay")]
    )
    assert mixed.checkers == {"lean": 1, "replay": 2}
    assert mixed.checker_line() == "checkers: lean 1, replay 2"
    assert summarize([rec("mathd_algebra_2", None)]).checker_line() == ""

    results = tmp_path / "results.jsonl"
    with ResultsStore(results) as store:
        store.open_for_append()
        store.append(rec("mathd_algebra_1", "replay"))
    report = write_report(results)
    assert "(checker: replay)" in report.markdown.read_text(encoding="utf-8")


def test_merging_cassettes_keeps_every_theorem_that_recorded_a_step() -> None:
    true_stmt, false_stmt, goal = PAIRS[0]
    first = _cassette(true_stmt, false_stmt, goal)
    second = new_cassette("t")
    second.add_step(
        StepLine(kind="step", state=goal, tactic="norm_num", result=FinishedOutcome(kind="finished"), theorem="z")
    )
    second.add_step(
        StepLine(kind="step", state=goal, tactic="norm_num", result=FinishedOutcome(kind="finished"), theorem="n")
    )
    first.merge(second)
    assert first.recorders(goal, "norm_num") == {"z", "n"}


@pytest.mark.parametrize(("true_stmt", "false_stmt", "goal"), PAIRS)
def test_a_sweep_attempt_over_one_benchmark_file_proves_the_true_theorem_only(
    tmp_path: Path, true_stmt: str, false_stmt: str, goal: str
) -> None:
    """The sweep's prover-actor path (`run_search_attempt`: search, then the replay verifier) on a benchmark file
    stating `z` and the false `n`: `z` is proved and verified by replay, `n` is not."""
    from benchmarks.minif2f import load_problems
    from benchmarks.sweep.attempt import AttemptJob, run_search_attempt
    from prover.generators import FixedTacticGenerator
    from search.types import SearchConfig

    benchmark = tmp_path / "zn.jsonl"
    rows = [
        {"name": n, "formal_statement": f"{s} := by sorry", "header": HEADER}
        for n, s in (("z", true_stmt), ("n", false_stmt))
    ]
    benchmark.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    cassette = _cassette(true_stmt, false_stmt, goal)
    proved = {}
    for problem in load_problems(benchmark):
        outcome = run_search_attempt(
            AttemptJob(problem, 0, "f2f", "search"),
            ReplayEnv(cassette),
            FixedTacticGenerator({"norm_num": -1.0, "simp": -2.0}),
            ReplayVerifier(cassette),
            SearchConfig(num_tactics=2),
        )
        proved[problem.name] = (outcome.proved, outcome.checker)
    assert proved == {"z": (True, "replay"), "n": (False, None)}, proved
