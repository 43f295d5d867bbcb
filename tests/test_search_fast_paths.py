"""The search's fast paths keep its behaviour: inlined scoring, the filter's checker, the tree built on
demand, and the realistic workload of benchmarks/bench_search.py."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import pytest

from lean_env.checks.tactic_filter import check_tactic, make_checker
from lean_env.errors import TheoremStartError
from lean_env.types import HoleTarget, LeanError, ProofState, ResultKind, StateResult, TacticResult, Theorem
from search import BestFirstSearch, Budget, Candidate, GenRequest, Scoring, SearchConfig
from search.scoring import candidate_score
from search.types import SearchResult, SearchStats, SearchStatus

CANDS = [
    Candidate("simp", -1.5, 3),
    Candidate("nlinarith [sq_nonneg (a - 1)]", -4.0, 12),
    Candidate("weird", float("nan"), 2),
    Candidate("sorry", -0.1, 1),
    Candidate("norm_num [Ne.def]", -2.0, 0),
]


class CountingEnv:
    """Every tactic leads to a new state named after it."""

    def start(self, theorem: Theorem) -> ProofState:
        return ProofState.from_pp("⊢ P")

    def start_hole(self, target: HoleTarget) -> ProofState:
        raise TheoremStartError(f"{type(self).__name__} starts only at a theorem's statement, not at a hole")

    def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> TacticResult:
        if tactic == "weird":
            return LeanError("unknown tactic")
        return StateResult(ProofState.from_pp(f"{state.pp}\n-- {tactic}"))

    def close(self) -> None:
        pass

    def __enter__(self) -> CountingEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def generator(requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
    return [list(CANDS) for _ in requests]


@pytest.mark.parametrize("scoring", list(Scoring))
def test_inlined_scores_are_candidate_score(scoring: Scoring) -> None:
    config = SearchConfig(num_tactics=len(CANDS), scoring=scoring, budget=Budget(time_s=None, max_expansions=1))
    result = BestFirstSearch(CountingEnv(), generator, config).search(Theorem("t", "theorem t : P"))
    edges = {d["tactic"]: d for _, _, d in result.tree.edges(data=True)}  # type: ignore[union-attr]
    for cand in CANDS:
        expected = candidate_score(cand, scoring)
        got = edges[cand.tactic]["score"]
        assert got == expected or (math.isinf(expected) and got == expected), (cand, got, expected)
    # Child priorities are the path score: the parent's (0) plus the edge's.
    nodes = dict(result.tree.nodes(data=True))  # type: ignore[union-attr]
    for _, v, d in result.tree.edges(data=True):  # type: ignore[union-attr]
        if d["result"] == "state":
            assert nodes[v]["score"] == d["score"]


def test_the_default_check_gives_the_filters_verdicts() -> None:
    checker = make_checker()
    texts = [c.tactic for c in CANDS] + ["apply?", "exact (sorryAx _)", "simp [Ne.def]", "simp [Ne.def]", "decide"]
    assert [checker(t) for t in texts] == [check_tactic(t) for t in texts]
    config = SearchConfig(num_tactics=len(CANDS), budget=Budget(time_s=None, max_expansions=1))
    result = BestFirstSearch(CountingEnv(), generator, config).search(Theorem("t", "theorem t : P"))
    refused = {d["tactic"]: d["message"] for _, _, d in result.tree.edges(data=True) if d["result"] == ResultKind.REFUSED}  # type: ignore[union-attr]
    assert refused == {"sorry": f"refused: {check_tactic('sorry')}"}


def test_the_tree_is_built_on_first_read_and_kept() -> None:
    calls: list[int] = []
    config = SearchConfig(num_tactics=2, budget=Budget(time_s=None, max_expansions=3))
    result = BestFirstSearch(CountingEnv(), generator, config).search(Theorem("t", "theorem t : P"))
    assert "_tree" not in result.__dict__  # nothing built while searching
    tree = result.tree
    assert tree is not None and tree.number_of_nodes() == result.stats.nodes
    assert result.tree is tree
    bare = SearchResult("t", SearchStatus.FAILED_START, None, (), SearchStats())
    assert bare.tree is None
    built = SearchResult("t", SearchStatus.FAILED_START, None, (), SearchStats(), tree_builder=lambda: calls.append(1))
    built.tree, built.tree  # noqa: B018 - read twice, built once
    assert calls == [1]
    assert built == bare  # the builder is not part of the result's value


def test_bench_search_workload_is_realistic() -> None:
    from benchmarks import bench_search as b

    work = b.make_workload(expansions=200, k=8, state_chars=400, error_rate=0.25, seed=3)
    tactics = [c.tactic for cands in work.candidates for c in cands]
    assert len(tactics) == 1600 and len(set(tactics)) == len(tactics)  # every text new
    assert sum("\n" in t for t in tactics) > 100  # multi-line blocks the filter must handle
    errors = sum(isinstance(r, LeanError) for r in work.results)
    assert 0.2 < errors / len(work.results) < 0.3
    states = [r.state.pp for r in work.results if isinstance(r, StateResult)]
    assert 380 <= sum(map(len, states)) / len(states) <= 520 and len(set(states)) == len(states)
    assert all(r.state.goals for r in work.results if isinstance(r, StateResult))  # parsed, as backends do
    result, cpu, doubles, tree = b.run_once(300, b.Params(), seed=random.randrange(100))
    assert result.stats.expansions == b.expansions_for(300, b.Params()) and 250 <= result.stats.nodes <= 350
    assert cpu > doubles > 0 and tree > 0
