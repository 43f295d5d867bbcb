"""Sizing a sweep to its cluster: prover actors per generator replica, and what a sweep will cost.

Pure functions of measured (or assumed) costs; no Ray, no model, no Lean. `prover sweep --actors auto`
feeds them the costs of its first attempts, `prover sweep --plan` those of an earlier results file or
the documented defaults below, and `benchmarks/bench_sweep.py` checks the choice against measured
throughput.

The model, per generator replica, is a closed loop of M prover actors. Each actor alternates between
* its own work for one expansion: `actor_s` wall seconds (the k Lean calls, restarts, and the attempt's
  start and verification spread over its expansions) using `cpu_s` CPU seconds, and
* one generator request. The replica answers whatever requests are waiting, up to `max_batch`, in one
  call of T(n) = fixed_s + per_state_s * n seconds for n states (dynamic batching of an HF model;
  vLLM's continuous batching has the same shape of cost per load).

Mean-value approximation: with L = actor_s, an actor's cycle is L plus its wait for the generator.
While the replica is busy with batches of n, a request arrives during a call, waits for the rest of
it (T(n)/2 on average) and then for its own call: W = (1 + KAPPA) T(n), KAPPA = 1/2. Little's law
then gives the actors that sustain batches of n: M = X (L + W) with X = n / T(n), i.e.
M = n (1 + KAPPA + L / T(n)) =: f(n), which grows with n. Hence, with N = max_batch:
* M <= 1 + L / T(1): too few actors, each mostly alone; the replica idles: X = M / (L + T(1));
* up to f(1): the replica is busy with single requests: X = 1 / T(1);
* f(1) <= M <= f(N): busy with batches of n = f^-1(M): X = n / T(n);
* M > f(N): full batches, X = N / T(N); more actors only wait.
The CPUs cap X at C / cpu_s; past that cap Lean calls share cores and take longer (L is stretched
until the loop's throughput equals the cap). bench_sweep.py prints this model next to measured
batches and busy fractions (scenario 2), where it is close but a little pessimistic for the batch.

The choice is the smallest M within 1% of the best throughput the caps allow: CPUs Ray reserves per
actor, memory per actor, and the search's own time budget: an expansion cycle (own work + waiting
for the generator) longer than time_s / max_expansions would make attempts stop on time rather than
on expansions, so the sweep would measure a slower prover, not a faster sweep.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# The wait for the rest of the call in progress, in calls (a random arrival during a call of fixed length).
KAPPA = 0.5
# The choice stops where more actors add less than this share of throughput (the model's knee).
KNEE = 0.99
MAX_ACTORS_PER_REPLICA = 512

# Documented defaults for `prover sweep --plan` without --from (flags override each):
DEFAULT_TACTIC_S = 0.09  # mean Lean time per tactic: lognormal, median 50 ms, p95 ~300 ms (bench_sweep)
DEFAULT_GEN_FIXED_S = 1.0  # seconds per generator call, whatever its size
DEFAULT_GEN_PER_STATE_S = 0.1  # extra seconds per state in the call (k = 32 beams of 256 tokens)
DEFAULT_LEAN_CPU = 1.0  # CPU cores a running Lean call keeps busy
DEFAULT_ACTOR_MEMORY_GB = 8.0  # a prover actor's REPL with `import Mathlib` (several GB) + its verifier's


@dataclass(frozen=True)
class GeneratorCurve:
    """One generator replica's cost: a call on n states takes fixed_s + per_state_s * n seconds."""

    fixed_s: float
    per_state_s: float

    def call_s(self, n: float) -> float:
        return self.fixed_s + self.per_state_s * n

    def rate(self, n: float) -> float:
        """Expansions per second while busy with batches of n (inf for a generator that costs nothing)."""
        t = self.call_s(n)
        return n / t if t > 0 else math.inf


@dataclass(frozen=True)
class Costs:
    """Costs of one expansion, and the size of an attempt.

    actor_s: wall seconds an actor spends per expansion outside the generator (Lean calls, restarts,
    start and verification amortised); cpu_s: CPU seconds it uses meanwhile (its Lean processes and
    itself); expansions_per_attempt: mean expansions of an attempt (for wall-time plans).
    """

    actor_s: float
    cpu_s: float
    generator: GeneratorCurve
    expansions_per_attempt: float = 1.0


@dataclass(frozen=True)
class Cluster:
    """Resources for the sweep. `replicas` generator replicas share the CPUs and memory evenly.

    ray_cpus_per_actor: CPUs Ray reserves per prover actor when the user fixed it (0: not a limit);
    memory_gb / actor_memory_gb: total memory and one actor's need (None: not a limit).
    """

    cpus: float
    replicas: int = 1
    memory_gb: float | None = None
    actor_memory_gb: float | None = None
    ray_cpus_per_actor: float = 0.0


@dataclass(frozen=True)
class Limits:
    """max_batch: states per generator call; cycle_s: longest expansion cycle the search's time budget
    allows (time_s / max_expansions; None: no limit); max_actors: per replica."""

    max_batch: int
    cycle_s: float | None = None
    max_actors: int = MAX_ACTORS_PER_REPLICA


@dataclass(frozen=True)
class Prediction:
    """What M actors on one replica achieve, in the fluid model.

    batch: mean states per generator call; generator_busy: fraction of time inside model calls;
    expansions_per_s: per replica; cpus_used: CPU cores busy (per replica); cycle_s: seconds per
    expansion of one actor (own work + waiting + its call); bound: what limits the throughput.
    """

    actors: int
    batch: float
    generator_busy: float
    expansions_per_s: float
    cpus_used: float
    cycle_s: float
    bound: str  # "too few actors" | "generator busy" | "full batches" | "CPUs"


@dataclass(frozen=True)
class Sizing:
    """The rule's choice: `actors` per replica, what they are expected to do, and why."""

    actors: int
    replicas: int
    prediction: Prediction
    limited_by: str
    costs: Costs
    notes: tuple[str, ...] = field(default=())

    @property
    def total_actors(self) -> int:
        return self.actors * self.replicas

    def describe(self) -> str:
        """One log line: the choice, the measured costs it came from, and what limits it."""
        g, p = self.costs.generator, self.prediction
        text = (
            f"actors auto: {self.actors} per generator replica ({self.total_actors} in all) - costs per expansion: "
            f"{self.costs.actor_s:.3g} s in Lean/actor, {self.costs.cpu_s:.3g} CPU s, generator "
            f"{g.fixed_s:.3g} s + {g.per_state_s:.3g} s/state; expected batch {p.batch:.1f}, generator busy "
            f"{p.generator_busy:.2f}, {p.expansions_per_s * self.replicas:.3g} expansions/s; limited by {self.limited_by}"
        )
        return text + "".join(f"; {note}" for note in self.notes)


def _f(n: float, actor_s: float, gen: GeneratorCurve) -> float:
    """Actors needed to keep the replica busy with batches of n."""
    t = gen.call_s(n)
    return math.inf if t <= 0 else n * (1.0 + KAPPA + actor_s / t)


def _unbounded(actors: int, actor_s: float, gen: GeneratorCurve, max_batch: int) -> tuple[float, float, float, str]:
    """(expansions/s, batch, busy, bound) ignoring CPUs."""
    m, t1 = float(actors), gen.call_s(1)
    if t1 <= 0:  # a free generator: each actor runs at its own pace
        return (m / actor_s if actor_s > 0 else math.inf), 1.0, 0.0, "too few actors"
    if m <= 1.0 + actor_s / t1:
        x = m / (actor_s + t1)
        return x, 1.0, x * t1, "too few actors"
    if m <= _f(1.0, actor_s, gen):
        return 1.0 / t1, 1.0, 1.0, "generator busy"
    if m >= _f(max_batch, actor_s, gen):
        n = float(max_batch)
        return gen.rate(n), n, 1.0, "full batches"
    lo, hi = 1.0, float(max_batch)
    for _ in range(60):  # f grows with n: bisection
        mid = (lo + hi) / 2
        if _f(mid, actor_s, gen) < m:
            lo = mid
        else:
            hi = mid
    n = (lo + hi) / 2
    return gen.rate(n), n, 1.0, "generator busy"


def predict(costs: Costs, actors: int, max_batch: int, cpus: float) -> Prediction:
    """Throughput of `actors` prover actors sharing one replica and `cpus` CPU cores (fluid model)."""
    if actors < 1:
        raise ValueError(f"actors must be at least 1, got {actors}")
    if max_batch < 1:
        raise ValueError(f"max_batch must be at least 1, got {max_batch}")
    gen, actor_s = costs.generator, costs.actor_s
    x, n, busy, bound = _unbounded(actors, actor_s, gen, max_batch)
    cap = cpus / costs.cpu_s if costs.cpu_s > 0 else math.inf
    if x > cap:
        # Lean calls share the cores and take longer: stretch the actors' own time until the loop runs at the cap.
        lo, hi = actor_s, max(actor_s, 1e-9) * 2
        while _unbounded(actors, hi, gen, max_batch)[0] > cap:
            hi *= 2
        for _ in range(60):
            mid = (lo + hi) / 2
            if _unbounded(actors, mid, gen, max_batch)[0] > cap:
                lo = mid
            else:
                hi = mid
        x, n, busy, _ = _unbounded(actors, hi, gen, max_batch)
        x, bound = min(x, cap), "CPUs"
        busy = min(busy, x * gen.call_s(n) / n) if n > 0 else busy
    cycle = actors / x if x > 0 else math.inf
    cpus_used = min(cpus, x * costs.cpu_s) if math.isfinite(x) else cpus
    return Prediction(actors, n, busy, x, cpus_used, cycle, bound)


def actor_cap(cluster: Cluster, limits: Limits) -> tuple[int, str]:
    """The most actors per replica the resources allow, and which resource sets it."""
    per_cpus = cluster.cpus / cluster.replicas
    cap, why = limits.max_actors, f"at most {limits.max_actors} actors per replica"
    if cluster.ray_cpus_per_actor > 0:
        by_ray = int(per_cpus / cluster.ray_cpus_per_actor + 1e-9)
        if by_ray < cap:
            cap, why = by_ray, f"Ray CPUs ({cluster.ray_cpus_per_actor:g} reserved per actor)"
    if cluster.memory_gb is not None and cluster.actor_memory_gb:
        by_mem = int(cluster.memory_gb / cluster.replicas / cluster.actor_memory_gb + 1e-9)
        if by_mem < cap:
            cap, why = by_mem, f"memory ({cluster.actor_memory_gb:g} GB per actor)"
    return max(1, cap), why


def choose_actors(costs: Costs, cluster: Cluster, limits: Limits) -> Sizing:
    """The number of prover actors per generator replica: see the module docstring for the rule."""
    if cluster.replicas < 1:
        raise ValueError(f"replicas must be at least 1, got {cluster.replicas}")
    cpus = cluster.cpus / cluster.replicas
    cap, cap_reason = actor_cap(cluster, limits)
    preds = [predict(costs, m, limits.max_batch, cpus) for m in range(1, cap + 1)]
    allowed = [p for p in preds if limits.cycle_s is None or p.cycle_s <= limits.cycle_s]
    notes: list[str] = []
    if not allowed:
        # Even one actor cannot keep within the time budget: the costs, not the sizing, are the problem.
        notes.append(
            f"an expansion takes {preds[0].cycle_s:.3g} s even alone, above the budget's {limits.cycle_s:.3g} s"
        )
        return Sizing(1, cluster.replicas, preds[0], "time budget", costs, tuple(notes))
    # Throughput never falls as actors are added (nor does the cycle shrink), so the last allowed count
    # has the best throughput and says what stops it from growing further.
    top = allowed[-1]
    choice = next(p for p in allowed if p.expansions_per_s >= KNEE * top.expansions_per_s)
    if top.bound == "full batches":
        limited_by = "max_batch"
    elif top.bound == "CPUs":
        limited_by = "CPUs"
    else:
        limited_by = "time budget" if len(allowed) < len(preds) else cap_reason
    return Sizing(choice.actors, cluster.replicas, choice, limited_by, costs, tuple(notes))


# ----------------------------------------------------------------------------- measuring the costs


@dataclass(frozen=True)
class AttemptCost:
    """What one finished search attempt cost: wall seconds, seconds waiting for the generator,
    expansions, and CPU seconds (None when not recorded)."""

    wall_s: float
    model_s: float
    expansions: int
    cpu_s: float | None = None


def fit_generator(calls: Iterable[tuple[int, float]]) -> GeneratorCurve:
    """Least-squares fit of call seconds = fixed_s + per_state_s * n over (n, seconds) samples, both >= 0.

    With a single batch size observed the slope is unknown: the call time is then taken as fixed
    (batching free), and the choice is still capped by max_batch and the other limits.
    Raises ValueError without samples.
    """
    pts = [(float(n), float(s)) for n, s in calls if n > 0]
    if not pts:
        raise ValueError("no generator calls to fit")
    k = len(pts)
    mean_n = sum(n for n, _ in pts) / k
    mean_s = sum(s for _, s in pts) / k
    var_n = sum((n - mean_n) ** 2 for n, _ in pts)
    if var_n == 0:
        return GeneratorCurve(max(0.0, mean_s), 0.0)
    slope = sum((n - mean_n) * (s - mean_s) for n, s in pts) / var_n
    fixed = mean_s - slope * mean_n
    if slope < 0:
        return GeneratorCurve(max(0.0, mean_s), 0.0)
    if fixed < 0:  # through the origin
        return GeneratorCurve(0.0, sum(n * s for n, s in pts) / sum(n * n for n, _ in pts))
    return GeneratorCurve(fixed, slope)


def measure_costs(
    attempts: Sequence[AttemptCost], generator: GeneratorCurve, lean_cpu: float = DEFAULT_LEAN_CPU
) -> Costs:
    """Costs per expansion from finished attempts (those with no expansion are skipped).

    Attempts without a CPU figure count `lean_cpu` cores for their time outside the generator.
    Raises ValueError when no attempt expanded anything.
    """
    used = [a for a in attempts if a.expansions > 0]
    expansions = sum(a.expansions for a in used)
    if expansions == 0:
        raise ValueError("no finished attempt with an expansion to measure costs from")
    own = sum(max(0.0, a.wall_s - a.model_s) for a in used)
    cpu = sum(a.cpu_s if a.cpu_s is not None else lean_cpu * max(0.0, a.wall_s - a.model_s) for a in used)
    return Costs(own / expansions, cpu / expansions, generator, expansions / len(used))


def default_costs(
    num_tactics: int,
    expansions_per_attempt: float,
    tactic_s: float = DEFAULT_TACTIC_S,
    gen_fixed_s: float = DEFAULT_GEN_FIXED_S,
    gen_per_state_s: float = DEFAULT_GEN_PER_STATE_S,
    lean_cpu: float = DEFAULT_LEAN_CPU,
) -> Costs:
    """Assumed costs when nothing was measured: every one of the k tactics runs, each `tactic_s`."""
    actor_s = num_tactics * tactic_s
    return Costs(actor_s, lean_cpu * actor_s, GeneratorCurve(gen_fixed_s, gen_per_state_s), expansions_per_attempt)


# ----------------------------------------------------------------------------- planning a sweep


@dataclass(frozen=True)
class PlanRow:
    """One line of `prover sweep --plan`: `actors` per replica and what the whole sweep would take."""

    actors: int
    total_actors: int
    prediction: Prediction
    wall_s: float
    gpu_hours: float
    chosen: bool
    over_time_budget: bool  # an expansion cycle longer than the search's time budget allows


def plan(
    costs: Costs,
    cluster: Cluster,
    limits: Limits,
    attempts: int,
    gpus_per_replica: float = 1.0,
    actor_counts: Sequence[int] = (1, 2, 4, 8, 16, 32, 64, 128),
) -> tuple[Sizing, list[PlanRow]]:
    """The auto choice and a row per actor count (within the caps, plus the choice): expected wall
    time of `attempts` attempts and the GPU hours it holds (replicas x gpus_per_replica x wall)."""
    sizing = choose_actors(costs, cluster, limits)
    cap, _ = actor_cap(cluster, limits)
    counts = sorted({m for m in actor_counts if m <= cap} | {sizing.actors})
    expansions = attempts * costs.expansions_per_attempt
    rows = []
    for m in counts:
        p = predict(costs, m, limits.max_batch, cluster.cpus / cluster.replicas)
        rate = p.expansions_per_s * cluster.replicas
        wall = expansions / rate if rate > 0 else math.inf
        gpu_hours = wall / 3600 * cluster.replicas * gpus_per_replica
        over = limits.cycle_s is not None and p.cycle_s > limits.cycle_s
        rows.append(PlanRow(m, m * cluster.replicas, p, wall, gpu_hours, m == sizing.actors, over))
    return sizing, rows
