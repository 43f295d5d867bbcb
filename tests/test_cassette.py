"""Cassette format, builders and `prover cassette build|check`, on the shared real-Lean recordings."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
import typer

from lean_env.cassette.build import SKIP_NO_RESULT, BuildReport, build_from_proofsteps, synthetic_name
from lean_env.cassette.format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    CassetteError,
    FinishedOutcome,
    StateOutcome,
    StepLine,
    result_to_outcome,
)
from lean_env.cassette.keys import normalize_tactic, step_key
from lean_env.cassette.leandojo import build_from_leandojo_benchmark
from lean_env.cassette.minif2f import build_from_minif2f_fewshot
from lean_env.cassette.store import Cassette, new_cassette
from lean_env.types import (
    NO_GOALS,
    LeanError,
    ProofFinished,
    ProofGivenUp,
    ProofState,
    StateResult,
    TacticResult,
    TacticTimeout,
)
from prover.commands import cassette as cassette_cmd
from tests.cli_support import run_app


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def proofsteps_files(shared: Path) -> list[Path]:
    files = sorted((shared / "data" / "proofsteps").glob("*.jsonl"))
    assert len(files) == 3, "expected the three shared proofsteps files"
    return files


@pytest.fixture(scope="module")
def built(proofsteps_files: list[Path], shared: Path) -> BuildReport:
    return build_from_proofsteps(proofsteps_files, relative_to=shared)


def test_build_records_every_row_with_a_result(built: BuildReport, proofsteps_files: list[Path]) -> None:
    rows = [r for f in proofsteps_files for r in _rows(f)]
    with_result = [r for r in rows if r["state_after"] is not None]
    assert built.rows == len(rows)
    assert built.skipped[SKIP_NO_RESULT] == len(rows) - len(with_result)
    assert len(built.cassette.steps) + built.num_skipped == len(rows)
    for r in with_result:
        step = built.cassette.lookup(r["state_before"], r["tactic"])
        assert step is not None, r["tactic"]
        if r["state_after"] == NO_GOALS:
            assert isinstance(step.result, FinishedOutcome)
        else:
            assert isinstance(step.result, StateOutcome) and step.result.pp == r["state_after"]


def test_initial_states_come_from_step_zero_only(built: BuildReport, proofsteps_files: list[Path]) -> None:
    step0 = {r["theorem"]: r["state_before"] for f in proofsteps_files for r in _rows(f) if r.get("step") == 0}
    assert step0, "the LeanDojo sample has step-0 rows"
    for name, thm in built.cassette.theorems.items():
        assert thm.initial_state == step0.get(name)
    # Lean Workbook rows start at step 1: their theorems exist (statement, informal) but cannot be started.
    wb = built.cassette.theorems["lean_workbook_26"]
    assert wb.initial_state is None and wb.statement.startswith("theorem lean_workbook_26 (x : ℝ)")


def test_header_records_provenance(built: BuildReport) -> None:
    header = built.cassette.header
    assert header.format == FORMAT_NAME and header.version == FORMAT_VERSION
    paths = [s.path for s in header.sources]
    assert paths == sorted(paths) and all(p.startswith("shared/data/proofsteps/") for p in paths)
    upstreams = " ".join(s.upstream or "" for s in header.sources)
    assert "mathlib4@5a919533f110b7d76410134a237ee374f24eaaad" in upstreams
    assert "plasma-converter@2e4cbf8b7ea674cbba0a61a1c5cd5f0878aaaba2" in upstreams


def test_dojo_source_for_leandojo_rows(built: BuildReport) -> None:
    thm = built.cassette.theorems["BoxIntegral.Box.withBotCoe_inj"]
    assert thm.dojo is not None
    assert thm.dojo.file_path == "Mathlib/Analysis/BoxIntegral/Box/Basic.lean"
    assert thm.dojo.commit == "5a919533f110b7d76410134a237ee374f24eaaad"
    assert thm.to_theorem().dojo is not None


def test_round_trip(built: BuildReport, tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    built.cassette.save(out)
    again = Cassette.load(out)
    assert again.header == built.cassette.header
    assert again.theorems == built.cassette.theorems
    assert again.steps == built.cassette.steps
    assert again.dumps() == built.cassette.dumps()


def test_tactic_keys_keep_leans_layout(built: BuildReport) -> None:
    """Issue 12 point 8: keys drop only what Lean ignores; a run-on form of a multi-line tactic is another key."""
    multi = next(s for s in built.cassette.steps.values() if "\n" in s.tactic)
    assert built.cassette.lookup(multi.state, normalize_tactic(multi.tactic)) is multi
    assert built.cassette.lookup(multi.state, "  " + multi.tactic.replace("\n", "  \n\n") + "\n") is multi
    assert built.cassette.lookup(multi.state, multi.tactic + "x") is None
    # The run-on form and a re-indented form are different tactics to Lean's layout-sensitive parser.
    assert built.cassette.lookup(multi.state, " ".join(multi.tactic.split())) is None
    assert built.cassette.lookup(multi.state, multi.tactic.replace("\n", "\n    ")) is None


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("constructor\n· simp\n· ring", "constructor · simp · ring", False),
        ("constructor\n· simp\n  ring", "constructor\n· simp\nring", False),  # `ring` in or after the bullet
        ("have h : 0 < 2 := by\n  norm_num\nexact h", "have h : 0 < 2 := by norm_num exact h", False),
        ("simp\t[h]", "simp [h]", False),  # tabs are an error in Lean
        ('exact ("a  b" : String)', 'exact ("a b" : String)', False),  # another string
        ("nlinarith [sq_nonneg (a  -  b),\n    h]", "nlinarith [sq_nonneg (a - b),\n    h]", True),
        ("  simp  ", "simp", True),
        # Alternatives only need to sit at or right of the first one (Lean's `inductionAlts`, colGe).
        (
            "induction m with\n| zero => rfl\n| succ m ih => simp",
            "induction m with\n  | zero => rfl\n  | succ m ih => simp",
            True,
        ),
        (
            "induction m with\n| zero => rfl\n  | succ m ih => simp",
            "induction m with\n| zero => rfl\n| succ m ih => simp",
            False,
        ),
        ("cases h with\n| inl a => simp\n  ring", "cases h with\n  | inl a => simp\n    ring", False),
        ("exact foo\n|>.trans bar", "exact foo\n  |>.trans bar", False),
        (
            "induction n with\n  | zero => simp\n\n  | succ n ih => omega  ",
            "induction n with\n  | zero => simp\n  | succ n ih => omega",
            True,
        ),
    ],
)
def test_step_keys_distinguish_what_lean_distinguishes(a: str, b: str, same: bool) -> None:
    assert (step_key("⊢ True", a) == step_key("⊢ True", b)) is same


def test_synthetic_names_are_stable_and_state_derived() -> None:
    assert synthetic_name("f", "⊢ True") == synthetic_name("f", "⊢ True\n")
    assert synthetic_name("f", "⊢ True") != synthetic_name("f", "⊢ False")


def test_rows_without_theorem_get_synthetic_names(tmp_path: Path) -> None:
    src = tmp_path / "anon.jsonl"
    src.write_text(
        json.dumps({"state_before": "⊢ 1 = 1", "tactic": "rfl", "state_after": "no goals", "theorem": None}) + "\n",
        encoding="utf-8",
    )
    report = build_from_proofsteps([src])
    (name,) = report.cassette.theorems
    assert name == synthetic_name("anon", "⊢ 1 = 1")
    assert report.cassette.theorems[name].initial_state is None  # no step number: unknown whether it is step 0


def _leandojo_json(rows: list[dict[str, Any]], as_repr: bool) -> list[dict[str, Any]]:
    by_thm: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_thm[r["theorem"]].append(r)
    out = []
    for name, steps in by_thm.items():
        steps.sort(key=lambda r: r["step"])
        traced = [{k: s[k] for k in ("tactic", "state_before", "state_after")} for s in steps]
        out.append(
            {
                "url": "https://github.com/leanprover-community/mathlib4",
                "commit": "5a919533f110b7d76410134a237ee374f24eaaad",
                "file_path": steps[0]["file"],
                "full_name": name,
                "traced_tactics": repr(traced) if as_repr else traced,
            }
        )
    return out


@pytest.mark.parametrize("as_repr", [False, True])
def test_leandojo_benchmark_builder(shared: Path, tmp_path: Path, as_repr: bool) -> None:
    rows = _rows(shared / "data" / "proofsteps" / "leandojo_benchmark4_random_test_sample100.jsonl")
    bench = tmp_path / "test.json"
    bench.write_text(json.dumps(_leandojo_json(rows, as_repr)), encoding="utf-8")
    report = build_from_leandojo_benchmark(bench)
    assert len(report.cassette.theorems) == len({r["theorem"] for r in rows})
    assert len(report.cassette.steps) + report.num_skipped == len(rows)
    # Published Benchmark 4 rows carry no tactic positions and no theorem_statement: whether the first
    # traced tactic opens the top-level `by` is unknown, so no initial state is recorded.
    assert all(t.initial_state is None for t in report.cassette.theorems.values())
    assert report.cassette.header.sources[0].upstream == (
        "https://github.com/leanprover-community/mathlib4@5a919533f110b7d76410134a237ee374f24eaaad"
    )


def test_leandojo_builder_rejects_non_list(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"full_name": "x"}', encoding="utf-8")
    with pytest.raises(CassetteError, match="JSON list"):
        build_from_leandojo_benchmark(bad)


def test_minif2f_fewshot_builder(shared: Path) -> None:
    data = shared / "data" / "minif2f"
    report = build_from_minif2f_fewshot(
        data / "deepseek_minif2f_valid_few_shot.jsonl",
        data / "minif2f.jsonl",
        ["mathd_algebra_182"],
        ["mathd_algebra_141"],
    )
    problems = {r["name"]: r for r in _rows(data / "minif2f.jsonl")}
    proved = report.cassette.theorems["mathd_algebra_182"]
    assert proved.initial_state == problems["mathd_algebra_182"]["initial_goal_deepseek"]
    assert proved.recorded_proof == "ring"
    assert proved.initial_state is not None
    step = report.cassette.lookup(proved.initial_state, "ring")
    assert step is not None and isinstance(step.result, FinishedOutcome)
    unproved = report.cassette.theorems["mathd_algebra_141"]
    assert unproved.recorded_proof is None
    assert [s for s in report.cassette.steps.values() if s.theorem == "mathd_algebra_141"] == []


def test_minif2f_fewshot_builder_refuses_multi_tactic_proofs(shared: Path) -> None:
    data = shared / "data" / "minif2f"
    with pytest.raises(CassetteError, match="not a single tactic"):
        build_from_minif2f_fewshot(
            data / "deepseek_minif2f_valid_few_shot.jsonl", data / "minif2f.jsonl", ["mathd_algebra_462"]
        )
    with pytest.raises(CassetteError, match="unknown miniF2F problem"):
        build_from_minif2f_fewshot(data / "deepseek_minif2f_valid_few_shot.jsonl", data / "minif2f.jsonl", ["nope"])


# ----------------------------------------------------------------------------- malformed cassettes

# Version 2 (no content hashes), so each case below reaches the fault it is about.
_HEADER = json.dumps({"kind": "header", "format": FORMAT_NAME, "version": 2})
_STEP = {"kind": "step", "state": "⊢ True", "tactic": "trivial", "result": {"kind": "finished"}}


@pytest.mark.parametrize(
    ("lines", "where", "what"),
    [
        ([_HEADER, "{not json"], ":2:", "invalid JSON"),
        ([json.dumps(_STEP)], ":1:", "first line must be the cassette header"),
        ([_HEADER.replace('"version": 2', '"version": 99')], ":1:", "unsupported cassette version"),
        ([_HEADER.replace(FORMAT_NAME, "other")], ":1:", "not a cassette"),
        ([_HEADER, json.dumps({**_STEP, "result": {"kind": "maybe"}})], ":2:", "result: unknown kind 'maybe'"),
        ([_HEADER, "", json.dumps({**_STEP, "tactic": 3})], ":3:", "tactic"),
        ([_HEADER, json.dumps({"kind": "theorem"})], ":2:", "name"),
        (
            [_HEADER, json.dumps({"kind": "theorem", "name": "a"}), json.dumps({"kind": "theorem", "name": "a"})],
            ":3:",
            "duplicate theorem",
        ),
        (
            [_HEADER, json.dumps(_STEP), json.dumps({**_STEP, "result": {"kind": "error", "message": "x"}})],
            ":3:",
            "conflicts with line 2",
        ),
        ([_HEADER, _HEADER], ":2:", "second header"),
        ([], ":1:", "empty cassette"),
    ],
)
def test_malformed_cassette_is_a_one_line_error(tmp_path: Path, lines: list[str], where: str, what: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(CassetteError) as info:
        Cassette.load(path)
    message = str(info.value)
    assert f"{path}{where}" in message and what in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("result", "on_disk"),
    [
        (StateResult(ProofState.from_pp("n : ℕ\n⊢ n = n", handle=4)), {"kind": "state", "pp": "n : ℕ\n⊢ n = n"}),
        (ProofFinished(handle=4), {"kind": "finished"}),
        (LeanError("unknown identifier 'x'"), {"kind": "error", "message": "unknown identifier 'x'"}),
        (ProofGivenUp(), {"kind": "given_up", "message": "proof contains `sorry`"}),
        (TacticTimeout(5.0), {"kind": "timeout", "seconds": 5.0}),
    ],
)
def test_a_recorded_result_is_its_tactic_result_under_the_same_kind(
    result: TacticResult, on_disk: dict[str, Any]
) -> None:
    step = StepLine(kind="step", state="⊢ p", tactic="t", result=result_to_outcome(result))
    # The step line on disk keeps the cassette's JSON; read back, the result is the one recorded.
    assert json.loads(step.model_dump_json(exclude_none=True))["result"] == on_disk
    assert step.result.kind is result.kind
    back = StepLine.model_validate_json(step.model_dump_json()).result.to_result(handle=4)
    assert back == result and back.kind is result.kind


def test_a_suggestions_replacement_is_not_recorded() -> None:
    """A cassette keeps what Lean answered to the tactic run; the stable form Lean suggested is not part of it."""
    assert result_to_outcome(ProofFinished(handle=1, replacement="exact h")) == FinishedOutcome(kind="finished")
    state = StateResult(ProofState.from_pp("⊢ p"), replacement="simp only [h]")
    assert result_to_outcome(state) == StateOutcome(kind="state", pp="⊢ p")


def test_missing_cassette_file(tmp_path: Path) -> None:
    with pytest.raises(CassetteError, match="cassette not found"):
        Cassette.load(tmp_path / "none.jsonl")


def test_identical_duplicate_steps_are_merged() -> None:
    c = Cassette.loads("\n".join([_HEADER, json.dumps(_STEP), json.dumps({**_STEP, "tactic": "trivial  "})]))
    assert len(c) == 1


# ----------------------------------------------------------------------------- CLI


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:  # a root callback keeps `cassette` a subcommand group
        pass

    cassette_cmd.register(app)
    return app


def test_cli_build_and_check_shared_proofsteps(cli: typer.Typer, tmp_path: Path, proofsteps_files: list[Path]) -> None:
    out = tmp_path / "ps.jsonl"
    built = run_app(cli, ["cassette", "build", str(out)])
    assert built.exit_code == 0, built.output
    rows = [r for f in proofsteps_files for r in _rows(f)]
    nulls = sum(r["state_after"] is None for r in rows)
    assert f"skipped: {nulls} rows with state_after null" in " ".join(built.output.split())
    n = len(Cassette.load(out).steps)
    checked = run_app(cli, ["cassette", "check", str(out)])
    assert checked.exit_code == 0, checked.output
    assert f"replayed {n}/{n} steps" in checked.output


def test_cli_check_reports_mismatches(cli: typer.Typer, tmp_path: Path) -> None:
    # A recording that claims `sorry` finished a proof: replay refuses the tactic, so check must flag it.
    cas = new_cassette("test")
    cas.add_step(StepLine(kind="step", state="⊢ False", tactic="sorry", result=FinishedOutcome(kind="finished")))
    cas.add_step(StepLine(kind="step", state="⊢ True", tactic="trivial", result=FinishedOutcome(kind="finished")))
    path = tmp_path / "c.jsonl"
    cas.save(path)
    result = run_app(cli, ["cassette", "check", str(path)])
    assert result.exit_code == 1
    assert "replayed 1/2 steps" in result.output
    assert "mismatch" in result.output and "sorry" in result.output


def test_cli_build_bad_input(cli: typer.Typer, tmp_path: Path) -> None:
    bad = tmp_path / "rows.jsonl"
    bad.write_text('{"state_before": "⊢ True"}\n', encoding="utf-8")
    result = run_app(cli, ["cassette", "build", str(tmp_path / "o.jsonl"), str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:1" in result.output and not (tmp_path / "o.jsonl").exists()
    missing = run_app(cli, ["cassette", "check", str(tmp_path / "none.jsonl")])
    assert missing.exit_code == 2 and "cassette not found" in missing.output


def test_cli_demo_build_is_reproducible(cli: typer.Typer, tmp_path: Path, repo_root: Path) -> None:
    """The shipped demo cassette and .lean file are exactly what the documented command produces."""
    out, lean = tmp_path / "demo.cassette.jsonl", tmp_path / "demo.lean"
    args = ["cassette", "build", str(out), "--from-minif2f-fewshot"]
    args += ["--names", ",".join(cassette_cmd.DEMO_NAMES), "--unproved", ",".join(cassette_cmd.DEMO_UNPROVED)]
    args += ["--lean-out", str(lean)]
    result = run_app(cli, args)
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == (repo_root / "examples" / "demo.cassette.jsonl").read_text(
        encoding="utf-8"
    )
    shipped = (repo_root / "examples" / "demo.lean").read_text(encoding="utf-8")
    assert lean.read_text(encoding="utf-8") == shipped.replace("demo.cassette.jsonl", out.name)
    kinds = Counter(json.loads(line)["kind"] for line in out.read_text(encoding="utf-8").splitlines())
    assert kinds == {"header": 1, "theorem": len(cassette_cmd.DEMO_NAMES) + 1, "step": len(cassette_cmd.DEMO_NAMES)}


# -- LeanDojo initial states only from the top-level `by` -----------------------------------------------------

TRACED_FILE = """import Mathlib

theorem top (n : Nat) : n + 0 = n := by
  simp

theorem auto (n : Nat) (h : n = n := by rfl) : True := by
  trivial

theorem term_mode (n : Nat) : n + 0 = n :=
  (by simp : n + 0 = n)

theorem same_line (n : Nat) : n = n := by rfl
"""

# (theorem, its start, the first traced tactic with LeanDojo's 1-based [line, column] start, recorded?)
TRACES = [
    ("top", [3, 1], {"tactic": "simp", "start": [4, 3], "state_before": "n : ℕ\n⊢ n + 0 = n"}, True),
    # LeanDojo traces the auto-param's `by rfl` first: its goal is a side goal, not the theorem.
    ("auto", [6, 1], {"tactic": "rfl", "start": [6, 37], "state_before": "n : ℕ\n⊢ n = n"}, False),
    # A term-mode proof with a `by` inside: the traced goal is the inner term's.
    ("term_mode", [9, 1], {"tactic": "simp", "start": [10, 7], "state_before": "n : ℕ\n⊢ n + 0 = n"}, False),
    ("same_line", [12, 1], {"tactic": "rfl", "start": [12, 43], "state_before": "n : ℕ\n⊢ n = n"}, True),
]


def _bench_row(name: str, start: list[int], first: dict[str, Any], **extra: Any) -> dict[str, Any]:
    step = {**first, "state_after": "no goals"}
    return {
        "url": "https://github.com/example/traced",
        "commit": "0" * 40,
        "file_path": "Traced.lean",
        "full_name": name,
        "start": start,
        "end": [start[0] + 1, 1],
        "traced_tactics": [step],
        **extra,
    }


def test_leandojo_initial_state_needs_the_top_level_by(tmp_path: Path) -> None:
    (tmp_path / "Traced.lean").write_text(TRACED_FILE, encoding="utf-8")
    bench = tmp_path / "test.json"
    bench.write_text(json.dumps([_bench_row(*t[:3]) for t in TRACES]), encoding="utf-8")
    with_source = build_from_leandojo_benchmark(bench, source_root=tmp_path).cassette
    without_source = build_from_leandojo_benchmark(bench).cassette
    for name, _, first, recorded in TRACES:
        assert with_source.theorems[name].initial_state == (first["state_before"] if recorded else None), name
        assert without_source.theorems[name].initial_state is None, name


def test_leandojo_theorem_statement_marks_a_tactic_proof(tmp_path: Path) -> None:
    """LeanDojo's exporter writes `theorem_statement` only for `has_tactic_proof()` theorems."""
    first = {"tactic": "simp", "state_before": "n : ℕ\n⊢ n + 0 = n"}
    rows = [
        _bench_row("plain", [1, 1], first, theorem_statement="theorem plain (n : Nat) : n + 0 = n"),
        _bench_row("auto", [1, 1], first, theorem_statement="theorem auto (h : 1 = 1 := by rfl) : n + 0 = n"),
        _bench_row("none", [1, 1], first, theorem_statement=None),
    ]
    bench = tmp_path / "test.json"
    bench.write_text(json.dumps(rows), encoding="utf-8")
    theorems = build_from_leandojo_benchmark(bench).cassette.theorems
    assert theorems["plain"].initial_state == first["state_before"]
    assert theorems["auto"].initial_state is None and theorems["none"].initial_state is None


def test_replay_cannot_verify_a_side_goal(tmp_path: Path) -> None:
    """The point of 7: a proof of the auto-param's side goal is not a proof of the theorem."""
    from lean_env.backends.replay import ReplayVerifier
    from lean_env.checks.verdict import Rejected
    from lean_env.types import Theorem

    (tmp_path / "Traced.lean").write_text(TRACED_FILE, encoding="utf-8")
    bench = tmp_path / "test.json"
    bench.write_text(json.dumps([_bench_row(*TRACES[1][:3])]), encoding="utf-8")
    cassette = build_from_leandojo_benchmark(bench, source_root=tmp_path).cassette
    traced = cassette.theorems["auto"].to_theorem().dojo  # the traced declaration itself: its source vouches
    verdict = ReplayVerifier(cassette).verify(
        Theorem("auto", "theorem auto (n : Nat) (h : n = n := by rfl) : True", dojo=traced), "rfl"
    )
    assert isinstance(verdict, Rejected) and "initial state" in verdict.reason
    # The same name stated in a file is no evidence at all: the trace recorded no statement to compare.
    in_a_file = ReplayVerifier(cassette).verify(Theorem("auto", "theorem auto : True"), "rfl")
    assert isinstance(in_a_file, Rejected) and "no statement" in in_a_file.reason


def test_cli_build_source_root(cli: typer.Typer, tmp_path: Path) -> None:
    """`prover cassette build --source-root DIR` passes the traced checkout on, so point 7's positional check runs."""
    (tmp_path / "Traced.lean").write_text(TRACED_FILE, encoding="utf-8")
    bench = tmp_path / "test.json"
    bench.write_text(json.dumps([_bench_row(*t[:3]) for t in TRACES]), encoding="utf-8")
    with_root, without_root = tmp_path / "with.jsonl", tmp_path / "without.jsonl"
    built = run_app(cli, ["cassette", "build", str(with_root), str(bench), "--source-root", str(tmp_path)])
    assert built.exit_code == 0, built.output
    assert run_app(cli, ["cassette", "build", str(without_root), str(bench)]).exit_code == 0
    for name, _, first, recorded in TRACES:
        got = Cassette.load(with_root).theorems[name].initial_state
        assert got == (first["state_before"] if recorded else None), name
        assert Cassette.load(without_root).theorems[name].initial_state is None, name
    # Bad input: one line and exit 2, nothing written.
    for extra, why in (
        (["--source-root", str(tmp_path / "absent")], "not a directory"),
        (["--source-root", str(bench)], "not a directory"),
        (["--source-root", str(tmp_path), "--from-minif2f-fewshot", "--names", "a"], "--source-root"),
    ):
        out = tmp_path / "bad.jsonl"
        args = ["cassette", "build", str(out)] + ([] if "--from-minif2f-fewshot" in extra else [str(bench)])
        result = run_app(cli, args + extra)
        assert result.exit_code == 2 and why in result.output and not out.exists(), result.output
    # Only LeanDojo Benchmark `.json` inputs have positions to check: with proofsteps alone the flag is refused.
    rows = tmp_path / "rows.jsonl"
    rows.write_text("", encoding="utf-8")
    refused = run_app(cli, ["cassette", "build", str(tmp_path / "o.jsonl"), str(rows), "--source-root", "."])
    assert refused.exit_code == 2 and ".json" in refused.output
