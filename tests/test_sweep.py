"""Sweeps on a local Ray instance (2 CPUs) with replay cassettes of real Lean results and the fixed-tactic generator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from timeouts import SUBPROCESS_TIMEOUT_S

from benchmarks.minif2f import Problem, load_few_shot, load_problems
from benchmarks.results import read_results
from benchmarks.sweep import Components, SweepConfig, SweepError, load_sweep_config, run_sweep
from benchmarks.sweep.actors import GeneratorServer
from benchmarks.sweep.attempt import AttemptJob, run_search_attempt, run_whole_attempt, whole_proof_request
from lean_env.backends.replay import ReplayEnv, ReplayVerifier
from lean_env.cassette.minif2f import build_from_minif2f_fewshot
from lean_env.checks.verdict import Rejected, Verdict
from lean_env.types import ProofState, TacticResult, Theorem
from prover.generators import FixedTacticGenerator
from prover.paths import REPO_ROOT
from prover.templates import get_template
from search.types import Candidate, GenRequest

# Problems whose DeepSeek few-shot proof is one real-Lean-checked tactic, and two with no recorded proof.
PROVABLE = {
    "mathd_algebra_182": "ring",
    "mathd_algebra_455": "linarith",
    "mathd_algebra_10": "norm_num",
    "mathd_numbertheory_24": "apply Eq.refl",
}
UNPROVABLE = ["mathd_algebra_116", "aimeII_2001_p3"]
NOT_IN_CASSETTE = "mathd_algebra_101"  # a real valid problem the cassette lacks: it fails to start
FIXED = {"ring": -1.0, "linarith": -1.5, "norm_num": -2.0, "apply Eq.refl": -2.5}


@pytest.fixture(scope="session")
def ray_address() -> Any:
    ray = pytest.importorskip("ray")
    import logging

    # Test doubles defined here travel to the actors by value (workers cannot import test modules).
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    started = not ray.is_initialized()  # another test module may have started Ray already: share it
    if started:
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
            runtime_env={"env_vars": {"PYTHONPATH": str(REPO_ROOT)}},
        )
    yield ray.get_runtime_context().gcs_address
    if started:
        ray.shutdown()


@pytest.fixture(scope="session")
def minif2f(shared: Path) -> Path:
    return shared / "data" / "minif2f" / "minif2f.jsonl"


@pytest.fixture(scope="session")
def cassette_path(shared: Path, minif2f: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    fewshot = shared / "data" / "minif2f" / "deepseek_minif2f_valid_few_shot.jsonl"
    report = build_from_minif2f_fewshot(fewshot, minif2f, list(PROVABLE), UNPROVABLE)
    path = tmp_path_factory.mktemp("cassette") / "minif2f.cassette.jsonl"
    report.cassette.save(path)
    return path


def sweep_config(tmp_path: Path, names: Sequence[str], **sweep: Any) -> SweepConfig:
    section = {"split": "valid", "names": list(names), "output": str(tmp_path / "results.jsonl"), "prover_actors": 2}
    section.update(sweep)
    return load_sweep_config(
        overrides={
            "sweep": section,
            "generator": {"kind": "fixed", "fixed_tactics": FIXED},
            "search": {"max_expansions": 4, "time_s": 60},
        }
    )


def replay_components(cassette: Path, **extra: Any) -> Components:
    return Components(
        env_factory=lambda: ReplayEnv(cassette),
        verifier_factory=lambda: ReplayVerifier(cassette),
        tactic_factory=lambda: FixedTacticGenerator(FIXED),
        **extra,
    )


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


# ----------------------------------------------------------------------------- pass rates


def test_pass_rate_counts_every_problem_and_records_provenance(
    ray_address: str, cassette_path: Path, tmp_path: Path
) -> None:
    names = [*PROVABLE, *UNPROVABLE, NOT_IN_CASSETTE]
    cfg = sweep_config(tmp_path, names)
    run = run_sweep(cfg, components=replay_components(cassette_path), progress=False)

    assert run.summary.pass_rate_line() == "pass rate: 4/7 (57.1%)"
    rows = {r["problem"]: r for r in lines(run.output)}
    assert sorted(rows) == sorted(names)
    assert {n for n, r in rows.items() if r["proved"]} == set(PROVABLE)
    for name, tactic in PROVABLE.items():
        assert rows[name]["proof"].strip() == tactic
        assert rows[name]["verdict"] == "verified" and rows[name]["checker"] == "replay"
    assert rows[NOT_IN_CASSETTE]["status"] == "failed_start"
    assert all(rows[n]["status"] == "exhausted" for n in UNPROVABLE)
    row = rows["mathd_algebra_182"]
    assert row["config_hash"] == cfg.config_hash() and row["model"] == "fixed"
    assert row["statement_commit"] == "5746b7d6c47855ce1294bed87329618ff7f1bc31"
    assert row["statement_repo"] == "github.com/yangky11/miniF2F-lean4"
    assert row["category"] == "algebra" and row["task"] == "f2f" and row["attempt"] == 0
    categories = {c.category: (c.proved, c.total) for c in run.summary.categories}
    assert categories == {"algebra": (3, 5), "number theory": (1, 1), "AIME": (0, 1)}
    assert run.batch_sizes and sum(run.batch_sizes) >= len(names) - 1  # every started search asked the generator


class RejectAll:
    def verify(self, theorem: Theorem, proof: str) -> Verdict:
        return Rejected("this verifier rejects everything", checker="test")


def test_a_search_claim_is_not_a_proof_without_the_verifier(cassette_path: Path, minif2f: Path) -> None:
    problem = load_problems(minif2f, names=["mathd_algebra_182"])[0]
    cfg = load_sweep_config(overrides={"search": {"max_expansions": 2}})
    job = AttemptJob(problem, 0, "f2f", "search")
    outcome = run_search_attempt(
        job, ReplayEnv(cassette_path), FixedTacticGenerator(FIXED), RejectAll(), cfg.search.to_search_config()
    )
    assert outcome.status == "rejected" and not outcome.proved
    assert outcome.verdict_reason == "this verifier rejects everything"


def test_resume_skips_finished_attempts(ray_address: str, cassette_path: Path, tmp_path: Path) -> None:
    names = list(PROVABLE)
    one = {"prover_actors": 1}
    run_sweep(sweep_config(tmp_path, names[:2], **one), components=replay_components(cassette_path), progress=False)
    with pytest.raises(SweepError, match="--resume"):
        run_sweep(sweep_config(tmp_path, names, **one), components=replay_components(cassette_path), progress=False)
    run = run_sweep(
        sweep_config(tmp_path, names, resume=True, **one), components=replay_components(cassette_path), progress=False
    )
    assert (run.skipped, run.new_records) == (2, 2)
    assert sorted(r["problem"] for r in lines(run.output)) == sorted(names)
    cfg = sweep_config(tmp_path, names, resume=True)
    cfg.search.max_expansions = 9
    with pytest.raises(SweepError, match="config"):  # other search settings must not mix into these results
        run_sweep(cfg, components=replay_components(cassette_path), progress=False)


# ----------------------------------------------------------------------------- crashes


class CrashingEnv(ReplayEnv):
    """Kills its whole actor process (as a segfaulting Lean binding would) on chosen problems."""

    def __init__(self, cassette: Path, marker_dir: Path) -> None:
        super().__init__(cassette)
        self.marker_dir = marker_dir

    def start(self, theorem: Theorem) -> ProofState:
        if theorem.name == "mathd_algebra_455":
            os._exit(3)  # every time
        marker = self.marker_dir / f"{theorem.name}.crashed"
        if theorem.name == "mathd_algebra_182" and not marker.exists():
            marker.write_text("x")
            os._exit(3)  # only the first time: the retry succeeds
        return super().start(theorem)

    def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> TacticResult:
        return super().run_tactic(state, tactic, timeout)


@pytest.mark.slow
def test_a_crashing_actor_fails_only_its_attempt(ray_address: str, cassette_path: Path, tmp_path: Path) -> None:
    names = list(PROVABLE)
    comps = replay_components(cassette_path)
    comps.env_factory = lambda: CrashingEnv(cassette_path, tmp_path)
    run = run_sweep(sweep_config(tmp_path, names), components=comps, progress=False)

    rows = {r["problem"]: r for r in lines(run.output)}
    assert sorted(rows) == sorted(names)
    assert rows["mathd_algebra_455"]["status"] == "crashed" and not rows["mathd_algebra_455"]["proved"]
    assert rows["mathd_algebra_455"]["retries"] == 1
    assert rows["mathd_algebra_182"]["proved"] and rows["mathd_algebra_182"]["retries"] == 1
    assert rows["mathd_algebra_10"]["proved"] and rows["mathd_numbertheory_24"]["proved"]
    assert run.summary.pass_rate_line() == "pass rate: 3/4 (75.0%)"


# ----------------------------------------------------------------------------- kill -9 of the driver

DRIVER = """
import sys, time
from benchmarks.sweep import Components, load_sweep_config, run_sweep
from lean_env.backends.replay import ReplayEnv, ReplayVerifier
from prover.generators import FixedTacticGenerator

cassette, output, address, names, resume = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(","), sys.argv[5] == "1"
fixed = {fixed!r}
cfg = load_sweep_config(overrides={{
    "sweep": {{"split": "valid", "names": names, "output": output, "prover_actors": 1, "address": address, "resume": resume}},
    "generator": {{"kind": "fixed", "fixed_tactics": fixed}},
    "search": {{"max_expansions": 4, "time_s": 60}},
}})
comps = Components(
    env_factory=lambda: ReplayEnv(cassette, latency_s=0.15),  # slow enough to be killed mid-sweep
    verifier_factory=lambda: ReplayVerifier(cassette),
    tactic_factory=lambda: FixedTacticGenerator(fixed),
)
run = run_sweep(cfg, components=comps, progress=False)
print(run.summary.pass_rate_line())
"""


@pytest.mark.slow
def test_kill_9_of_the_driver_loses_and_duplicates_nothing(
    ray_address: str, cassette_path: Path, tmp_path: Path, minif2f: Path
) -> None:
    names = [*PROVABLE, *UNPROVABLE, NOT_IN_CASSETTE]
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(DRIVER.format(fixed=FIXED)))
    output = tmp_path / "results.jsonl"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    argv = [sys.executable, str(script), str(cassette_path), str(output), ray_address, ",".join(names)]

    proc = subprocess.Popen([*argv, "0"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if output.exists() and output.read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"the driver ended before it could be killed: {proc.stdout.read()!r}"  # type: ignore[union-attr]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = lines(output)
    assert 2 <= len(before) < len(names)
    # A kill mid-write leaves a truncated tail: simulate the worst case and expect it to be ignored.
    with output.open("a") as fh:
        fh.write('{"problem": "mathd_algebra_116", "attempt": 0, "sta')

    # The killed driver's lock stays; a resume is told it is stale and the command that clears it.
    from benchmarks.results import ResultsLockedError, ResultsStore, lock_path

    with pytest.raises(ResultsLockedError, match=rf"stale lock from pid {proc.pid}.*`rm {lock_path(output)}`"):
        ResultsStore(output).open_for_append()
    lock_path(output).unlink()
    done = subprocess.run([*argv, "1"], env=env, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "pass rate: 4/7 (57.1%)"
    after = lines(output)  # every line parses: the truncated tail was cut before appending
    keys = [(r["problem"], r["attempt"]) for r in after]
    assert len(keys) == len(set(keys)) == len(names)
    assert after[: len(before)] == before  # nothing already written was lost or rewritten
    assert read_results(output).truncated_tail is False


# ----------------------------------------------------------------------------- informal-to-formal


class InformalOnlyGenerator:
    """Proposes the recorded tactic only when the rendered Llemma prompt contains the informal proof."""

    def __init__(self, informal_proofs: dict[str, str]) -> None:
        self.proofs = informal_proofs
        self.template = get_template("llemma")

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        out = []
        for req in requests:
            prompt = self.template.render(req.state, req.context)
            name = req.theorem_name or ""
            guided = self.proofs[name].strip() in prompt
            out.append([Candidate(PROVABLE[name], -0.5)] if guided else [Candidate("simp", -0.5)])
        return out


def test_i2f_search_prompts_contain_the_informal_proof(
    ray_address: str, cassette_path: Path, tmp_path: Path, minif2f: Path
) -> None:
    names = ["mathd_algebra_182", "mathd_algebra_10"]
    proofs = {p.name: p.theorem.informal_proof or "" for p in load_problems(minif2f, names=names)}
    assert all(proofs.values())
    comps = replay_components(cassette_path)
    comps.tactic_factory = lambda: InformalOnlyGenerator(proofs)
    i2f = run_sweep(sweep_config(tmp_path, names, task="i2f", prover_actors=1), components=comps, progress=False)
    assert i2f.summary.pass_rate_line() == "pass rate: 2/2 (100.0%)"
    assert {r["task"] for r in lines(i2f.output)} == {"i2f"}
    # The same generator without the informal proof (f2f) finds nothing: the prompt made the difference.
    cfg = sweep_config(tmp_path, names)
    for problem in load_problems(minif2f, names=names):
        job = AttemptJob(problem, 0, "f2f", "search")
        env, gen = ReplayEnv(cassette_path), InformalOnlyGenerator(proofs)
        outcome = run_search_attempt(job, env, gen, ReplayVerifier(cassette_path), cfg.search.to_search_config())
        assert outcome.status == "exhausted" and not outcome.proved


def test_whole_proof_prompt_has_informal_proof_and_never_its_own_solution(shared: Path, minif2f: Path) -> None:
    fewshot = load_few_shot(shared / "data" / "minif2f" / "deepseek_minif2f_valid_few_shot.jsonl")
    problem = load_problems(minif2f, names=["mathd_algebra_182"])[0]  # itself a few-shot example
    prompt = whole_proof_request(problem, "i2f", fewshot, 3)
    assert problem.theorem.informal_proof and problem.theorem.informal_statement
    assert problem.theorem.informal_proof.splitlines()[0] in prompt
    assert problem.theorem.informal_statement.strip() in prompt
    assert prompt.count("Complete the following Lean 4 code") == 4  # 3 shots + the query
    assert "theorem mathd_algebra_182" in prompt.split("Complete the following Lean 4 code")[-1]
    assert all("mathd_algebra_182" not in shot for shot in prompt.split("Complete the following Lean 4 code")[:-1])
    assert prompt.rstrip().endswith("-/")  # the model continues the proof right after the informal proof
    f2f_prompt = whole_proof_request(problem, "f2f", fewshot, 0)
    assert problem.theorem.informal_proof.splitlines()[0] not in f2f_prompt


class ScriptedCompleter:
    """Writes the recorded proof when the prompt carries the informal proof; otherwise a wrong one."""

    def __init__(self, informal_proofs: dict[str, str]) -> None:
        self.proofs = informal_proofs

    def __call__(self, prompts: Sequence[str]) -> list[str]:
        out = []
        for prompt in prompts:
            query = prompt.split("Complete the following Lean 4 code")[-1]
            name = next(n for n in self.proofs if f"theorem {n} " in query)
            first_line = self.proofs[name].strip().splitlines()[0]
            out.append(f"  {PROVABLE[name]}\n```\n" if first_line in query else "  nlinarith\n```\n")
        return out


def test_i2f_whole_proof_pass_at_n(ray_address: str, cassette_path: Path, tmp_path: Path, minif2f: Path) -> None:
    names = ["mathd_algebra_182", "mathd_numbertheory_24"]
    proofs = {p.name: p.theorem.informal_proof or "" for p in load_problems(minif2f, names=names)}
    comps = replay_components(cassette_path, completer_factory=lambda: ScriptedCompleter(proofs))
    cfg = sweep_config(tmp_path, names, task="i2f", mode="whole", attempts=3, prover_actors=1)
    run = run_sweep(cfg, components=comps, progress=False)
    rows = lines(run.output)
    assert len(rows) == 6 and all(r["proved"] and r["mode"] == "whole" for r in rows)
    assert all(r["checker"] == "replay" for r in rows)
    assert run.summary.pass_at == {1: 1.0, 2: 1.0, 3: 1.0}
    # Without the informal proof the scripted model writes a wrong proof, and the verifier rejects it.
    fewshot = load_few_shot(cfg.sweep.few_shot_path())
    for problem in load_problems(minif2f, names=names):
        job = AttemptJob(problem, 0, "f2f", "whole", whole_proof_request(problem, "f2f", fewshot, 3))
        outcome = run_whole_attempt(job, ScriptedCompleter(proofs), ReplayVerifier(cassette_path))
        assert outcome.status == "rejected" and not outcome.proved and outcome.proof == "  nlinarith"


# ----------------------------------------------------------------------------- batching


class SlowEcho:
    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        self.calls.append(len(requests))
        time.sleep(0.02)
        return [[Candidate(f"echo {r.state}", -1.0)] for r in requests]


def test_generator_server_batches_concurrent_requests() -> None:
    import asyncio

    server = GeneratorServer(SlowEcho, None, max_batch=8, max_wait_ms=20)

    async def many() -> list[list[list[Candidate]]]:
        return await asyncio.gather(*(server.generate([GenRequest(state=str(i))], 4) for i in range(20)))

    results = asyncio.run(many())
    assert [r[0][0].tactic for r in results] == [f"echo {i}" for i in range(20)]  # answers go to their askers
    sizes = server.batch_sizes()
    assert sum(sizes) == 20 and max(sizes) == 8 and len(sizes) < 20


def test_problems_carry_informal_context_and_category(minif2f: Path) -> None:
    problems: list[Problem] = load_problems(minif2f, split="test")
    assert len(problems) == 244
    p = next(x for x in problems if x.name.startswith("imo_"))
    assert p.category == "IMO" and p.theorem.informal_proof and p.theorem.informal_statement
    assert ":=" not in p.theorem.statement.splitlines()[-1] and p.theorem.header.startswith("import Mathlib")


# ----------------------------------------------------------------------------- the command line


def test_prover_sweep_command_end_to_end(ray_address: str, cassette_path: Path, tmp_path: Path) -> None:

    from tests.cli_support import run_cli

    names = ["mathd_algebra_182", "mathd_algebra_455", "aimeII_2001_p3"]
    output = tmp_path / "out" / "results.jsonl"
    args = ["sweep", "--backend", "replay", "--cassette", str(cassette_path), "--generator", "fixed"]
    args += ["--split", "valid", "--names", ",".join(names), "--actors", "1", "--max-expansions", "3"]
    args += ["--task", "i2f", "--output", str(output), "--no-progress"]
    result = run_cli(args)
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "pass rate: 2/3 (66.7%)"
    rows = lines(output)
    assert {r["problem"] for r in rows if r["proved"]} == {"mathd_algebra_182", "mathd_algebra_455"}
    assert {r["task"] for r in rows} == {"i2f"} and {r["checker"] for r in rows if r["proved"]} == {"replay"}
    assert (output.parent / "report.html").is_file() and (output.parent / "report.md").is_file()
