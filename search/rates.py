"""Rates over many searches. Every attempted theorem is in the denominator, including those that
failed to start (ReProver drops those, which flatters its pass rate)."""

from __future__ import annotations

from collections.abc import Iterable

from search.types import SearchResult, SearchStatus


def status_counts(results: Iterable[SearchResult]) -> dict[str, int]:
    """How many results ended with each status; every status is present, zeros included."""
    counts = {status.value: 0 for status in SearchStatus}
    for result in results:
        counts[result.status.value] += 1
    return counts


def proved_rate(results: Iterable[SearchResult]) -> float:
    """Fraction of attempted theorems the search proved (0.0 for none attempted).

    A search's PROVED is a claim; callers reporting a pass rate should count only verified proofs.
    """
    counts = status_counts(results)
    attempted = sum(counts.values())
    return counts[SearchStatus.PROVED.value] / attempted if attempted else 0.0
