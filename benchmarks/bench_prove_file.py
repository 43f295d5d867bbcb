"""`prover prove` on a file of 32 holes: sequential (`--jobs 1`) against 8 concurrent searches (`--jobs 8`).

The backend simulates Lean's latency: each tactic costs a lognormal time (median 50 ms, sigma 0.5),
drawn from a generator seeded by (state, tactic), so both runs face exactly the same costs; entering
a hole costs one such draw too. The tactic generator costs a fixed 20 ms per call whatever the batch
size (a GPU model call's cost is dominated by the call, not the batch), and proposes the same ranked
candidates everywhere. Outcomes are a deterministic function of (state, tactic): an error, a new
state, or a finished proof. Each hole has an expansion budget, so both runs do the same work, and the
script checks that they give identical results.

It runs the library path of `prover prove` (`prover.prove.prove_file`: the engine's job pool, the batched
generator) on hole targets of a generated skeleton file.

    python benchmarks/bench_prove_file.py [--holes 32] [--jobs 8] [--expansions 6]

The last line reads `prove file speedup at 8 jobs: X` (target: at least 5).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import time
from collections.abc import Sequence

from lean_env.checks.verdict import Rejected, Verdict
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
from prover.engine import Engine, EngineConfig, ProofTarget, SearchStrategy, Status
from prover.prove import FileReport, prove_file
from search import Budget, Candidate, GenRequest, SearchConfig

TARGET_SPEEDUP = 5.0
TACTIC_MEDIAN_S = 0.050
TACTIC_SIGMA = 0.5
GENERATOR_CALL_S = 0.020


def _unit(*parts: str) -> float:
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class SimulatedLatencyEnv(ClosingContext):
    """A thread-safe stand-in for a pool of Lean processes: lognormal latency, deterministic outcomes."""

    def __init__(self, median_s: float = TACTIC_MEDIAN_S, sigma: float = TACTIC_SIGMA) -> None:
        self.median_s, self.sigma = median_s, sigma

    def _sleep(self, *key: str) -> None:
        rng = random.Random(_unit(*key))
        time.sleep(self.median_s * math.exp(self.sigma * rng.gauss(0.0, 1.0)))

    def start(self, theorem: Theorem) -> ProofState:
        self._sleep("start", theorem.name)
        return ProofState.from_pp(f"⊢ {theorem.name}")

    def start_hole(self, target: HoleTarget) -> ProofState:
        self._sleep("hole", target.label)
        return ProofState.from_pp(f"⊢ {target.label}")

    def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> TacticResult:
        self._sleep(state.pp, tactic)
        u = _unit("outcome", state.pp, tactic)
        depth = state.pp.count("/")
        if u < 0.45:
            return LeanError("simulated failure")
        if u > 0.93 and depth >= 2:
            return ProofFinished()
        return StateResult(ProofState.from_pp(f"{state.pp}/{tactic}"))

    def close(self) -> None:
        pass


class FixedCostGenerator:
    """The same ranked candidates for every state; each call costs a fixed time, whatever the batch."""

    def __init__(self, call_s: float = GENERATOR_CALL_S) -> None:
        self.call_s = call_s
        self.calls = 0
        self.requests = 0

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        self.calls += 1
        self.requests += len(requests)
        time.sleep(self.call_s)
        return [[Candidate(f"tac{i}", -0.3 * i) for i in range(k)] for _ in requests]


class NoVerifier:
    """Holes are checked with their declaration after the searches; no theorem target reaches this."""

    def verify(self, theorem: Theorem, proof: str) -> Verdict:
        return Rejected("the benchmark verifies nothing")


def skeleton_file(holes: int) -> tuple[str, list[ProofTarget]]:
    """A Lean file of two-hole skeletons (`constructor` / `· sorry` / `· sorry`) and its hole targets."""
    parts: list[str] = ["import Mathlib", ""]
    targets: list[ProofTarget] = []
    skeleton = "by\n  constructor\n  · sorry\n  · sorry"
    offsets = tuple(i for i in range(len(skeleton)) if skeleton.startswith("sorry", i))
    for n in range(math.ceil(holes / 2)):
        theorem = Theorem(f"bench_{n}", f"theorem bench_{n} (p q : Prop) (hp : p) (hq : q) : p ∧ q")
        parts += [f"{theorem.statement} := {skeleton}", ""]
        for index in range(len(offsets)):
            if len(targets) < holes:
                hole = HoleTarget(theorem, skeleton, offsets, index)
                targets.append(ProofTarget(hole.label, theorem, hole))
    return "\n".join(parts), targets


def run_once(targets: list[ProofTarget], jobs: int, expansions: int, scale: float = 1.0) -> tuple[float, FileReport]:
    env = SimulatedLatencyEnv(TACTIC_MEDIAN_S * scale)
    generator = FixedCostGenerator(GENERATOR_CALL_S * scale)
    config = SearchConfig(num_tactics=4, budget=Budget(time_s=None, max_expansions=expansions))
    report = FileReport(file="bench.lean", backend="simulated", generator="fixed-cost", model=None)
    start = time.perf_counter()
    engine = Engine(SearchStrategy(generator, config), env, NoVerifier(), EngineConfig(jobs=jobs))
    prove_file(targets, engine, report)
    return time.perf_counter() - start, report


def outcome(report: FileReport) -> list[tuple[str, str, str | None, int]]:
    return [(t.name, t.status, t.proof, int(t.stats.get("expansions", 0))) for t in report.theorems]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holes", type=int, default=32)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--expansions", type=int, default=6, help="expansion budget per hole")
    args = parser.parse_args(argv)

    _, targets = skeleton_file(args.holes)
    print(
        f"{len(targets)} holes; tactic latency lognormal(median {TACTIC_MEDIAN_S * 1000:.0f} ms, sigma {TACTIC_SIGMA})"
    )
    print(f"generator {GENERATOR_CALL_S * 1000:.0f} ms per call; {args.expansions} expansions x 4 tactics per hole")
    seq_s, seq = run_once(targets, 1, args.expansions)
    print(f"--jobs 1: {seq_s:6.2f} s, {sum(t.status is Status.FOUND for t in seq.theorems)} holes filled")
    par_s, par = run_once(targets, args.jobs, args.expansions)
    print(f"--jobs {args.jobs}: {par_s:6.2f} s, {sum(t.status is Status.FOUND for t in par.theorems)} holes filled")
    same = outcome(seq) == outcome(par)
    print(f"identical results: {'yes' if same else 'NO'}")
    speedup = seq_s / par_s
    print(f"prove file speedup at {args.jobs} jobs: {speedup:.2f}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
