"""Sweep throughput with 1, 4 and 16 prover actors sharing ONE generator actor, on local Ray.

Lean is SIMULATED (benchmarks.sweep.simulated): every tactic sleeps a lognormal time with median
50 ms, so the work is latency-bound and should scale with actors even on 2 cores. Problems/s is
measured from the first attempt's start to the last one's finish (actor start-up excluded).

    python benchmarks/bench_sweep.py [--quick]

The last line is `parallel efficiency at 16 actors: X` with X = (rate_16 / rate_1) / 16.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.results import read_results  # noqa: E402
from benchmarks.sweep import Components, load_sweep_config, run_sweep  # noqa: E402
from benchmarks.sweep.simulated import (  # noqa: E402
    SimulatedLatencyEnv,
    SimulatedVerifier,
    TrivialGenerator,
    simulated_problems,
)
from prover.paths import REPO_ROOT  # noqa: E402

DEPTH = 3  # tactics in each simulated proof
WRONG = 3  # failing tactics tried before the right one at each step


def measure(actors: int, problems_per_actor: int, workdir: Path, cpus: float) -> tuple[float, float, int]:
    """(problems/s, mean generator batch size, problems proved)."""
    problems = simulated_problems(actors * problems_per_actor, prefix=f"sim{actors}")
    cfg = load_sweep_config(
        overrides={
            "sweep": {
                "output": str(workdir / f"results-{actors}.jsonl"),
                "prover_actors": actors,
                "cpus_per_prover": cpus / actors,
                "generator_replicas": 1,
                "max_batch": 64,
                "max_wait_ms": 2.0,
            },
            "generator": {"kind": "fixed"},
            "search": {"num_tactics": WRONG + 1, "max_expansions": 10, "time_s": 60},
        }
    )
    components = Components(
        env_factory=lambda: SimulatedLatencyEnv(depth=DEPTH, median_s=0.05, sigma=0.5),
        verifier_factory=lambda: SimulatedVerifier(depth=DEPTH),
        tactic_factory=lambda: TrivialGenerator(wrong=WRONG),
    )
    run = run_sweep(cfg, problems=problems, components=components, progress=False)
    records = read_results(run.output).records
    span = max(r.finished_at for r in records) - min(r.started_at for r in records)
    return len(records) / span, run.mean_batch_size, run.summary.proved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer problems per actor (noisier)")
    args = parser.parse_args()
    per_actor = 6 if args.quick else 12

    import ray

    cpus = 2.0
    ray.init(
        num_cpus=int(cpus),
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        runtime_env={"env_vars": {"PYTHONPATH": str(REPO_ROOT)}},
    )
    rates: dict[int, float] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
            print(
                f"simulated Lean: lognormal latency, median 50 ms; {DEPTH}-step proofs, {WRONG + 1} tactics/expansion"
            )
            print(f"{'actors':>6} {'problems':>8} {'problems/s':>11} {'speed-up':>9} {'mean batch':>11}")
            for actors in (1, 4, 16):
                rate, batch, proved = measure(actors, per_actor, Path(tmp), cpus)
                rates[actors] = rate
                total = actors * per_actor
                if proved != total:
                    raise SystemExit(f"only {proved}/{total} simulated problems proved: the sweep is broken")
                print(f"{actors:>6} {total:>8} {rate:>11.2f} {rate / rates[1]:>8.2f}x {batch:>11.2f}")
    finally:
        ray.shutdown()
    print(f"parallel efficiency at 16 actors: {rates[16] / rates[1] / 16:.2f}")


if __name__ == "__main__":
    main()
