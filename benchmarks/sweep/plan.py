"""`prover sweep --plan`: expected wall time and GPU hours of the configured sweep on a given cluster.

No model, no Lean, no Ray: the costs come from an earlier results file (`--from RESULTS.jsonl`: its
search attempts, and the generator calls the sweep recorded next to it in
`RESULTS.jsonl.generator.json`), or from the documented defaults of `benchmarks.sizing`; flags
override any of them. Every sweep writes that generator sidecar when it ends, so its results file can
plan the next one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.results import ResultsError, read_results
from benchmarks.sizing import (
    DEFAULT_ACTOR_MEMORY_GB,
    DEFAULT_GEN_FIXED_S,
    DEFAULT_GEN_PER_STATE_S,
    DEFAULT_LEAN_CPU,
    DEFAULT_TACTIC_S,
    AttemptCost,
    Cluster,
    Costs,
    GeneratorCurve,
    Limits,
    PlanRow,
    Sizing,
    fit_generator,
    measure_costs,
    plan,
)
from benchmarks.sweep.autosize import MEMORY_MARGIN
from benchmarks.sweep.config import SweepConfig


def generator_calls_path(results_path: str | Path) -> Path:
    """The sidecar with the generator calls of a sweep: `<results>.generator.json`."""
    p = Path(results_path)
    return p.with_name(p.name + ".generator.json")


def write_generator_calls(results_path: str | Path, calls: Sequence[tuple[float, float, int]]) -> None:
    """Add `calls` (unix start, seconds, batch size) to the sidecar, summed per batch size (a resumed sweep adds)."""
    path = generator_calls_path(results_path)
    totals = {n: (count, seconds) for n, count, seconds in read_generator_calls(results_path)}
    for _, seconds, n in calls:
        count, total = totals.get(n, (0, 0.0))
        totals[n] = (count + 1, total + seconds)
    rows = [[n, count, round(total, 6)] for n, (count, total) in sorted(totals.items())]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"batch_size_count_seconds": rows}) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_generator_calls(results_path: str | Path) -> list[tuple[int, int, float]]:
    """(batch size, calls, total seconds) rows of the sidecar; empty when there is none."""
    path = generator_calls_path(results_path)
    if not path.is_file():
        return []
    try:
        rows: Any = json.loads(path.read_text(encoding="utf-8"))["batch_size_count_seconds"]
        return [(int(n), int(c), float(s)) for n, c, s in rows]
    except (ValueError, KeyError, TypeError) as exc:
        raise ResultsError(f"invalid generator record {path}: {exc}") from None


@dataclass(frozen=True)
class PlanInputs:
    """The cluster and any cost the user states (None: measured with --from, else the documented default)."""

    gpus: float = 1.0
    cpus: float = 16.0
    memory_gb: float | None = None
    actor_memory_gb: float | None = None
    tactic_s: float | None = None
    gen_fixed_s: float | None = None
    gen_per_state_s: float | None = None
    results: Path | None = None


@dataclass(frozen=True)
class SweepPlan:
    sizing: Sizing
    rows: list[PlanRow]
    attempts: int
    problems: int
    cluster: Cluster
    gpus: float
    sources: tuple[str, ...]  # where each cost came from, one line each


def _generator(inputs: PlanInputs, sources: list[str]) -> GeneratorCurve:
    measured: GeneratorCurve | None = None
    if inputs.results is not None:
        rows = read_generator_calls(inputs.results)
        if rows:
            # Each row stands for `count` calls of mean length: weight the fit by repeating the mean.
            measured = fit_generator([(n, s / c) for n, c, s in rows for _ in range(c)])
            sources.append(
                f"generator: fitted on {sum(c for _, c, _ in rows)} calls in {generator_calls_path(inputs.results)}"
            )
        else:
            sources.append(f"generator: no call record next to {inputs.results}; documented defaults")
    fixed = (
        inputs.gen_fixed_s
        if inputs.gen_fixed_s is not None
        else (measured.fixed_s if measured else DEFAULT_GEN_FIXED_S)
    )
    per = (
        inputs.gen_per_state_s
        if inputs.gen_per_state_s is not None
        else (measured.per_state_s if measured else DEFAULT_GEN_PER_STATE_S)
    )
    if measured is None and inputs.results is None:
        sources.append(f"generator: {fixed:g} s per call + {per:g} s per state (default or flags)")
    return GeneratorCurve(fixed, per)


def sweep_plan(cfg: SweepConfig, inputs: PlanInputs, problems: int) -> SweepPlan:
    """The auto choice and a table of actor counts for `problems` x cfg.sweep.attempts attempts.

    Raises ResultsError when --from names a file that cannot be read or holds no search attempt
    with an expansion, ValueError for an impossible cluster (no CPUs, no GPUs, no problems).
    """
    if inputs.cpus <= 0:
        raise ValueError(f"--cpus must be positive, got {inputs.cpus:g}")
    if inputs.gpus <= 0:  # the plan sizes one generator replica per --num-gpus GPUs; no CPU-generator costs exist
        raise ValueError(f"--gpus must be positive (the generator runs on GPUs), got {inputs.gpus:g}")
    if problems < 1:
        raise ValueError("the configured sweep selects no problem")
    s, search = cfg.sweep, cfg.search
    sources: list[str] = []
    gen = _generator(inputs, sources)
    actor_memory = inputs.actor_memory_gb
    if inputs.results is not None:
        if not inputs.results.is_file():
            raise ResultsError(f"no such results file: {inputs.results}")
        records = [r for r in read_results(inputs.results).records if r.mode == "search"]
        attempts = [
            AttemptCost(
                r.duration_s,
                float(r.stats.get("model_time_s", 0.0)),
                r.expansions,
                float(r.stats["cpu_s"]) if isinstance(r.stats.get("cpu_s"), int | float) else None,
            )
            for r in records
        ]
        try:
            costs = measure_costs(attempts, gen, lean_cpu=DEFAULT_LEAN_CPU)
        except ValueError:
            raise ResultsError(f"{inputs.results} holds no search attempt with an expansion to plan from") from None
        if inputs.tactic_s is not None:
            costs = Costs(search.num_tactics * inputs.tactic_s, costs.cpu_s, gen, costs.expansions_per_attempt)
        rss = [float(r.stats["rss_mb"]) for r in records if isinstance(r.stats.get("rss_mb"), int | float)]
        if actor_memory is None and rss:
            actor_memory = max(rss) / 1024 * MEMORY_MARGIN
        sources.append(
            f"Lean and CPU per expansion, expansions per attempt: measured on {len(attempts)} attempts in {inputs.results}"
        )
    else:
        tactic = inputs.tactic_s if inputs.tactic_s is not None else DEFAULT_TACTIC_S
        actor_s = search.num_tactics * tactic
        expansions = float(search.max_expansions or 100)
        costs = Costs(actor_s, DEFAULT_LEAN_CPU * actor_s, gen, expansions)
        sources.append(
            f"Lean: {search.num_tactics} tactics x {tactic:g} s per expansion on one core each (default or flags); "
            f"{expansions:g} expansions per attempt (the budget: an upper bound)"
        )
    if inputs.memory_gb is not None and actor_memory is None:
        actor_memory = DEFAULT_ACTOR_MEMORY_GB
    per_replica_gpus = s.num_gpus if s.num_gpus else 1.0
    replicas = max(1, int(inputs.gpus / per_replica_gpus + 1e-9))
    cluster = Cluster(
        cpus=inputs.cpus,
        replicas=replicas,
        memory_gb=inputs.memory_gb,
        actor_memory_gb=actor_memory,
        ray_cpus_per_actor=s.cpus_per_prover if "cpus_per_prover" in s.model_fields_set else 0.0,
    )
    cycle = search.time_s / search.max_expansions if search.time_s and search.max_expansions else None
    limits = Limits(max_batch=s.max_batch, cycle_s=cycle)
    total = problems * s.attempts
    sizing, rows = plan(costs, cluster, limits, total, gpus_per_replica=per_replica_gpus)
    return SweepPlan(sizing, rows, total, problems, cluster, inputs.gpus, tuple(sources))


def format_duration(seconds: float) -> str:
    """`3h 05m`, `12m 30s` or `45s`."""
    if seconds != seconds or seconds == float("inf"):
        return "never"
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"{h}h {m:02d}m"
    return f"{m}m {sec:02d}s" if m else f"{sec}s"
