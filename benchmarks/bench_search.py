"""Pure search overhead per expansion, with a zero-latency generator and environment.

The environment is an infinite tree of fixed branching whose states are integers printed as strings;
the generator proposes the same few tactics with pseudo-random log-probabilities. Neither does any
work worth measuring, and the search books their time separately anyway: the figure reported is the
search's own bookkeeping (frontier heap, deduplication, tactic filter, networkx tree) per expansion.

    python benchmarks/bench_search.py [--branching 4] [--repeats 3]

The last line reads `search overhead: X us/expansion at 1e5 nodes`.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

# Run as a script from anywhere: the project is not pip-installed, so put its root on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lean_env.types import ProofState, StateResult, TacticResult, Theorem  # noqa: E402
from search import BestFirstSearch, Budget, Candidate, GenRequest, Scoring, SearchConfig, SearchResult  # noqa: E402

TARGET_US = 50.0
SIZES = (1_000, 10_000, 100_000)


class IntTreeEnv:
    """Zero-latency Env: state n has children n*b+1 .. n*b+b, reached by tactics t0 .. t{b-1}."""

    def __init__(self, branching: int) -> None:
        self.branching = branching

    def start(self, theorem: Theorem) -> ProofState:
        return ProofState(pp="0")

    def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> TacticResult:
        child = int(state.pp) * self.branching + 1 + int(tactic[1:])
        return StateResult(ProofState(pp=str(child)))

    def close(self) -> None:
        pass

    def __enter__(self) -> IntTreeEnv:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        pass


class RandomScoreGenerator:
    """Zero-latency generator: the same tactics everywhere, with seeded random log-probabilities."""

    def __init__(self, branching: int, seed: int = 0) -> None:
        self.tactics = [f"t{i}" for i in range(branching)]
        self.rng = random.Random(seed)

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        rand = self.rng.random
        return [[Candidate(t, -3.0 * rand(), 1 + (i & 3)) for i, t in enumerate(self.tactics[:k])] for _ in requests]


def run_once(nodes: int, branching: int, seed: int) -> tuple[SearchResult, float]:
    expansions = max(1, (nodes - 1) // branching)
    config = SearchConfig(
        num_tactics=branching,
        scoring=Scoring.LENGTH_NORMALIZED,
        budget=Budget(time_s=None, max_expansions=expansions),
    )
    search = BestFirstSearch(IntTreeEnv(branching), RandomScoreGenerator(branching, seed), config)
    t0 = time.perf_counter()
    result = search.search(Theorem(name="bench", statement="theorem bench : False"))
    return result, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--branching", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="best of N runs per size")
    args = parser.parse_args()

    run_once(1_000, args.branching, seed=99)  # warm up imports and caches
    print(f"branching {args.branching}, best of {args.repeats} runs; overhead = wall - generator - env")
    print(f"{'nodes':>8} {'expansions':>10} {'overhead us/exp':>16} {'wall us/exp':>12}")
    overhead: dict[int, float] = {}
    for size in SIZES:
        best: tuple[float, float, SearchResult] | None = None
        for rep in range(args.repeats):
            result, wall = run_once(size, args.branching, seed=rep)
            per_exp = result.stats.search_time_s / result.stats.expansions * 1e6
            if best is None or per_exp < best[0]:
                best = (per_exp, wall / result.stats.expansions * 1e6, result)
        assert best is not None
        per_exp, wall_per_exp, result = best
        overhead[size] = per_exp
        print(f"{result.stats.nodes:>8} {result.stats.expansions:>10} {per_exp:>16.2f} {wall_per_exp:>12.2f}")

    small, large = overhead[SIZES[0]], overhead[SIZES[-1]]
    growth = large / small
    log_growth = math.log(SIZES[-1]) / math.log(SIZES[0])
    print(f"growth 1e3 -> 1e5: x{growth:.2f} (O(log n) allows about x{log_growth:.2f}; O(n) would be x100)")
    verdict = "OK" if large < TARGET_US and growth <= log_growth * 1.5 else "OVER TARGET"
    print(f"target: < {TARGET_US:g} us/expansion and no worse than O(log n): {verdict}")
    print(f"search overhead: {large:.1f} us/expansion at 1e5 nodes")


if __name__ == "__main__":
    main()
