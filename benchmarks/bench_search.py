"""Pure search overhead per expansion on a realistic workload, with a zero-latency generator and environment.

Workload (all of it generated before the clock starts): each expansion asks for k = 8 tactics (`--k`)
drawn from realistic templates (`nlinarith [sq_nonneg (a - 3), …]`, `norm_num [Nat.factorial] at h₁ ⊢`,
multi-line `induction … with` blocks, `calc` chains, …) with varying numbers, every text new, as a
model's output is; 25% of them answer a Lean error (`--error-rate`), the others a new pretty-printed
goal state of about 400 characters (`--state-chars`: hypotheses, `⊢` target, several goals at
times). The environment and generator only hand out these precomputed objects, and the figure
reported is the search's own work per expansion (frontier heap, deduplication of states, the tactic
filter, the tree's records, garbage collection): process CPU time of the search minus that of the
same generator and environment calls made alone. The networkx tree is built from those records only
when `SearchResult.tree` is read (`prove --tree-dir`; a sweep never reads it): its cost per
expansion is shown in a column of its own.

    python benchmarks/bench_search.py [--k 8] [--state-chars 400] [--error-rate 0.25] [--repeats 3]

Sizes 1e3, 1e4 and 1e5 nodes; the overhead must stay under 50 us/expansion at every size and grow
no faster than log n. The last line reads `search overhead: X us/expansion at 1e5 nodes`.
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import time
from dataclasses import dataclass

from lean_env.types import LeanError, ProofState, StateResult, TacticResult, Theorem
from search import BestFirstSearch, Budget, Candidate, GenRequest, Scoring, SearchConfig, SearchResult
from search.testing import ReplayedEnv, ReplayedGenerator

TARGET_US = 50.0
SIZES = (1_000, 10_000, 100_000)

# Tactic templates as models write them for competition problems (miniF2F-style), `{i}` a fresh number
# that makes every text new and `{a}`..`{c}` small varying numbers.
TACTICS = (
    "nlinarith [sq_nonneg (a - {a}), sq_nonneg (b + {b}), mul_pos ha hb, h₀, sq_nonneg (a * b - {i})]",
    "norm_num [Nat.factorial, Finset.sum_range_succ, h{a}, pow_succ {i}] at h₁ ⊢",
    "induction n with\n  | zero => simp\n  | succ k ih =>\n    rw [Finset.sum_range_succ, ih]\n    nlinarith [sq_nonneg (k + {i})]",
    "rw [show ({i} : ℝ) = {a} * {b} + {c} by norm_num]",
    "have h{a} : x ^ 2 + {b} * x ≤ {i} := by nlinarith [sq_nonneg (x - {c})]",
    "simp only [Finset.mem_Icc, Nat.lt_succ_iff, Finset.card_range, Nat.succ_le {i}] at h{a} ⊢",
    "linarith [h₀ {i}, h₁ ({a} : ℝ), h₂]",
    "field_simp [hx.ne', show ({i} : ℝ) ≠ 0 by norm_num]",
    "obtain ⟨k, hk⟩ := h{a} {i}\nsubst hk\nomega",
    "interval_cases x <;> simp_all [Nat.pow_succ, h{i}]",
    "refine ⟨{i}, by norm_num, ?_⟩",
    "calc x = {a} * y := by rw [h₀]\n    _ ≤ {i} := by nlinarith [h₁]",
    "rcases h₀ with ⟨h{a}, h{b}⟩ | h{c}\n· linarith\n· nlinarith [sq_abs (x - {i})]",
    "apply Nat.le_of_lt_succ\nnorm_num [Nat.div_add_mod {i} {a}]",
    "exact fun n hn => by positivity\nall_goals nlinarith [sq_nonneg (n - {i})]",
    "ring_nf at h{a} ⊢\nnlinarith [h{b}, sq_nonneg (y - {i})]",
)
ERRORS = (
    "linarith failed to find a contradiction\ncase a\nx y : ℝ\nh₀ : 0 < x\na✝ : x * y > {i}\n⊢ False",
    "unsolved goals\nx : ℝ\nh₀ : x ^ 2 = {i}\n⊢ x = {a} ∨ x = -{a}",
    "ring_nf failed to prove the goal",
    "unknown identifier 'h{a}'",
    "type mismatch\n  h₁\nhas type\n  x ≤ {i} : Prop\nbut is expected to have type\n  x < {i} : Prop",
)
HYPOTHESES = (
    "h₀ : 0 < x ∧ 0 < y ∧ 0 < z",
    "h₁ : x + y + z = {i}",
    "h₂ : x * y * z = {a}",
    "h₃ : ∀ (n : ℕ), f (n + 1) = f n + {b} * ↑n ^ 2",
    "hf : f 0 = {c}",
    "h₄ : ∑ k ∈ Finset.range {a}, f k ≤ {i}",
    "h₅ : Real.sqrt (x ^ 2 + {b}) ≤ y",
    "hx : x ≠ 0",
    "h₆ : (x - y) ^ 2 + (y - z) ^ 2 ≥ {c}",
)
TARGETS = (
    "⊢ x ^ 3 + y ^ 3 + z ^ 3 - 3 * x * y * z ≥ {i} * (x + y + z)",
    "⊢ ∑ k ∈ Finset.Icc 1 {a}, (f k) ^ 2 ≤ {i} * (x * y + y * z + z * x)",
    "⊢ f {i} = {b} * ↑{a} ^ 3 + {c}",
)


def _fill(template: str, i: int, rng: random.Random) -> str:
    return template.format(i=i, a=rng.randrange(1, 10), b=rng.randrange(1, 100), c=rng.randrange(0, 1000))


def make_state(i: int, rng: random.Random, chars: int) -> ProofState:
    """A pretty-printed goal state of about `chars` characters, unique by `i` (sometimes two goals)."""
    lines = ["x y z : ℝ", "f : ℕ → ℝ"]
    size = sum(len(s) + 1 for s in lines)
    target = _fill(rng.choice(TARGETS), i, rng)
    while size + len(target) < chars:
        hyp = _fill(rng.choice(HYPOTHESES), i, rng)
        lines.append(hyp)
        size += len(hyp) + 1
    goal = "\n".join([*lines, target])
    if rng.random() < 0.2:  # a second goal, as after `constructor` or `refine ⟨_, ?_⟩`
        goal = f"case left\n{goal}\n\ncase right\nx y z : ℝ\n⊢ 0 < x * y + {i}"
    return ProofState.from_pp(goal, handle=i)


@dataclass
class Workload:
    """Every candidate list and every Lean answer of one search, in the order the search asks for them."""

    candidates: list[list[Candidate]]
    results: list[TacticResult]


def make_workload(expansions: int, k: int, state_chars: int, error_rate: float, seed: int) -> Workload:
    rng = random.Random(seed)
    fresh = iter(range(10**9))
    candidates = [
        [
            Candidate(_fill(rng.choice(TACTICS), next(fresh), rng), -3.0 * rng.random(), rng.randrange(4, 40))
            for _ in range(k)
        ]
        for _ in range(expansions)
    ]
    results: list[TacticResult] = []
    for _ in range(expansions * k):
        if rng.random() < error_rate:
            results.append(LeanError(_fill(rng.choice(ERRORS), next(fresh), rng)))
        else:
            results.append(StateResult(make_state(next(fresh), rng, state_chars)))
    return Workload(candidates, results)


@dataclass(frozen=True)
class Params:
    k: int = 8
    state_chars: int = 400
    error_rate: float = 0.25


def expansions_for(nodes: int, p: Params) -> int:
    """Expansions after which the tree holds about `nodes` states (each expansion adds k * (1 - error) states)."""
    return max(1, math.ceil((nodes - 1) / (p.k * (1.0 - p.error_rate))))


def run_once(nodes: int, p: Params, seed: int) -> tuple[SearchResult, float, float, float]:
    """One search over a fresh workload: (result, search CPU seconds, CPU seconds of the doubles alone,
    CPU seconds to build the networkx tree when asked for it afterwards)."""
    expansions = expansions_for(nodes, p)
    work = make_workload(expansions, p.k, p.state_chars, p.error_rate, seed)
    root = make_state(-1, random.Random(seed), p.state_chars)
    config = SearchConfig(
        num_tactics=p.k, scoring=Scoring.LENGTH_NORMALIZED, budget=Budget(time_s=None, max_expansions=expansions)
    )
    search = BestFirstSearch(ReplayedEnv(work.results, root), ReplayedGenerator(work.candidates), config)
    gc.collect()
    _GC_CPU[0] = 0.0
    t0 = time.process_time()
    result = search.search(Theorem(name="bench", statement="theorem bench : False"))
    cpu = time.process_time() - t0
    doubles = doubles_cpu(work, root, result.stats.expansions, result.stats.lean_calls)
    t1 = time.process_time()
    assert result.tree is not None and result.tree.number_of_nodes() > result.stats.nodes
    return result, cpu, doubles, time.process_time() - t1


_GC_CPU = [0.0, 0.0]  # CPU seconds inside the garbage collector since run_once began; start of the current pass


def _gc_timer(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _GC_CPU[1] = time.process_time()
    else:
        _GC_CPU[0] += time.process_time() - _GC_CPU[1]


def doubles_cpu(work: Workload, root: ProofState, expansions: int, lean_calls: int) -> float:
    """CPU time of the same generator and environment calls, made without the search."""
    env, gen = ReplayedEnv(work.results, root), ReplayedGenerator(work.candidates)
    request = [GenRequest(state=root.pp)]
    t0 = time.process_time()
    for _ in range(expansions):
        gen(request, 8)
    for _ in range(lean_calls):
        env.run_tactic(root, "simp")
    return time.process_time() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=8, help="tactics per expansion")
    parser.add_argument("--state-chars", type=int, default=400, help="length of each pretty-printed state")
    parser.add_argument("--error-rate", type=float, default=0.25, help="share of tactics answering an error")
    parser.add_argument("--repeats", type=int, default=3, help="best of N runs per size (smaller sizes run more)")
    args = parser.parse_args()
    p = Params(args.k, args.state_chars, args.error_rate)

    run_once(1_000, p, seed=99)  # warm up imports and caches
    gc.callbacks.append(_gc_timer)
    print(
        f"k = {p.k} tactics/expansion from {len(TACTICS)} templates, every text new; states ~{p.state_chars} chars; "
        f"{p.error_rate:.0%} errors; best of >= {args.repeats} runs, process CPU time"
    )
    print("overhead = (search CPU - generator/env CPU alone) / expansions; it includes the tactic filter and the")
    print("garbage collector's passes (shown on their own too); `tree on demand` = building result.tree afterwards")
    header = f"{'nodes':>8} {'expansions':>10} {'search us/exp':>14} {'doubles us/exp':>15} {'overhead us/exp':>16}"
    print(header + f" {'of which gc':>12} {'tree on demand':>15}")
    overhead: dict[int, float] = {}
    for size in SIZES:
        best: tuple[float, float, float, float, SearchResult] | None = None
        # Small runs are short and noisy: repeat them more, so every size is measured over similar time.
        for rep in range(args.repeats * max(1, round(math.log10(SIZES[-1] / size)) * 2)):
            result, cpu, doubles, tree = run_once(size, p, seed=rep)
            exp = result.stats.expansions
            gc_per_exp = _GC_CPU[0] / exp * 1e6
            per_exp = (cpu - doubles) / exp * 1e6
            if best is None or per_exp < best[0]:
                best = (per_exp, doubles / exp * 1e6, gc_per_exp, tree / exp * 1e6, result)
            del result
        assert best is not None
        per_exp, doubles_per_exp, gc_per_exp, tree_per_exp, result = best
        overhead[size] = per_exp
        total = per_exp + doubles_per_exp
        print(
            f"{result.stats.nodes:>8} {result.stats.expansions:>10} {total:>14.2f} {doubles_per_exp:>15.2f}"
            f" {per_exp:>16.2f} {gc_per_exp:>12.2f} {tree_per_exp:>15.2f}",
            flush=True,
        )

    small, mid, large = (overhead[n] for n in SIZES)
    growth = large / small
    log_growth = math.log(SIZES[-1]) / math.log(SIZES[0])
    worst = max(overhead.values())
    print(f"growth per decade: 1e3->1e4 x{mid / small:.2f}, 1e4->1e5 x{large / mid:.2f} (linear would be x10 each)")
    print(f"growth 1e3 -> 1e5: x{growth:.2f}; log n grows x{log_growth:.2f} over that range")
    print(f"check < {TARGET_US:g} us/expansion at every size: {'OK' if worst < TARGET_US else 'OVER'}")
    print(f"check growth no worse than log n: {'OK' if growth <= log_growth else 'OVER'}")
    print(f"search overhead: {large:.1f} us/expansion at 1e5 nodes")


if __name__ == "__main__":
    main()
