"""Summaries of a results file: pass rate over every problem, pass@k, categories, time and expansions."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from math import comb

from benchmarks.minif2f import category as category_of
from benchmarks.results import AttemptRecord


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021) from n samples with c correct; needs n >= k."""
    if k < 1 or n < k:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


@dataclass(frozen=True)
class ProblemOutcome:
    name: str
    category: str
    attempts: int
    proved_attempts: int
    statuses: tuple[str, ...]

    @property
    def proved(self) -> bool:
        return self.proved_attempts > 0


@dataclass(frozen=True)
class Distribution:
    count: int
    mean: float
    median: float
    p90: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Distribution:
        if not values:
            return cls(0, 0.0, 0.0, 0.0, 0.0)
        ordered = sorted(values)
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        return cls(len(ordered), statistics.fmean(ordered), statistics.median(ordered), p90, ordered[-1])


@dataclass(frozen=True)
class CategoryRow:
    category: str
    proved: int
    total: int

    @property
    def rate(self) -> float:
        return self.proved / self.total if self.total else 0.0


@dataclass(frozen=True)
class Summary:
    problems: list[ProblemOutcome]
    missing: list[str]  # expected problems with no finished line (counted as not proved)
    pass_at: dict[int, float]
    categories: list[CategoryRow]
    time_s: Distribution
    expansions: Distribution
    proved_time_s: list[float]
    proved_expansions: list[int]
    all_time_s: list[float]
    statuses: dict[str, int] = field(default_factory=dict)
    config_hashes: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    # Proved problems per checker that verified them (`lean`, `replay`, ...): a replay verdict is a check of
    # recordings, never Lean's, so the summary names who checked and keeps the counts apart.
    checkers: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.problems) + len(self.missing)

    @property
    def proved(self) -> int:
        return sum(1 for p in self.problems if p.proved)

    @property
    def rate(self) -> float:
        return self.proved / self.total if self.total else 0.0

    def pass_rate_line(self) -> str:
        return format_pass_rate(self.proved, self.total)

    def checker_line(self) -> str:
        """Who verified the proved problems, e.g. `checker: replay` or `checkers: lean 3, replay 1`; empty when
        nothing is proved."""
        if len(self.checkers) == 1:
            return f"checker: {next(iter(self.checkers))}"
        if not self.checkers:
            return ""
        return "checkers: " + ", ".join(f"{name} {count}" for name, count in self.checkers.items())


def format_pass_rate(proved: int, total: int) -> str:
    pct = 100.0 * proved / total if total else 0.0
    return f"pass rate: {proved}/{total} ({pct:.1f}%)"


def summarize(records: Iterable[AttemptRecord], expected: Sequence[str] | None = None) -> Summary:
    """Summarise records; every problem in `expected` is in the denominator even if it has no line yet."""
    by_problem: dict[str, list[AttemptRecord]] = defaultdict(list)
    for rec in records:
        by_problem[rec.problem].append(rec)
    order = list(expected or []) + [n for n in by_problem if not expected or n not in set(expected)]
    outcomes: list[ProblemOutcome] = []
    missing: list[str] = []
    for name in dict.fromkeys(order):
        recs = sorted(by_problem.get(name, []), key=lambda r: r.attempt)
        if not recs:
            missing.append(name)
            continue
        outcomes.append(
            ProblemOutcome(
                name=name,
                category=recs[0].category or category_of(name),
                attempts=len(recs),
                proved_attempts=sum(1 for r in recs if r.proved),
                statuses=tuple(r.outcome_status.value for r in recs),
            )
        )
    all_records = [r for recs in by_problem.values() for r in recs]
    return Summary(
        problems=outcomes,
        missing=missing,
        pass_at=_pass_at(outcomes, len(missing)),
        categories=_categories(outcomes, missing),
        time_s=Distribution.of([r.duration_s for r in all_records]),
        expansions=Distribution.of([float(r.expansions) for r in all_records]),
        proved_time_s=sorted(r.duration_s for r in all_records if r.proved),
        proved_expansions=sorted(r.expansions for r in all_records if r.proved),
        all_time_s=[r.duration_s for r in all_records],
        statuses=dict(sorted(_count(r.outcome_status.value for r in all_records).items())),
        config_hashes=tuple(sorted({r.config_hash for r in all_records if r.config_hash})),
        models=tuple(sorted({r.model for r in all_records if r.model})),
        checkers=_proved_by_checker(all_records),
    )


def _proved_by_checker(records: Sequence[AttemptRecord]) -> dict[str, int]:
    """How many problems each checker verified (a problem proved by two checkers counts under both)."""
    pairs = {(r.problem, r.checker or "unknown") for r in records if r.proved}
    return dict(sorted(_count(checker for _, checker in pairs).items()))


def _count(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for v in values:
        out[v] += 1
    return dict(out)


def _pass_at(outcomes: Sequence[ProblemOutcome], missing: int) -> dict[int, float]:
    """pass@k for every k up to the fewest attempts any problem has; missing problems count as 0."""
    if not outcomes:
        return {}
    k_max = min(o.attempts for o in outcomes)
    total = len(outcomes) + missing
    ks = sorted({k for k in (1, 2, 4, 8, 16, 32, 64, 128, k_max) if k <= k_max})
    return {k: sum(pass_at_k(o.attempts, o.proved_attempts, k) for o in outcomes) / total for k in ks}


def _categories(outcomes: Sequence[ProblemOutcome], missing: Sequence[str]) -> list[CategoryRow]:
    proved: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for o in outcomes:
        total[o.category] += 1
        proved[o.category] += int(o.proved)
    for name in missing:
        total[category_of(name)] += 1
    return [CategoryRow(c, proved[c], total[c]) for c in sorted(total)]


def pass_rate_by_budget(records: Iterable[AttemptRecord], budgets: Sequence[float], by: str, total: int) -> list[float]:
    """Fraction of problems proved within each budget (`by` = "expansions" or "time")."""
    best: dict[str, float] = {}
    for r in records:
        if not r.proved:
            continue
        cost = float(r.expansions) if by == "expansions" else r.duration_s
        best[r.problem] = min(cost, best.get(r.problem, cost))
    return [sum(1 for c in best.values() if c <= b) / total if total else 0.0 for b in budgets]
