"""The sweep's sizing rule (benchmarks.sizing) and the measurements it is fed from."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from benchmarks.results import AttemptRecord, read_results
from benchmarks.sizing import (
    DEFAULT_TACTIC_S,
    AttemptCost,
    Cluster,
    Costs,
    GeneratorCurve,
    Limits,
    choose_actors,
    default_costs,
    fit_generator,
    measure_costs,
    plan,
    predict,
)
from benchmarks.sweep import SweepConfig, load_sweep_config
from benchmarks.sweep.actors import GeneratorServer
from benchmarks.sweep.autosize import AutoSizer
from benchmarks.sweep.plan import format_duration, generator_calls_path, read_generator_calls, write_generator_calls
from lean_env.errors import TheoremStartError
from lean_env.types import ClosingContext, HoleTarget, ProofFinished, ProofState, TacticResult, Theorem
from search.types import Candidate, GenRequest, SearchConfig


class LinearLatency:
    """A model call on n states takes 0.01 + 0.002 n seconds."""

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        time.sleep(0.01 + 0.002 * len(requests))
        return [[Candidate("simp", -1.0)] for _ in requests]


def test_generator_server_records_the_time_of_each_model_call() -> None:
    server = GeneratorServer(LinearLatency, None, max_batch=8, max_wait_ms=5)

    async def many() -> None:
        await asyncio.gather(*(server.generate([GenRequest(state=str(i))], 4) for i in range(20)))

    t0 = time.time()
    asyncio.run(many())
    calls = server.call_stats()
    assert [n for _, _, n in calls] == server.batch_sizes() and sum(n for _, _, n in calls) == 20
    for started, seconds, n in calls:
        assert t0 <= started <= time.time()
        assert 0.01 + 0.002 * n <= seconds < 0.01 + 0.002 * n + 0.05
    server.reset_stats()
    assert server.call_stats() == []


class BusyChildEnv(ClosingContext):
    """An Env whose 'Lean' is a child process burning CPU for about 0.3 s per tactic, as a REPL does."""

    def __init__(self) -> None:
        import subprocess
        import sys

        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys\nfor line in sys.stdin:\n x=0\n for i in range(3_000_000): x+=i\n print(x, flush=True)",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def start(self, theorem: Theorem) -> ProofState:
        return ProofState.from_pp("⊢ True")

    def start_hole(self, target: HoleTarget) -> ProofState:
        raise TheoremStartError(f"{type(self).__name__} starts only at a theorem's statement, not at a hole")

    def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> TacticResult:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(tactic + "\n")
        self.proc.stdin.flush()
        self.proc.stdout.readline()
        return ProofFinished()

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def test_prover_worker_reports_the_cpu_of_its_lean_processes() -> None:
    from benchmarks.sweep.actors import ProverWorker
    from benchmarks.sweep.attempt import AttemptJob
    from benchmarks.sweep.simulated import SimulatedVerifier, simulated_problems

    worker = ProverWorker("unused", SearchConfig(num_tactics=1), BusyChildEnv, lambda: SimulatedVerifier(depth=1))
    worker.generator = lambda requests, k: [[Candidate("step", -1.0)] for _ in requests]  # type: ignore[assignment]
    try:
        t0 = time.process_time()
        outcome = worker.run(AttemptJob(simulated_problems(1)[0], 0, "f2f", "search"))
        own = time.process_time() - t0
    finally:
        worker.close()
    assert outcome.status == "proved"
    # The child's work (well above this process's own) is counted.
    assert outcome.stats["cpu_s"] >= own + 0.1


# ----------------------------------------------------------------------------- the sizing rule (pure)

# bench_sweep.py scenario 2 at scale 1: 32 tactics x 90 ms mean, generator 1 s + 0.1 s per state.
L, A, B, N = 2.9, 1.0, 0.1, 32
GEN = GeneratorCurve(A, B)
SIMULATED = Costs(actor_s=L, cpu_s=0.01, generator=GEN, expansions_per_attempt=3)  # Lean sleeps: no CPU


def f(n: float) -> float:
    """Actors that keep the generator busy with batches of n (the module docstring's f)."""
    return n * (1.5 + L / (A + B * n))


def test_too_few_actors_leave_the_generator_idle() -> None:
    p = predict(SIMULATED, 2, N, cpus=2)
    assert p.bound == "too few actors" and p.batch == 1
    assert p.expansions_per_s == pytest.approx(2 / (L + A + B))
    assert p.generator_busy == pytest.approx(p.expansions_per_s * (A + B))
    assert p.cycle_s == pytest.approx(L + A + B)


def test_enough_actors_keep_it_busy_with_the_batch_they_fill() -> None:
    p = predict(SIMULATED, 32, N, cpus=2)
    assert p.bound == "generator busy" and p.generator_busy == 1.0
    assert f(p.batch) == pytest.approx(32)
    assert p.expansions_per_s == pytest.approx(p.batch / (A + B * p.batch))
    assert predict(SIMULATED, 4, N, cpus=2).batch == 1  # 1 + L/T(1) < 4 < f(1): busy with single requests
    full = predict(SIMULATED, 80, N, cpus=2)  # f(32) = 70.1 < 80: full batches, extra actors wait
    assert full.bound == "full batches" and full.batch == N
    assert full.expansions_per_s == pytest.approx(N / (A + B * N))
    assert full.cycle_s == pytest.approx(80 / full.expansions_per_s)


def test_throughput_never_falls_and_busy_never_exceeds_one_as_actors_grow() -> None:
    for costs, cpus in ((SIMULATED, 2.0), (Costs(L, L, GEN), 16.0), (Costs(0.5, 0.5, GeneratorCurve(0.0, 0.0)), 4.0)):
        preds = [predict(costs, m, N, cpus) for m in range(1, 120)]
        rates = [p.expansions_per_s for p in preds]
        assert all(b >= a - 1e-9 for a, b in zip(rates, rates[1:], strict=False))
        assert all(0.0 <= p.generator_busy <= 1.0 and p.cpus_used <= cpus + 1e-9 for p in preds)
        assert all(p.cycle_s >= costs.actor_s - 1e-9 for p in preds)


def test_auto_fills_nearly_the_largest_batch_when_cpus_are_plenty() -> None:
    s = choose_actors(SIMULATED, Cluster(cpus=2), Limits(max_batch=N))
    assert s.limited_by == "max_batch"
    best = N / (A + B * N)
    knee = next(m for m in range(1, 100) if predict(SIMULATED, m, N, 2).expansions_per_s >= 0.99 * best)
    assert knee < f(N) < knee + 6  # within 1% of the full-batch rate a little before f(N)
    assert s.actors == knee
    assert s.prediction.expansions_per_s == pytest.approx(best, rel=0.01)
    assert f"actors auto: {s.actors} per generator replica" in s.describe() and "limited by max_batch" in s.describe()


def test_real_lean_keeps_a_core_busy_so_cpus_bound_the_actors() -> None:
    lean = Costs(actor_s=L, cpu_s=L, generator=GEN)  # a running Lean call is CPU-bound
    s = choose_actors(lean, Cluster(cpus=16), Limits(max_batch=N))
    assert s.limited_by == "CPUs"
    assert s.prediction.expansions_per_s == pytest.approx(16 / L, rel=0.01)
    # The smallest count that gets there: one actor fewer stays under it.
    assert predict(lean, s.actors - 1, N, 16).expansions_per_s < 0.99 * 16 / L
    assert 16 < s.actors < f(N)


def test_replicas_split_the_cluster() -> None:
    lean = Costs(actor_s=L, cpu_s=L, generator=GEN)
    one = choose_actors(lean, Cluster(cpus=16), Limits(max_batch=N))
    two = choose_actors(lean, Cluster(cpus=32, replicas=2), Limits(max_batch=N))
    assert two.actors == one.actors and two.total_actors == 2 * one.actors


def test_memory_ray_reservation_and_time_budget_cap_the_choice() -> None:
    mem = choose_actors(SIMULATED, Cluster(cpus=64, memory_gb=100, actor_memory_gb=8), Limits(max_batch=N))
    assert (mem.actors, mem.limited_by) == (12, "memory (8 GB per actor)")
    ray_cap = choose_actors(SIMULATED, Cluster(cpus=16, ray_cpus_per_actor=0.5), Limits(max_batch=N))
    assert ray_cap.actors == 32 and ray_cap.limited_by.startswith("Ray CPUs")
    # Llemma's budget, 600 s for 100 expansions: an expansion cycle may not exceed 6 s.
    timed = choose_actors(SIMULATED, Cluster(cpus=2), Limits(max_batch=N, cycle_s=6.0))
    assert timed.limited_by == "time budget" and timed.prediction.cycle_s <= 6.0
    assert predict(SIMULATED, timed.actors + 1, N, 2).cycle_s > 6.0
    hopeless = choose_actors(SIMULATED, Cluster(cpus=2), Limits(max_batch=N, cycle_s=1.0))
    assert hopeless.actors == 1 and hopeless.limited_by == "time budget" and hopeless.notes


def test_a_free_generator_is_never_the_bottleneck() -> None:
    free = Costs(actor_s=0.2, cpu_s=0.2, generator=GeneratorCurve(0.0, 0.0))
    s = choose_actors(free, Cluster(cpus=8), Limits(max_batch=N))
    assert s.limited_by == "CPUs" and s.actors == 8


def test_fit_generator_recovers_the_latency_curve() -> None:
    exact = fit_generator([(n, 1.0 + 0.1 * n) for n in (1, 3, 3, 8, 20)])
    assert (exact.fixed_s, exact.per_state_s) == pytest.approx((1.0, 0.1), rel=1e-9)
    curve = fit_generator([(n, 1.0 + 0.1 * n + (0.01 if i % 2 else -0.01)) for i, n in enumerate(range(1, 30))])
    assert curve.fixed_s == pytest.approx(1.0, abs=0.02) and curve.per_state_s == pytest.approx(0.1, abs=0.002)
    assert fit_generator([(4, 2.0), (4, 2.2)]) == GeneratorCurve(2.1, 0.0)  # one size: the time is taken as fixed
    assert fit_generator([(1, 0.3), (8, 2.4)]).fixed_s == 0.0  # a fit below the origin goes through it
    with pytest.raises(ValueError):
        fit_generator([])


def test_measure_costs_per_expansion() -> None:
    attempts = [AttemptCost(10.0, 4.0, 3, 1.5), AttemptCost(5.0, 2.0, 1, None), AttemptCost(0.5, 0.0, 0, 0.1)]
    c = measure_costs(attempts, GEN, lean_cpu=1.0)
    assert c.actor_s == pytest.approx((6.0 + 3.0) / 4)
    assert c.cpu_s == pytest.approx((1.5 + 3.0) / 4)
    assert c.expansions_per_attempt == 2.0
    with pytest.raises(ValueError):
        measure_costs([AttemptCost(1.0, 0.0, 0)], GEN)


def test_plan_rows_give_wall_time_and_gpu_hours() -> None:
    costs = default_costs(num_tactics=32, expansions_per_attempt=100)
    assert costs.actor_s == pytest.approx(32 * DEFAULT_TACTIC_S) and costs.cpu_s == costs.actor_s
    sizing, rows = plan(costs, Cluster(cpus=64, replicas=4), Limits(max_batch=N), attempts=244, gpus_per_replica=1.0)
    assert [r.actors for r in rows if r.chosen] == [sizing.actors]
    assert [r.actors for r in rows] == sorted(r.actors for r in rows)
    for r in rows:
        rate = r.prediction.expansions_per_s * 4
        assert r.wall_s == pytest.approx(244 * 100 / rate)
        assert r.gpu_hours == pytest.approx(r.wall_s / 3600 * 4)
    assert min(r.wall_s for r in rows) == pytest.approx(next(r.wall_s for r in rows if r.chosen), rel=0.01)


def test_choosing_is_fast_enough_for_the_cli() -> None:
    t0 = time.perf_counter()
    choose_actors(Costs(L, L, GEN), Cluster(cpus=512), Limits(max_batch=N))
    assert time.perf_counter() - t0 < 1.0


# ----------------------------------------------------------------------------- --actors auto in the driver


def record(i: int, wall: float, model: float, expansions: int, cpu: float, rss: float) -> AttemptRecord:
    stats = {"expansions": expansions, "model_time_s": model, "cpu_s": cpu, "rss_mb": rss}
    return AttemptRecord(
        problem=f"p{i}", attempt=0, status="proved", stats=stats, started_at=100.0, finished_at=100 + wall
    )


def auto_config(**sweep: object) -> SweepConfig:
    return load_sweep_config(
        overrides={"sweep": {"prover_actors": "auto", **sweep}, "search": {"max_expansions": 100, "time_s": 600}}
    )


def test_auto_starts_small_and_reserves_most_cpus_for_later() -> None:
    sizer = AutoSizer(auto_config(), cluster_cpus=16, cluster_memory_gb=None, jobs=244)
    assert (sizer.start_total, sizer.calibration) == (8, 8)
    assert sizer.start_reservation() == pytest.approx(16 * 0.125 / 8)
    assert sizer.added_reservation(56) * 56 <= 16 - 2  # every added actor fits beside the first ones
    explicit = AutoSizer(auto_config(cpus_per_prover=4.0), cluster_cpus=16, cluster_memory_gb=None, jobs=244)
    assert (explicit.start_total, explicit.start_reservation(), explicit.added_reservation(9)) == (4, 4.0, 4.0)
    few = AutoSizer(auto_config(generator_replicas=2), cluster_cpus=16, cluster_memory_gb=None, jobs=3)
    assert (few.start_per_replica, few.start_total, few.calibration) == (2, 4, 3)


def test_auto_decides_from_the_first_attempts_and_the_generator_calls() -> None:
    sizer = AutoSizer(auto_config(max_batch=32), cluster_cpus=16, cluster_memory_gb=64, jobs=244)
    # Each attempt: 10 expansions, 29 s outside the generator (2.9 s/expansion), all of it on a core.
    finished = [record(i, wall=29.0 + 20.0, model=20.0, expansions=10, cpu=29.0, rss=2048) for i in range(7)]
    assert not sizer.ready(finished)
    finished.append(record(7, wall=0.5, model=0.0, expansions=0, cpu=0.1, rss=2048))  # failed to start: not counted
    assert not sizer.ready(finished)
    finished.append(record(8, wall=49.0, model=20.0, expansions=10, cpu=29.0, rss=4096))
    assert sizer.ready(finished)
    calls = [(0.0, A + B * n, n) for n in (1, 2, 5, 8, 3)]
    choice = sizer.decide(finished, calls)
    costs = choice.sizing.costs
    assert (costs.actor_s, costs.cpu_s) == pytest.approx((2.9, 2.9))
    assert (costs.generator.fixed_s, costs.generator.per_state_s) == pytest.approx((A, B))
    # 16 cores with Lean on each busy core: at most 16 / 2.9 expansions/s; memory (4 GB x 1.25 each) allows 12.
    assert (choice.sizing.actors, choice.sizing.limited_by) == (12, "memory (5 GB per actor)")
    assert (choice.attempts, choice.calls) == (8, 5) and not sizer.ready(finished)
    assert "from 8 attempts, 5 generator calls" in choice.describe()


def test_auto_without_generator_calls_cannot_decide() -> None:
    sizer = AutoSizer(auto_config(), cluster_cpus=2, cluster_memory_gb=None, jobs=8)
    finished = [record(i, 10.0, 1.0, 3, 0.1, 100) for i in range(8)]
    with pytest.raises(ValueError, match="no generator calls"):
        sizer.decide(finished, [])


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray = pytest.importorskip("ray")
    import logging

    from prover.paths import REPO_ROOT

    started = not ray.is_initialized()
    if started:
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
            runtime_env={"env_vars": {"PYTHONPATH": str(REPO_ROOT)}},
        )
    yield
    if started:
        ray.shutdown()


@pytest.mark.slow  # starts 8-10 Ray actor processes: 10-20 s on 2 busy cores
def test_sweep_with_auto_actors_grows_the_pool_to_its_choice(local_ray: None, tmp_path: Path) -> None:
    from benchmarks.sweep import Components, run_sweep
    from benchmarks.sweep.simulated import SimulatedLatencyEnv, SimulatedVerifier, TrivialGenerator, simulated_problems

    # A slow generator and quick Lean: the rule wants many actors; Ray's reservation (0.2 of 2 CPUs) allows 10.
    cfg = load_sweep_config(
        overrides={
            "sweep": {"prover_actors": "auto", "cpus_per_prover": 0.2, "output": str(tmp_path / "r.jsonl")},
            "generator": {"kind": "fixed"},
            "search": {"num_tactics": 2, "max_expansions": 5, "time_s": 60},
        }
    )
    components = Components(
        env_factory=lambda: SimulatedLatencyEnv(depth=2, median_s=0.002, sigma=0.3),
        verifier_factory=lambda: SimulatedVerifier(depth=2),
        tactic_factory=lambda: TrivialGenerator(wrong=1, call_s=0.05, per_state_s=0.005),
    )
    run = run_sweep(cfg, problems=simulated_problems(40, prefix="auto"), components=components, progress=False)
    assert run.summary.proved == 40
    assert run.auto is not None
    assert (run.auto.sizing.actors, run.auto.sizing.limited_by) == (10, "Ray CPUs (0.2 reserved per actor)")
    assert run.auto.attempts >= 8
    assert 0 < run.auto.calls <= len([c for c in run.generator_calls if c[0] <= run.auto.decided_at])
    workers = {r.worker for r in read_results(run.output).records}
    assert len(workers) == 10  # the 8 starting actors, then 2 more


@pytest.mark.slow  # starts Ray actor processes
def test_auto_actors_say_what_they_chose_even_when_the_sweep_ends_first(
    local_ray: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks.sweep import Components, run_sweep
    from benchmarks.sweep.simulated import SimulatedLatencyEnv, SimulatedVerifier, TrivialGenerator, simulated_problems

    cfg = load_sweep_config(
        overrides={
            "sweep": {"prover_actors": "auto", "cpus_per_prover": 0.2, "output": str(tmp_path / "r.jsonl")},
            "generator": {"kind": "fixed"},
            "search": {"num_tactics": 2, "max_expansions": 5, "time_s": 60},
        }
    )
    components = Components(
        env_factory=lambda: SimulatedLatencyEnv(depth=2, median_s=0.002, sigma=0.3),
        verifier_factory=lambda: SimulatedVerifier(depth=2),
        tactic_factory=lambda: TrivialGenerator(wrong=1, call_s=0.01, per_state_s=0.001),
    )
    run = run_sweep(cfg, problems=simulated_problems(2, prefix="few"), components=components, progress=False)
    err = capsys.readouterr().err
    assert "actors auto: starting" in err
    assert ("actors auto: kept" in err) or (run.auto is not None and run.auto.describe() in err), err


# ----------------------------------------------------------------------------- prover sweep --plan


def run_cli(args: list[str]) -> tuple[int, str]:
    from tests import cli_support

    result = cli_support.run_cli(args)
    return result.exit_code, result.output


def test_generator_call_record_adds_up_across_resumed_sweeps(tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    write_generator_calls(results, [(0.0, 1.1, 1), (1.0, 1.5, 5)])
    write_generator_calls(results, [(2.0, 1.3, 1)])
    assert generator_calls_path(results).name == "results.jsonl.generator.json"
    assert read_generator_calls(results) == [(1, 2, pytest.approx(2.4)), (5, 1, 1.5)]


def test_plan_from_defaults_prints_a_table_and_the_expected_cost() -> None:
    code, out = run_cli(
        [
            "sweep",
            "--plan",
            "--preset",
            "llemma",
            "--split",
            "test",
            "--gpus",
            "8",
            "--cpus",
            "128",
            "--memory-gb",
            "1024",
        ]
    )
    assert code == 0, out
    # 244 test problems, 100 expansions of 32 tactics x 0.09 s on a core each; 8 GB per actor caps 16 per GPU.
    costs = default_costs(num_tactics=32, expansions_per_attempt=100)
    sizing, rows = plan(
        costs, Cluster(cpus=128, replicas=8, memory_gb=1024, actor_memory_gb=8), Limits(32, cycle_s=6.0), 244
    )
    chosen = next(r for r in rows if r.chosen)
    assert sizing.actors == 16 and sizing.limited_by == "memory (8 GB per actor)"
    assert out.strip().splitlines()[-1] == (
        f"expected: {format_duration(chosen.wall_s)} wall, {chosen.gpu_hours:.1f} GPU hours "
        "with --actors 16 per replica (128 in all)"
    )
    assert "244 problems x 1 attempts" in out and "documented" not in out and "default or flags" in out


def test_plan_from_an_earlier_results_file_uses_its_measured_costs(tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    records = [record(i, wall=29.0 + 20.0, model=20.0, expansions=10, cpu=29.0, rss=4096) for i in range(6)]
    results.write_text("".join(r.to_line() for r in records), encoding="utf-8")
    write_generator_calls(results, [(0.0, A + B * n, n) for n in (1, 2, 5, 8, 3)])
    code, out = run_cli(["sweep", "--plan", "--from", str(results), "--split", "valid", "--cpus", "16", "--gpus", "1"])
    assert code == 0, out
    assert "measured on 6 attempts" in out and "fitted on 5 calls" in out
    costs = Costs(2.9, 2.9, GeneratorCurve(A, B), expansions_per_attempt=10)
    expected = choose_actors(costs, Cluster(cpus=16), Limits(32, cycle_s=600 / 100))
    assert f"with --actors {expected.actors} per replica" in out.strip().splitlines()[-1]
    assert f"auto: limited by {expected.limited_by}" in out


def test_plan_and_auto_refuse_bad_input_in_one_line(tmp_path: Path) -> None:
    for args, message in (
        (["sweep", "--plan", "--from", str(tmp_path / "missing.jsonl")], "no such results file"),
        (["sweep", "--from", str(tmp_path / "r.jsonl")], "--from goes with --plan"),
        (["sweep", "--plan", "--actors", "many"], "must be a positive number of actors or 'auto'"),
        (["sweep", "--plan", "--cpus", "0"], "--cpus must be positive"),
    ):
        code, out = run_cli(args)
        assert code == 2 and message in out and len(out.strip().splitlines()) == 1, out
    empty = tmp_path / "empty.jsonl"
    empty.write_text(record(0, 1.0, 0.0, 0, 0.1, 10).to_line(), encoding="utf-8")
    code, out = run_cli(["sweep", "--plan", "--from", str(empty)])
    assert code == 2 and "no search attempt with an expansion" in out


@pytest.mark.slow  # starts 8-10 Ray actor processes: 10-20 s on 2 busy cores
def test_sweep_with_auto_actors_retires_actors_above_its_choice(local_ray: None, tmp_path: Path) -> None:
    from benchmarks.sweep import Components, run_sweep
    from benchmarks.sweep.simulated import SimulatedLatencyEnv, SimulatedVerifier, TrivialGenerator, simulated_problems

    # The time budget allows 0.2 s per expansion cycle: with a 0.1 s + 0.02 s/state generator, 8 actors
    # would wait too long for it, so auto keeps fewer than it started with.
    cfg = load_sweep_config(
        overrides={
            "sweep": {"prover_actors": "auto", "output": str(tmp_path / "r.jsonl")},
            "generator": {"kind": "fixed"},
            "search": {"num_tactics": 2, "max_expansions": 50, "time_s": 10.0},
        }
    )
    components = Components(
        env_factory=lambda: SimulatedLatencyEnv(depth=2, median_s=0.002, sigma=0.3),
        verifier_factory=lambda: SimulatedVerifier(depth=2),
        tactic_factory=lambda: TrivialGenerator(wrong=1, call_s=0.1, per_state_s=0.02),
    )
    run = run_sweep(cfg, problems=simulated_problems(40, prefix="shrink"), components=components, progress=False)
    assert run.summary.proved == 40 and run.auto is not None
    chosen = run.auto.sizing.actors
    assert chosen < 8 and run.auto.sizing.limited_by == "time budget"
    records = read_results(run.output).records
    # Actors above the choice are retired as they fall idle: attempts started well after the choice come
    # from at most `chosen` actors.
    later = {r.worker for r in records if r.started_at > run.auto.decided_at + 1.0}
    assert later and len(later) <= chosen


def test_plan_refuses_a_cluster_without_gpus() -> None:
    """`--plan --gpus 0` planned "0 GPUs (1 generator replicas)" and "0.0 GPU hours"; the plan sizes one
    generator replica per GPU, so no GPU is bad input, in one line, like `--cpus 0`."""
    for gpus in ("0", "-1"):
        code, out = run_cli(["sweep", "--plan", "--gpus", gpus])
        assert code == 2 and "--gpus must be positive" in out and len(out.strip().splitlines()) == 1, out
