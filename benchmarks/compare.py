"""`prover report --compare A.jsonl B.jsonl`: two sweeps on their common problems, at the budget each used.

A problem counts as solved by a sweep when any of its attempts was verified (pass@k over the attempts the
sweep ran). The paired test is McNemar's exact form: under "both systems are equally good", the problems
only one of them solved split between them like fair coin flips, so the two-sided p-value is the binomial
tail of the smaller count (McNemar 1947; the exact binomial version for small discordant counts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from benchmarks.results import AttemptRecord, ResultsError, read_results
from prover.engine.cost import Cost


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value for the discordant counts (1.0 when there are none)."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2**n
    return float(min(1.0, 2 * tail))


@dataclass(frozen=True)
class Side:
    path: Path
    solved: frozenset[str]
    attempts: int  # attempts on the common problems
    cost: Cost  # summed over the attempts on the common problems


@dataclass(frozen=True)
class Comparison:
    common: tuple[str, ...]
    a: Side
    b: Side

    @property
    def only_a(self) -> list[str]:
        return sorted(self.a.solved - self.b.solved)

    @property
    def only_b(self) -> list[str]:
        return sorted(self.b.solved - self.a.solved)

    @property
    def p_value(self) -> float:
        return mcnemar_exact(len(self.only_a), len(self.only_b))


def _side(path: Path, records: list[AttemptRecord], common: set[str]) -> Side:
    mine = [r for r in records if r.problem in common]
    cost = Cost()
    for r in mine:
        cost = cost + r.cost
    solved = frozenset(r.problem for r in mine if r.proved)
    return Side(path, solved, len(mine), cost)


def compare_results(a: Path, b: Path) -> Comparison:
    """Compare two results files; raises ResultsError when either is missing or they share no problem."""
    loaded = []
    for path in (a, b):
        if not path.is_file():
            raise ResultsError(f"no such results file: {path}")
        loaded.append(read_results(path).records)
    common = {r.problem for r in loaded[0]} & {r.problem for r in loaded[1]}
    if not common:
        raise ResultsError(f"{a} and {b} have no problem in common")
    return Comparison(tuple(sorted(common)), _side(a, loaded[0], common), _side(b, loaded[1], common))


def _budget(cost: Cost) -> str:
    return (
        f"{cost.model_calls} model calls, {cost.generated_tokens} generated tokens, {cost.tactic_calls} tactic "
        f"calls, {cost.compiles} compiles, {cost.wall_s:.1f} s"
    )


def format_comparison(c: Comparison) -> list[str]:
    """The comparison as plain lines (the command prints them; the p-value line comes last)."""
    n = len(c.common)
    lines = [f"common problems: {n}"]
    for label, side in (("A", c.a), ("B", c.b)):
        rate = 100 * len(side.solved) / n
        lines.append(f"{label} {side.path}: {len(side.solved)}/{n} solved ({rate:.1f}%), {side.attempts} attempts")
        lines.append(f"  budget: {_budget(side.cost)}")
    lines.append(f"only A solved: {', '.join(c.only_a) or '-'}")
    lines.append(f"only B solved: {', '.join(c.only_b) or '-'}")
    lines.append(f"McNemar exact test: {len(c.only_a)} vs {len(c.only_b)} discordant, p = {c.p_value:.4g}")
    return lines
