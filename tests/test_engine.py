"""The proof engine: one status vocabulary, cost accounting per strategy and round, typed backend failures,
and every strategy under `--jobs`. The backend is the replay of recorded real-Lean results
(examples/demo.cassette.jsonl); models are scripted."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from benchmarks.compare import mcnemar_exact
from lean_env.backends.replay import ReplayEnv, ReplayVerifier
from lean_env.errors import LeanCrashError, TheoremStartError
from lean_env.source.declarations import parse_lean_file
from lean_env.types import HoleTarget, ProofState, TacticResult, Theorem
from prover.engine import Cost, Engine, EngineConfig, ProofTarget, RoundCost, SearchStrategy, Status, WholeStrategy
from prover.engine.strategies import Sample
from prover.generators import FixedTacticGenerator
from prover.prove import plan_targets
from search.types import Budget, Candidate, GenRequest, SearchConfig, SearchStatus
from tests.cli_support import DEMO, DEMO_CASSETTE

CASSETTE = DEMO_CASSETTE
SEARCH = SearchConfig(num_tactics=4, budget=Budget(time_s=None, max_expansions=3))


def demo_targets() -> list[ProofTarget]:
    lean_file = parse_lean_file(DEMO)
    _, targets = plan_targets(lean_file, lean_file.theorems)
    return targets


class CountingGenerator:
    """Scripted tactics with known token counts; counts its own calls independently of the engine's meter."""

    def __init__(self, tactics: Sequence[tuple[str, int]]) -> None:
        self.tactics, self.calls, self.tokens = tactics, 0, 0

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        self.calls += 1
        out = [[Candidate(t, -1.0 - i, n) for i, (t, n) in enumerate(self.tactics[:k])] for _ in requests]
        self.tokens += sum(c.num_tokens for cands in out for c in cands)
        return out


class CountingVerifier(ReplayVerifier):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.calls = 0

    def verify(self, theorem: Theorem, proof: str):
        self.calls += 1
        return super().verify(theorem, proof)


def test_status_vocabulary_covers_every_search_ending_and_schema_1() -> None:
    assert {Status.from_search(s) for s in SearchStatus} == {
        Status.FOUND,
        Status.EXHAUSTED,
        Status.TIMED_OUT,
        Status.FAILED_START,
        Status.CRASHED,
    }
    assert Status.from_legacy("failed_time") is Status.TIMED_OUT
    assert Status.from_legacy("no_proof") is Status.EXHAUSTED
    assert Status.from_legacy("failed_error") is Status.CRASHED
    assert Status.from_legacy("rejected", proved=True) is Status.PROVED
    with pytest.raises(ValueError, match="unknown outcome status"):
        Status.from_legacy("sideways")


def test_search_counts_every_cost_and_a_fixed_list_generates_no_tokens() -> None:
    target = next(t for t in demo_targets() if t.name == "mathd_algebra_455")
    gen = CountingGenerator([("norm_num", 3), ("linarith", 2)])
    verifier = CountingVerifier(CASSETTE)
    outcome = Engine(SearchStrategy(gen, SEARCH), ReplayEnv(CASSETTE), verifier).prove(target)
    assert outcome.status is Status.PROVED and outcome.proof == "linarith" and outcome.checker == "replay"
    [round0] = outcome.costs
    assert (round0.strategy, round0.round) == ("search", 0)
    cost = round0.cost
    assert cost.model_calls == gen.calls == 1
    assert cost.generated_tokens == gen.tokens == 5
    assert cost.tactic_calls == outcome.stats["lean_calls"] and cost.tactic_calls >= 2
    assert cost.compiles == verifier.calls == 1
    assert cost.wall_s > 0
    fixed = Engine(
        SearchStrategy(FixedTacticGenerator(["norm_num", "linarith"]), SEARCH), ReplayEnv(CASSETTE), verifier
    )
    assert fixed.prove(target).cost.generated_tokens == 0  # no model ran


class ScriptedSampler:
    def __init__(self, samples: Sequence[Sample]) -> None:
        self.samples, self.calls = list(samples), 0

    def __call__(self, target: ProofTarget, n: int) -> list[Sample]:
        self.calls += 1
        return self.samples[:n]


def _extract(completion: str, name: str) -> str | None:
    return completion.strip() or None


def test_whole_counts_samples_tokens_and_compiles_and_keeps_each_attempt() -> None:
    target = next(t for t in demo_targets() if t.name == "mathd_algebra_455")
    sampler = ScriptedSampler([Sample("", 4), Sample("nlinarith", 7), Sample("nlinarith", 7), Sample("linarith", 5)])
    verifier = CountingVerifier(CASSETTE)
    outcome = Engine(WholeStrategy(sampler, 4, _extract), ReplayEnv(CASSETTE), verifier).prove(target)
    assert outcome.status is Status.PROVED and outcome.proof == "linarith"
    assert outcome.costs == (RoundCost("whole", 0, Cost(1, 23, 0, 2, outcome.costs[0].cost.wall_s)),)
    assert verifier.calls == 2  # the repeated sample is not compiled twice
    assert [(a.proof, a.status) for a in outcome.attempts] == [
        (None, Status.EXHAUSTED),
        ("nlinarith", Status.REJECTED),
        ("linarith", Status.PROVED),
    ]
    assert outcome.attempts[1].reason and outcome.attempts[1].completion_tokens == 7


def test_whole_with_no_verified_sample_is_rejected_never_proved() -> None:
    target = next(t for t in demo_targets() if t.name == "mathd_algebra_141")
    outcome = Engine(
        WholeStrategy(ScriptedSampler([Sample("nlinarith")]), 1, _extract),
        ReplayEnv(CASSETTE),
        ReplayVerifier(CASSETTE),
    ).prove(target)
    assert outcome.status is Status.REJECTED and not outcome.proved and "none verified" in outcome.message


@pytest.mark.parametrize("strategy", ["search", "whole"])
def test_every_strategy_gives_the_same_outcomes_with_jobs(strategy: str) -> None:
    def make() -> SearchStrategy | WholeStrategy:
        if strategy == "search":
            return SearchStrategy(FixedTacticGenerator(["ring", "norm_num", "linarith"]), SEARCH)
        return WholeStrategy(ScriptedSampler([Sample("norm_num"), Sample("linarith"), Sample("ring")]), 3, _extract)

    def run(jobs: int) -> list[tuple[str, Status, str | None]]:
        engine = Engine(make(), ReplayEnv(CASSETTE), ReplayVerifier(CASSETTE), EngineConfig(jobs=jobs))
        return [(o.target, o.status, o.proof) for o in engine.prove_all(demo_targets())]

    sequential = run(1)
    assert sum(s is Status.PROVED for _, s, _ in sequential) == 4
    assert run(3) == sequential


class FailingStart:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def start(self, theorem: Theorem) -> ProofState:
        raise self.exc

    def start_hole(self, target: HoleTarget) -> ProofState:
        raise self.exc

    def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> TacticResult:
        raise AssertionError("never reached")

    def close(self) -> None:
        pass

    def __enter__(self) -> FailingStart:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def test_a_backend_failure_is_told_by_its_type_not_its_words() -> None:
    target = demo_targets()[0]
    strategy = SearchStrategy(FixedTacticGenerator(["ring"]), SEARCH)
    # The words of a crash inside a theorem's own start failure do not make it the backend's.
    theorem_fault = Engine(
        strategy, FailingStart(TheoremStartError("LeanCrashError in the statement")), ReplayVerifier(CASSETTE)
    )
    outcome = theorem_fault.prove(target)
    assert outcome.status is Status.FAILED_START and not outcome.retriable
    crashed = Engine(strategy, FailingStart(LeanCrashError("the REPL died")), ReplayVerifier(CASSETTE)).prove(target)
    assert crashed.status is Status.FAILED_START and crashed.retriable and isinstance(crashed.cause, LeanCrashError)


def test_mcnemar_exact_matches_the_binomial_tail() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_exact(9, 1) == pytest.approx(2 * 11 / 1024)
    assert mcnemar_exact(3, 3) == 1.0


def test_engine_search_is_the_search_strategy_alone_and_judges_nothing() -> None:
    """`Engine.search` returns the tactic search's result without a verdict (its caller checks the proof);
    the engine that only searches never calls a proof verified, and refuses a strategy that is not a search."""
    from lean_env.checks.verdict import Rejected
    from prover.engine.engine import SearchOnly

    assert isinstance(SearchOnly().verify(Theorem("t", "theorem t : True"), "trivial"), Rejected)
    with pytest.raises(TypeError, match="search strategy"):
        Engine(
            WholeStrategy(ScriptedSampler([]), 1, lambda text, name: text),
            FailingStart(TheoremStartError("x")),
            SearchOnly(),
        ).search(ProofTarget("t", Theorem("t", "theorem t : True")))
