"""`prover sweep --actors auto`: start a few prover actors, measure the first attempts, then size the pool.

The driver starts `AUTO_START_ACTORS` actors per generator replica. Once the first attempts have
finished (one per starting actor, at most `AUTO_CALIBRATION_ATTEMPTS`), it reads their costs (time
outside the generator, CPU seconds and resident memory of each actor and its Lean processes, from
the attempts' stats) and every generator call so far (batch size and seconds, from the generator
actors' `call_stats`), and asks `benchmarks.sizing.choose_actors` for the number of actors per
replica. The choice is logged in one line and kept in the run's result; the pool then grows (or
shrinks as actors fall idle) to it. Nothing here imports Ray.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from benchmarks.results import AttemptRecord
from benchmarks.sizing import (
    MAX_ACTORS_PER_REPLICA,
    AttemptCost,
    Cluster,
    Limits,
    Sizing,
    choose_actors,
    fit_generator,
    measure_costs,
)
from benchmarks.sweep.config import SweepConfig

AUTO_START_ACTORS = 8  # per generator replica, while the first attempts measure the costs
AUTO_CALIBRATION_ATTEMPTS = 8
# Share of the cluster's CPUs Ray reserves for the starting actors (when --cpus-per-prover is not
# given): the rest is left for the actors added once the costs are known, spread by Ray like these.
START_CPU_SHARE = 0.125
MEMORY_MARGIN = 1.25  # on the largest resident memory an actor showed (a Lean process grows over a sweep)


@dataclass(frozen=True)
class AutoChoice:
    """What `--actors auto` chose, when, and from how many finished attempts and generator calls."""

    sizing: Sizing
    decided_at: float  # unix time
    attempts: int
    calls: int

    def describe(self) -> str:
        return f"{self.sizing.describe()} (from {self.attempts} attempts, {self.calls} generator calls)"


class AutoSizer:
    """The driver's helper for `--actors auto`: how many actors to start, when to decide, what Ray reserves."""

    def __init__(self, cfg: SweepConfig, cluster_cpus: float, cluster_memory_gb: float | None, jobs: int) -> None:
        s = cfg.sweep
        self.cfg = cfg
        self.replicas = s.generator_replicas
        self.cluster_cpus = cluster_cpus
        self.cluster_memory_gb = cluster_memory_gb
        # An explicit --cpus-per-prover is the user's word on what an actor needs: it caps the pool.
        self.explicit_cpus = s.cpus_per_prover if "cpus_per_prover" in s.model_fields_set else None
        cap = MAX_ACTORS_PER_REPLICA
        if self.explicit_cpus:
            cap = max(1, int(cluster_cpus / self.replicas / self.explicit_cpus + 1e-9))
        self.start_per_replica = max(1, min(AUTO_START_ACTORS, cap, math.ceil(jobs / self.replicas)))
        self.calibration = max(1, min(self.start_total, AUTO_CALIBRATION_ATTEMPTS, jobs))
        self.choice: AutoChoice | None = None

    @property
    def start_total(self) -> int:
        return self.start_per_replica * self.replicas

    def start_reservation(self) -> float:
        """Ray CPUs reserved by each starting actor."""
        if self.explicit_cpus is not None:
            return self.explicit_cpus
        return self.cluster_cpus * START_CPU_SHARE / self.start_total

    def added_reservation(self, new_actors: int) -> float:
        """Ray CPUs reserved by each actor added after the choice: the CPUs left, shared evenly."""
        if self.explicit_cpus is not None:
            return self.explicit_cpus
        left = self.cluster_cpus - self.start_reservation() * self.start_total
        return max(left, 0.0) / max(new_actors, 1) * 0.999  # a hair under: rounding must never leave one unplaced

    def ready(self, finished: Sequence[AttemptRecord]) -> bool:
        return self.choice is None and len(_measured(finished)) >= self.calibration

    def decide(self, finished: Sequence[AttemptRecord], calls: Iterable[tuple[float, float, int]]) -> AutoChoice:
        """The choice, from the finished attempts and the generator calls (unix start, seconds, batch size).

        Raises ValueError when there is nothing to measure (no search attempt expanded anything, or no
        generator call was made): the driver then keeps the starting actors and says so.
        """
        measured = _measured(finished)
        samples = [(n, seconds) for _, seconds, n in calls]
        costs = measure_costs(
            [
                AttemptCost(r.duration_s, float(r.stats.get("model_time_s", 0.0)), r.expansions, _float(r, "cpu_s"))
                for r in measured
            ],
            fit_generator(samples),
        )
        rss = [v for v in (_float(r, "rss_mb") for r in measured) if v is not None]
        s, search = self.cfg.sweep, self.cfg.search
        cycle = search.time_s / search.max_expansions if search.time_s and search.max_expansions else None
        cluster = Cluster(
            cpus=self.cluster_cpus,
            replicas=self.replicas,
            memory_gb=self.cluster_memory_gb,
            actor_memory_gb=max(rss) / 1024 * MEMORY_MARGIN if rss else None,
            ray_cpus_per_actor=self.explicit_cpus or 0.0,
        )
        sizing = choose_actors(costs, cluster, Limits(max_batch=s.max_batch, cycle_s=cycle))
        self.choice = AutoChoice(sizing, time.time(), len(measured), len(samples))
        return self.choice


def _measured(records: Sequence[AttemptRecord]) -> list[AttemptRecord]:
    return [r for r in records if r.mode == "search" and r.expansions > 0 and r.duration_s > 0]


def _float(record: AttemptRecord, key: str) -> float | None:
    value = record.stats.get(key)
    return float(value) if isinstance(value, int | float) else None
