"""A SIMULATED Lean for the sweep benchmark: it sleeps a lognormal latency per tactic and follows a
fixed script. It measures orchestration (actors, batching, scheduling), never proving; its verdicts
say checker="simulated" so they cannot be mistaken for Lean's.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence

from benchmarks.minif2f import Problem, StatementSource
from lean_env.checks.verdict import Rejected, Verdict, Verified
from lean_env.errors import TheoremStartError
from lean_env.types import (
    ClosingContext,
    HoleTarget,
    LeanError,
    ProofFinished,
    ProofState,
    StateResult,
    TacticResult,
    Theorem,
)
from search.types import Candidate, GenRequest

SIMULATED_CHECKER = "simulated"
STEP = "step"


def lognormal_sigma(median_s: float, p95_s: float) -> float:
    """The log-sd of a lognormal latency with this median and 95th percentile (p95 = median * e^(1.645 sigma))."""
    if not 0 < median_s <= p95_s:
        raise ValueError(f"need 0 < median <= p95, got median {median_s} and p95 {p95_s}")
    return math.log(p95_s / median_s) / 1.6448536269514722


class SimulatedLatencyEnv(ClosingContext):
    """Each theorem needs `depth` applications of the tactic `step`; anything else is an error.

    Every tactic sleeps a lognormal time (median `median_s`, log-sd `sigma`), as a Lean call waits;
    with probability `restart_p` it then also sleeps `restart_s`, as a timed-out Lean process is
    restarted (the REPL backend restarts and replays the path before the next tactic).
    """

    def __init__(
        self,
        depth: int = 3,
        median_s: float = 0.05,
        sigma: float = 0.5,
        seed: int | None = None,
        restart_p: float = 0.0,
        restart_s: float = 0.0,
    ) -> None:
        self.depth = depth
        self.mu = math.log(median_s)
        self.sigma = sigma
        self.rng = random.Random(seed)
        self.restart_p = restart_p
        self.restart_s = restart_s

    def start(self, theorem: Theorem) -> ProofState:
        return ProofState.from_pp(f"⊢ {theorem.name} remaining {self.depth}")

    def start_hole(self, target: HoleTarget) -> ProofState:
        raise TheoremStartError(f"{type(self).__name__} starts only at a theorem's statement, not at a hole")

    def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> TacticResult:
        delay = self.rng.lognormvariate(self.mu, self.sigma)
        if self.restart_p and self.rng.random() < self.restart_p:
            delay += self.restart_s
        time.sleep(delay)
        if tactic != STEP:
            return LeanError(f"simulated error: {tactic}")
        head, _, remaining = state.pp.rpartition(" ")
        left = int(remaining) - 1
        return ProofFinished() if left == 0 else StateResult(ProofState.from_pp(f"{head} {left}"))

    def close(self) -> None:
        pass


class SimulatedVerifier:
    def __init__(self, depth: int = 3) -> None:
        self.depth = depth

    def verify(self, theorem: Theorem, proof: str) -> Verdict:
        steps = [ln.strip() for ln in proof.splitlines() if ln.strip()]
        if steps == [STEP] * self.depth:
            return Verified(checker=SIMULATED_CHECKER)
        return Rejected("not the simulated proof", checker=SIMULATED_CHECKER)


class TrivialGenerator:
    """`wrong` bad tactics, then `step` (so each expansion costs wrong + 1 simulated Lean calls).

    A call on n states sleeps `call_s + per_state_s * n` (0 by default: an instant generator), the
    latency curve of a model serving a batch.
    """

    def __init__(self, wrong: int = 3, call_s: float = 0.0, per_state_s: float = 0.0) -> None:
        self.wrong = wrong
        self.call_s = call_s
        self.per_state_s = per_state_s

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        delay = self.call_s + self.per_state_s * len(requests)
        if delay > 0:
            time.sleep(delay)
        cands = [Candidate(f"bad{i}", -0.1 * (i + 1)) for i in range(self.wrong)] + [Candidate(STEP, -1.0)]
        return [cands[:k] for _ in requests]


def simulated_problems(count: int, prefix: str = "sim") -> list[Problem]:
    return [
        Problem(
            name=f"{prefix}_{i:04d}",
            split="simulated",
            theorem=Theorem(name=f"{prefix}_{i:04d}", statement=f"theorem {prefix}_{i:04d} : True"),
            category="simulated",
            statement_field="simulated",
            source=StatementSource(text="simulated"),
        )
        for i in range(count)
    ]
