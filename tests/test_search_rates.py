"""Rates over search results: theorems that failed to start stay in the denominator."""

from __future__ import annotations

from search_testkit import FINISHED, DictEnv, ScriptedGenerator, theorem

from lean_env.errors import TheoremStartError
from search import BestFirstSearch, Budget, SearchConfig
from search.rates import proved_rate, status_counts


def test_failed_starts_count_against_the_rate() -> None:
    config = SearchConfig(budget=Budget(time_s=None))
    gen = ScriptedGenerator({"⊢ p": [("trivial", -0.1)]})
    ok = DictEnv(root="⊢ p", transitions={("⊢ p", "trivial"): FINISHED})
    stuck = DictEnv(root="⊢ p", transitions={})
    broken = DictEnv(root="⊢ p", transitions={}, start_error=TheoremStartError("unknown identifier"))
    results = [BestFirstSearch(env, gen, config).search(theorem()) for env in (ok, stuck, broken, broken)]
    counts = status_counts(results)
    assert counts["proved"] == 1 and counts["failed_exhausted"] == 1 and counts["failed_start"] == 2
    assert counts["failed_time"] == 0
    assert proved_rate(results) == 0.25
    assert proved_rate([]) == 0.0
