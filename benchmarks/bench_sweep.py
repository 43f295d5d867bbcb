"""Sweep throughput on local Ray (2 CPUs) with a SIMULATED Lean, in two scenarios.

Scenario 1, instant generator: 1, 4 and 16 prover actors share one generator actor that answers at
once; every tactic sleeps a lognormal time with median 50 ms. Parallel efficiency at 16 actors =
(rate at 16 / rate at 1) / 16, target >= 0.8.

Scenario 2, a generator with a latency curve (is one GPU kept busy?): a call on n states takes
a + b*n seconds (a = 1.0 s, b = 0.1 s), k = 32 tactics per expansion, Lean latency lognormal per
tactic (median 50 ms, p95 300 ms) and now and then a restart (2 s after 0.5% of tactics). For 4,
16, 32 and 64 prover actors, and for `--actors auto`, it prints problems/s, the generator's busy
fraction (time inside model calls / wall time) and its mean batch, next to what the sizing model
(benchmarks.sizing) predicts. Targets: busy >= 0.75 at 32 actors; auto within 10% of the best
fixed count's problems/s.

Time scaling: every scenario-2 latency (a, b, Lean, restart) is multiplied by --time-scale (default
0.2), so the run takes a few minutes instead of a quarter of an hour. Busy fractions, batch sizes and
throughput ratios do not depend on the scale; problems/s are shown as measured and at scale 1.

Scenario 2 measures each run in its steady state: from the moment every actor has finished one
attempt to the start of the last attempt (after it the queue is empty and actors fall idle).
Problems/s in scenario 1 are measured from the first attempt's start to the last one's finish.

    python benchmarks/bench_sweep.py [--quick] [--scenario 1|2|both] [--time-scale 0.2] [-k 32] ...

The last lines are `parallel efficiency at 16 actors: X` and `generator busy at 32 actors: Y, mean batch Z`.
"""

from __future__ import annotations

import argparse
import logging
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    from benchmarks.results import AttemptRecord, read_results
from benchmarks.sizing import Costs, GeneratorCurve, predict
from benchmarks.sweep import Components, SweepRun, load_sweep_config, run_sweep
from benchmarks.sweep.simulated import (
    SimulatedLatencyEnv,
    SimulatedVerifier,
    TrivialGenerator,
    lognormal_sigma,
    simulated_problems,
)
from prover.paths import REPO_ROOT

DEPTH = 3  # tactics in each simulated proof
WRONG = 3  # scenario 1: failing tactics tried before the right one at each step
EFFICIENCY_TARGET = 0.8
BUSY_TARGET = 0.75
AUTO_TOLERANCE = 0.10
FIXED_ACTORS = (4, 16, 32, 64)


@dataclass(frozen=True)
class Scenario2:
    """Scenario 2's workload, at scale 1 (seconds); `scale` multiplies every latency."""

    fixed_s: float = 1.0
    per_state_s: float = 0.1
    k: int = 32
    lean_median_s: float = 0.05
    lean_p95_s: float = 0.3
    restart_p: float = 0.005
    restart_s: float = 2.0
    max_batch: int = 32
    scale: float = 0.2

    @property
    def sigma(self) -> float:
        return lognormal_sigma(self.lean_median_s, self.lean_p95_s)

    def expected_costs(self) -> Costs:
        """What the sizing model is told, at the benchmark's time scale (the simulated Lean uses no CPU)."""
        mean_tactic = self.lean_median_s * math.exp(self.sigma**2 / 2) + self.restart_p * self.restart_s
        return Costs(
            actor_s=self.k * mean_tactic * self.scale,
            cpu_s=0.0,
            generator=GeneratorCurve(self.fixed_s * self.scale, self.per_state_s * self.scale),
            expansions_per_attempt=DEPTH,
        )


@dataclass(frozen=True)
class Window:
    """A run's steady state: problems/s, generator busy fraction and mean batch inside [start, end]."""

    rate: float
    busy: float
    batch: float
    seconds: float
    problems: int


def steady_window(records: Sequence[AttemptRecord], calls: Sequence[tuple[float, float, int]]) -> Window:
    """From the time every actor has finished one attempt to the last attempt's start (see the docstring)."""
    first_finish: dict[str, float] = {}
    first_start: dict[str, float] = {}
    for r in records:
        first_finish[r.worker] = min(r.finished_at, first_finish.get(r.worker, math.inf))
        first_start[r.worker] = min(r.started_at, first_start.get(r.worker, math.inf))
    start, end = max(first_finish.values()), max(r.started_at for r in records)
    if end - start <= 0:  # actors came up so slowly that the queue ran dry first: from when all were working
        start = max(first_start.values())
    if end - start <= 0:
        raise SystemExit("the run was too short to reach a steady state: give it more problems (drop --quick)")
    done = sum(1 for r in records if start < r.finished_at <= end)
    inside = sum(max(0.0, min(t + s, end) - max(t, start)) for t, s, _ in calls)
    batches = [n for t, _, n in calls if start <= t < end]
    return Window(done / (end - start), inside / (end - start), sum(batches) / max(len(batches), 1), end - start, done)


def sweep(
    actors: int | str,
    problems: int,
    workdir: Path,
    cpus: float,
    sweep_overrides: dict[str, Any],
    search: dict[str, Any],
    components: Components,
    tag: str,
) -> tuple[SweepRun, list[AttemptRecord]]:
    section = {
        "output": str(workdir / f"results-{tag}.jsonl"),
        "prover_actors": actors,
        "generator_replicas": 1,
        **sweep_overrides,
    }
    if actors != "auto":
        section["cpus_per_prover"] = cpus / int(actors)
    cfg = load_sweep_config(overrides={"sweep": section, "generator": {"kind": "fixed"}, "search": search})
    run = run_sweep(
        cfg, problems=simulated_problems(problems, prefix=f"sim{tag}"), components=components, progress=False
    )
    records = read_results(run.output).records
    if run.summary.proved != problems:
        raise SystemExit(f"only {run.summary.proved}/{problems} simulated problems proved: the sweep is broken")
    return run, records


def scenario_1(workdir: Path, cpus: float, per_actor: int) -> float:
    """Instant generator, 1/4/16 actors: returns the parallel efficiency at 16."""
    components = Components(
        env_factory=lambda: SimulatedLatencyEnv(depth=DEPTH, median_s=0.05, sigma=0.5),
        verifier_factory=lambda: SimulatedVerifier(depth=DEPTH),
        tactic_factory=lambda: TrivialGenerator(wrong=WRONG),
    )
    search = {"num_tactics": WRONG + 1, "max_expansions": 10, "time_s": 60}
    print(
        "scenario 1: instant generator; simulated Lean lognormal, median 50 ms; "
        f"{DEPTH}-step proofs, {WRONG + 1} tactics/expansion"
    )
    print(f"{'actors':>6} {'problems':>8} {'problems/s':>11} {'speed-up':>9} {'mean batch':>11}")
    rates: dict[int, float] = {}
    for actors in (1, 4, 16):
        total = actors * per_actor
        run, records = sweep(
            actors, total, workdir, cpus, {"max_batch": 64, "max_wait_ms": 2.0}, search, components, f"s1-{actors}"
        )
        span = max(r.finished_at for r in records) - min(r.started_at for r in records)
        rates[actors] = len(records) / span
        print(
            f"{actors:>6} {total:>8} {rates[actors]:>11.2f} {rates[actors] / rates[1]:>8.2f}x "
            f"{run.mean_batch_size:>11.2f}",
            flush=True,
        )
    return rates[16] / rates[1] / 16


@dataclass(frozen=True)
class Scenario2Result:
    windows: dict[int | str, Window]  # by actor count, and "auto"
    auto_actors: int | None


def scenario_2(workdir: Path, cpus: float, per_actor: int, w: Scenario2, with_auto: bool) -> Scenario2Result:
    scale, sigma = w.scale, w.sigma
    components = Components(
        env_factory=lambda: SimulatedLatencyEnv(
            depth=DEPTH,
            median_s=w.lean_median_s * scale,
            sigma=sigma,
            restart_p=w.restart_p,
            restart_s=w.restart_s * scale,
        ),
        verifier_factory=lambda: SimulatedVerifier(depth=DEPTH),
        tactic_factory=lambda: TrivialGenerator(
            wrong=w.k - 1, call_s=w.fixed_s * scale, per_state_s=w.per_state_s * scale
        ),
    )
    search = {"num_tactics": w.k, "max_expansions": 10, "time_s": 600}
    overrides = {"max_batch": w.max_batch}
    costs = w.expected_costs()
    print(
        f"\nscenario 2: generator call {w.fixed_s:g} s + {w.per_state_s:g} s/state, k = {w.k} tactics/expansion, "
        f"max batch {w.max_batch}; Lean lognormal median {w.lean_median_s * 1000:g} ms, p95 {w.lean_p95_s * 1000:g} ms, "
        f"restart {w.restart_s:g} s after {w.restart_p:.1%} of tactics; {DEPTH}-step proofs; time scale {scale:g}"
    )
    print(
        f"{'actors':>6} {'problems':>8} {'problems/s':>11} {'(scale 1)':>10} {'gen busy':>9} {'mean batch':>11}"
        f" {'window s':>9} {'run s':>6} | {'model: busy':>11} {'batch':>6} {'problems/s':>11}"
    )
    out: dict[int | str, Window] = {}
    auto_actors: int | None = None
    runs: list[int | str] = [*FIXED_ACTORS, *(["auto"] if with_auto else [])]
    for actors in runs:
        # auto starts 8 actors, measures, then starts the rest one Ray worker process at a time (seconds each
        # on 2 busy cores): give it enough problems to still be in steady state once they are all up.
        total = (max(FIXED_ACTORS) + 16) * (per_actor + 3) if actors == "auto" else int(actors) * per_actor
        run, records = sweep(actors, total, workdir, cpus, overrides, search, components, f"s2-{actors}")
        win = steady_window(records, run.generator_calls)
        out[actors] = win
        label, m = str(actors), actors
        if actors == "auto":
            if run.auto is None:
                raise SystemExit("--actors auto made no choice")
            m = auto_actors = run.auto.sizing.total_actors
            label = f"auto={m}"  # the driver logged its choice and why (stderr)
        p = predict(costs, int(m), w.max_batch, cpus)
        print(
            f"{label:>6} {total:>8} {win.rate:>11.2f} {win.rate * scale:>10.3f} {win.busy:>9.2f} {win.batch:>11.2f}"
            f" {win.seconds:>9.1f} {run.wall_s:>6.0f} | {p.generator_busy:>11.2f} {p.batch:>6.1f}"
            f" {p.expansions_per_s / DEPTH:>11.2f}",
            flush=True,
        )
    return Scenario2Result(out, auto_actors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer problems per actor (noisier)")
    parser.add_argument("--scenario", choices=("1", "2", "both"), default="both")
    parser.add_argument("--no-auto", action="store_true", help="scenario 2 without the --actors auto run")
    parser.add_argument("--cpus", type=float, default=2.0, help="CPUs of the local Ray instance")
    d = Scenario2()
    parser.add_argument("--time-scale", type=float, default=d.scale, help="multiplies every scenario-2 latency")
    parser.add_argument("--gen-fixed-s", type=float, default=d.fixed_s, help="a: seconds per generator call")
    parser.add_argument("--gen-per-state-s", type=float, default=d.per_state_s, help="b: seconds per state in a call")
    parser.add_argument("-k", "--num-tactics", type=int, default=d.k, help="tactics per expansion")
    parser.add_argument("--lean-median-ms", type=float, default=d.lean_median_s * 1000)
    parser.add_argument("--lean-p95-ms", type=float, default=d.lean_p95_s * 1000)
    parser.add_argument("--restart-p", type=float, default=d.restart_p, help="share of tactics followed by a restart")
    parser.add_argument("--restart-s", type=float, default=d.restart_s, help="seconds a restart costs")
    parser.add_argument("--max-batch", type=int, default=d.max_batch)
    args = parser.parse_args()
    w = Scenario2(
        args.gen_fixed_s,
        args.gen_per_state_s,
        args.num_tactics,
        args.lean_median_ms / 1000,
        args.lean_p95_ms / 1000,
        args.restart_p,
        args.restart_s,
        args.max_batch,
        args.time_scale,
    )

    import ray

    ray.init(
        num_cpus=int(args.cpus),
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        runtime_env={"env_vars": {"PYTHONPATH": str(REPO_ROOT)}},
    )
    efficiency: float | None = None
    s2: Scenario2Result | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
            if args.scenario in ("1", "both"):
                efficiency = scenario_1(Path(tmp), args.cpus, 6 if args.quick else 12)
            if args.scenario in ("2", "both"):
                s2 = scenario_2(Path(tmp), args.cpus, 3 if args.quick else 4, w, not args.no_auto)
    finally:
        ray.shutdown()

    print()
    if efficiency is not None:
        print(
            f"check parallel efficiency at 16 actors >= {EFFICIENCY_TARGET}: "
            f"{'OK' if efficiency >= EFFICIENCY_TARGET else 'UNDER'}"
        )
    if s2 is not None:
        win = s2.windows
        print(f"check generator busy at 32 actors >= {BUSY_TARGET}: {'OK' if win[32].busy >= BUSY_TARGET else 'UNDER'}")
        if "auto" in win:
            best = max(FIXED_ACTORS, key=lambda m: win[m].rate)
            ratio = win["auto"].rate / win[best].rate
            print(
                f"check auto ({s2.auto_actors} actors) within {AUTO_TOLERANCE:.0%} of the best fixed count "
                f"({best} actors): {ratio:.2f} of its problems/s: {'OK' if ratio >= 1 - AUTO_TOLERANCE else 'UNDER'}"
            )
    if efficiency is not None:
        print(f"parallel efficiency at 16 actors: {efficiency:.2f}")
    if s2 is not None:
        print(f"generator busy at 32 actors: {s2.windows[32].busy:.2f}, mean batch {s2.windows[32].batch:.1f}")


if __name__ == "__main__":
    main()
