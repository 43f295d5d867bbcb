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
import gc
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
    """One search that stops after enough expansions to have found about `nodes` states.

    Returns the result and the process CPU time it took (CPU, not wall: the figure should not depend
    on what else the machine is running).
    """
    expansions = max(1, (nodes - 1) // branching)
    config = SearchConfig(
        num_tactics=branching,
        scoring=Scoring.LENGTH_NORMALIZED,
        budget=Budget(time_s=None, max_expansions=expansions),
    )
    search = BestFirstSearch(IntTreeEnv(branching), RandomScoreGenerator(branching, seed), config)
    gc.collect()
    _GC_CPU[0] = 0.0
    t0 = time.process_time()
    result = search.search(Theorem(name="bench", statement="theorem bench : False"))
    return result, time.process_time() - t0


_GC_CPU = [0.0, 0.0]  # CPU seconds inside the garbage collector since run_once began; start of the current pass


def _gc_timer(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _GC_CPU[1] = time.process_time()
    else:
        _GC_CPU[0] += time.process_time() - _GC_CPU[1]


def doubles_cpu(expansions: int, lean_calls: int, branching: int) -> float:
    """CPU time of the generator and environment alone, for the same number of calls."""
    env, gen = IntTreeEnv(branching), RandomScoreGenerator(branching, seed=1)
    tactics = [f"t{i}" for i in range(branching)]
    t0 = time.process_time()
    for i in range(expansions):
        gen([GenRequest(state=str(i))], branching)
    state = ProofState(pp="7")
    for i in range(lean_calls):
        env.run_tactic(state, tactics[i % branching])
    return time.process_time() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--branching", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="best of N runs per size (smaller sizes run more)")
    args = parser.parse_args()

    run_once(1_000, args.branching, seed=99)  # warm up imports and caches
    gc.callbacks.append(_gc_timer)
    print(f"branching {args.branching}, best of >= {args.repeats} runs, process CPU time")
    print("overhead = (search CPU - generator/env CPU alone) / expansions; it includes building the networkx tree")
    print("and the garbage collector's passes during the search (its share is shown on its own as well)")
    header = f"{'nodes':>8} {'expansions':>10} {'search us/exp':>14} {'doubles us/exp':>15} {'overhead us/exp':>16}"
    print(header + f" {'of which gc':>12}")
    overhead: dict[int, float] = {}
    for size in SIZES:
        best: tuple[float, float, float, SearchResult] | None = None
        # Small runs are short and noisy: repeat them more, so every size is measured over similar time.
        for rep in range(args.repeats * max(1, round(math.log10(SIZES[-1] / size)) * 2)):
            result, cpu = run_once(size, args.branching, seed=rep)
            doubles = doubles_cpu(result.stats.expansions, result.stats.lean_calls, args.branching)
            gc_per_exp = _GC_CPU[0] / result.stats.expansions * 1e6
            per_exp = (cpu - doubles) / result.stats.expansions * 1e6
            if best is None or per_exp < best[0]:
                best = (per_exp, doubles / result.stats.expansions * 1e6, gc_per_exp, result)
            del result
        assert best is not None
        per_exp, doubles_per_exp, gc_per_exp, result = best
        overhead[size] = per_exp
        total = per_exp + doubles_per_exp
        print(
            f"{result.stats.nodes:>8} {result.stats.expansions:>10} {total:>14.2f} {doubles_per_exp:>15.2f}"
            f" {per_exp:>16.2f} {gc_per_exp:>12.2f}"
        )

    small, mid, large = (overhead[n] for n in SIZES)
    growth = large / small
    log_growth = math.log(SIZES[-1]) / math.log(SIZES[0])
    print(f"growth per decade: 1e3->1e4 x{mid / small:.2f}, 1e4->1e5 x{large / mid:.2f} (linear would be x10 each)")
    print(f"growth 1e3 -> 1e5: x{growth:.2f}; log n grows x{log_growth:.2f} over that range")
    print(f"check < {TARGET_US:g} us/expansion at 1e5 nodes: {'OK' if large < TARGET_US else 'OVER'}")
    print(f"check growth no worse than log n: {'OK' if growth <= log_growth else 'OVER'}")
    print(f"search overhead: {large:.1f} us/expansion at 1e5 nodes")


if __name__ == "__main__":
    main()
