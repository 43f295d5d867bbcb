"""Best-first search: real recorded proofs among distractors, ordering, budgets, dedup, failures."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from search_testkit import (
    FINISHED,
    DictEnv,
    FakeClock,
    GrowingEnv,
    ScriptedGenerator,
    chained_proofs,
    failing_generator,
    leandojo_cassette,
    leandojo_rows,
    theorem,
)

from lean_env.backends.replay import ReplayEnv, flatten_proof
from lean_env.errors import TheoremStartError
from lean_env.types import LeanError, ProofFinished, ProofGivenUp, ProofState, ResultKind, StateResult, TacticTimeout
from search import BestFirstSearch, Budget, Candidate, ProgressEvent, Scoring, SearchConfig, SearchStatus
from search import tree as T
from search.types import GenRequest

UNLIMITED = Budget(time_s=None, max_expansions=None)


def cfg(**budget: object) -> SearchConfig:
    return SearchConfig(num_tactics=8, budget=Budget(**{"time_s": None, "max_expansions": None, **budget}))  # type: ignore[arg-type]


# ---------------------------------------------------------------- real recordings through the replay backend


# Tactics that were never recorded in these states: the replay backend answers "unrecorded" errors.
DISTRACTORS = [
    ("simp [distractor_a]", -0.05),
    ("norm_num [distractor_b]", -0.1),
    ("exact distractor_c", -0.2),
    ("sorry", -0.01),
]


def _recorded_generator(steps: list[dict[str, object]]) -> ScriptedGenerator:
    # The recorded tactic is ranked below every distractor, so the search must survive their failures.
    proposals = {str(s["state_before"]): [*DISTRACTORS, (str(s["tactic"]), -2.5, 4)] for s in steps}
    return ScriptedGenerator(proposals)


def _multi_step(shared: Path, min_steps: int = 3) -> list[tuple[str, list[dict[str, object]]]]:
    chained = chained_proofs(leandojo_rows(shared))
    # Skip proofs that revisit a pretty-printed state (a `simp` that changes only hidden terms):
    # deduplication rightly merges those states, so the search may find a shorter recorded path.
    picked = [
        (n, s)
        for n, s in sorted(chained.items())
        if len(s) >= min_steps and len({str(r["state_before"]) for r in s}) == len(s)
    ]
    assert len(picked) >= 5, "the LeanDojo sample should hold several multi-step chained proofs"
    return picked


def test_finds_recorded_proof_among_distractors(shared: Path) -> None:
    cassette = leandojo_cassette(shared)
    for name, steps in _multi_step(shared)[:8]:
        thm = cassette.theorems[name].to_theorem()
        gen = _recorded_generator(steps)
        result = BestFirstSearch(ReplayEnv(cassette), gen, SearchConfig(budget=UNLIMITED)).search(thm)
        assert result.status is SearchStatus.PROVED, (name, result.message)
        assert list(result.tactics) == [s["tactic"] for s in steps]
        assert result.stats.expansions == len(steps)
        # Every distractor was tried and recorded as a dead end with Lean's (replay's) message.
        g = result.tree
        assert g is not None
        dead = [a for _, _, a in g.edges(data=True) if a["result"] == ResultKind.ERROR]
        assert len(dead) == 3 * len(steps)
        assert all(a["message"].startswith("unrecorded") for a in dead)
        refused = [a for _, _, a in g.edges(data=True) if a["result"] == ResultKind.REFUSED]
        assert [a["tactic"] for a in refused] == ["sorry"] * len(steps)
        # The script replays step by step through the recordings to "no goals".
        assert flatten_proof(result.proof or "") == list(result.tactics)


def test_found_proof_reverifies_in_replay_backend(shared: Path) -> None:
    from lean_env.backends.replay import ReplayVerifier
    from lean_env.checks.verdict import Verified

    cassette = leandojo_cassette(shared)
    verifier = ReplayVerifier(cassette)
    checked = 0
    for name, steps in _multi_step(shared, min_steps=2)[:10]:
        thm = cassette.theorems[name].to_theorem()
        result = BestFirstSearch(
            ReplayEnv(cassette), _recorded_generator(steps), SearchConfig(budget=UNLIMITED)
        ).search(thm)
        assert result.status is SearchStatus.PROVED
        verdict = verifier.verify(thm, result.proof or "")
        assert isinstance(verdict, Verified), (name, verdict)
        assert verdict.checker == "replay"
        checked += 1
    assert checked == 10


def test_replay_search_without_the_right_tactic_is_exhausted(shared: Path) -> None:
    cassette = leandojo_cassette(shared)
    name, _ = _multi_step(shared)[0]
    thm = cassette.theorems[name].to_theorem()
    result = BestFirstSearch(ReplayEnv(cassette), ScriptedGenerator(default=DISTRACTORS), cfg()).search(thm)
    assert result.status is SearchStatus.FAILED_EXHAUSTED
    assert result.proof is None and result.tactics == ()
    assert result.stats.expansions == 1 and result.stats.lean_calls == 3


def test_unknown_theorem_fails_to_start_without_raising(shared: Path) -> None:
    cassette = leandojo_cassette(shared)
    result = BestFirstSearch(ReplayEnv(cassette), ScriptedGenerator(), cfg()).search(theorem("not_recorded"))
    assert result.status is SearchStatus.FAILED_START
    assert not result.status.proved
    assert "not_recorded" in result.message and "TheoremStartError" in result.message
    assert result.stats.expansions == 0 and result.stats.lean_calls == 0


def test_replay_latency_respects_real_wall_clock_budget(shared: Path) -> None:
    cassette = leandojo_cassette(shared)
    name, steps = _multi_step(shared)[0]
    thm = cassette.theorems[name].to_theorem()
    env = ReplayEnv(cassette, latency_s=0.03)
    # Only distractors and a budget of 0.2 s: about 7 tactics fit.
    config = SearchConfig(budget=Budget(time_s=0.2, tactic_timeout_s=5.0, max_expansions=None))
    gen = ScriptedGenerator(default=[(f"simp [h{i}]", -0.1 * i) for i in range(40)])
    t0 = time.perf_counter()
    result = BestFirstSearch(env, gen, config).search(thm)
    wall = time.perf_counter() - t0
    assert result.status is SearchStatus.FAILED_TIME
    assert wall < 0.2 + 0.25
    assert 3 <= result.stats.lean_calls <= 8


# ------------------------------------------------------------------------------ ordering and scoring


def _two_routes() -> tuple[DictEnv, ScriptedGenerator]:
    env = DictEnv(
        root="⊢ goal",
        transitions={
            ("⊢ goal", "long_tactic"): "⊢ via long",
            ("⊢ goal", "short"): "⊢ via short",
            ("⊢ via long", "done"): FINISHED,
            ("⊢ via short", "done"): FINISHED,
        },
    )
    gen = ScriptedGenerator(
        {
            "⊢ goal": [("long_tactic", -3.0, 10), ("short", -1.0, 1)],
            "⊢ via long": [("done", -0.1)],
            "⊢ via short": [("done", -0.1)],
        }
    )
    return env, gen


@pytest.mark.parametrize(
    ("scoring", "route"),
    [(Scoring.SUM_LOGPROB, "short"), (Scoring.LENGTH_NORMALIZED, "long_tactic")],
)
def test_scoring_decides_which_state_is_expanded_first(scoring: Scoring, route: str) -> None:
    env, gen = _two_routes()
    config = SearchConfig(scoring=scoring, budget=Budget(time_s=None, max_expansions=2))
    result = BestFirstSearch(env, gen, config).search(theorem())
    assert result.status is SearchStatus.PROVED
    assert result.tactics == (route, "done")
    assert gen.batches[1] == [f"⊢ via {route.split('_')[0]}"]


def test_best_first_explores_the_likelier_dead_branch_first() -> None:
    env = DictEnv(
        root="⊢ P",
        transitions={("⊢ P", "a"): "⊢ A", ("⊢ P", "b"): "⊢ B", ("⊢ A", "a2"): "⊢ A2", ("⊢ B", "close"): FINISHED},
    )
    gen = ScriptedGenerator(
        {"⊢ P": [("a", -0.1), ("b", -0.7)], "⊢ A": [("a2", -0.2), ("x", -0.3)], "⊢ B": [("close", -0.1)]}
    )
    result = BestFirstSearch(env, gen, cfg()).search(theorem())
    assert result.status is SearchStatus.PROVED
    assert result.tactics == ("b", "close")
    # P (0), A (-0.1), A2 (-0.3), then B (-0.7): the frontier order is by path score.
    assert [b[0] for b in gen.batches] == ["⊢ P", "⊢ A", "⊢ A2", "⊢ B"]
    assert result.stats.max_depth == 2


def test_equal_priorities_pop_in_discovery_order() -> None:
    env = DictEnv(root="⊢ r", transitions={("⊢ r", t): f"⊢ {t}" for t in "abcd"})
    gen = ScriptedGenerator({"⊢ r": [(t, -1.0) for t in "abcd"]})
    BestFirstSearch(env, gen, cfg()).search(theorem())
    assert [b[0] for b in gen.batches] == ["⊢ r", "⊢ a", "⊢ b", "⊢ c", "⊢ d"]


def test_value_function_reorders_the_frontier() -> None:
    env = DictEnv(root="⊢ r", transitions={("⊢ r", "a"): "⊢ a", ("⊢ r", "b"): "⊢ b"})
    gen = ScriptedGenerator({"⊢ r": [("a", -0.1), ("b", -0.2)]})
    seen: list[list[str]] = []

    def critic(states: Sequence[str]) -> list[float]:
        seen.append(list(states))
        return [1.0 if s == "⊢ b" else 0.0 for s in states]

    config = SearchConfig(budget=UNLIMITED, value_weight=0.5)
    result = BestFirstSearch(env, gen, config, value_fn=critic).search(theorem())
    assert [b[0] for b in gen.batches] == ["⊢ r", "⊢ b", "⊢ a"]
    assert seen == [["⊢ r"], ["⊢ a", "⊢ b"]]  # one batched critic call per round
    assert result.tree is not None and result.tree.nodes[2]["priority"] == pytest.approx(-0.2 + 0.5)


def test_value_function_without_weight_is_refused() -> None:
    with pytest.raises(ValueError, match="value_weight"):
        BestFirstSearch(GrowingEnv(), ScriptedGenerator(), SearchConfig(), value_fn=lambda s: [0.0] * len(s))


def test_nan_logprob_ranks_last_instead_of_breaking_the_heap() -> None:
    env = DictEnv(root="⊢ r", transitions={("⊢ r", "nan"): "⊢ n", ("⊢ r", "ok"): "⊢ o"})
    gen = ScriptedGenerator({"⊢ r": [("nan", math.nan), ("ok", -50.0)]})
    BestFirstSearch(env, gen, cfg()).search(theorem())
    assert [b[0] for b in gen.batches] == ["⊢ r", "⊢ o", "⊢ n"]


# ------------------------------------------------------------------------------------- deduplication


def test_state_reached_twice_is_expanded_once() -> None:
    env = DictEnv(
        root="⊢ r",
        transitions={("⊢ r", "a"): "⊢ same", ("⊢ r", "b"): "⊢ same", ("⊢ same", "back"): "⊢ r"},
    )
    gen = ScriptedGenerator({"⊢ r": [("a", -0.1), ("b", -0.2)], "⊢ same": [("back", -0.1)]})
    result = BestFirstSearch(env, gen, cfg()).search(theorem())
    assert result.status is SearchStatus.FAILED_EXHAUSTED
    assert [b[0] for b in gen.batches] == ["⊢ r", "⊢ same"]  # the cycle back to the root does not re-open it
    assert result.stats.nodes == 2
    g = result.tree
    assert g is not None
    # Both tactics into the same state are kept: the better one is the edge, the other an alternative.
    assert g.edges[0, 1]["tactic"] == "a"
    assert [alt["tactic"] for alt in g.edges[0, 1]["alternatives"]] == ["b"]
    assert g.has_edge(1, 0) and g.edges[1, 0]["tactic"] == "back"


def test_better_path_to_open_state_takes_over() -> None:
    env = DictEnv(
        root="⊢ r",
        transitions={
            ("⊢ r", "a"): "⊢ A",
            ("⊢ r", "b"): "⊢ B",
            ("⊢ A", "to_s"): "⊢ S",
            ("⊢ B", "to_s'"): "⊢ S",
            ("⊢ S", "fin"): FINISHED,
        },
    )
    gen = ScriptedGenerator(
        {
            "⊢ r": [("a", -0.1), ("b", -0.2), ("detour", -0.3)],
            "⊢ A": [("to_s", -5.0)],
            "⊢ B": [("to_s'", -0.1)],
            "⊢ S": [("fin", -0.1)],
        }
    )
    result = BestFirstSearch(env, gen, cfg()).search(theorem())
    assert result.status is SearchStatus.PROVED
    # S was first found via A (score -5.1) then via B (-0.3): the better path is the one reported,
    # and S is expanded once, before the "detour" state.
    assert result.tactics == ("b", "to_s'", "fin")
    assert [b[0] for b in gen.batches] == ["⊢ r", "⊢ A", "⊢ B", "⊢ S"]
    g = result.tree
    assert g is not None
    s_node = next(n for n, a in g.nodes(data=True) if a["pp"] == "⊢ S")
    assert g.nodes[s_node]["score"] == pytest.approx(-0.3)
    assert g.nodes[s_node]["depth"] == 2


def test_repeated_candidate_is_run_once() -> None:
    env = DictEnv(root="⊢ r", transitions={})
    gen = ScriptedGenerator({"⊢ r": [("simp", -0.1), ("simp ", -0.2), ("simp", -0.3)]})
    result = BestFirstSearch(env, gen, cfg()).search(theorem())
    assert [c[1] for c in env.calls] == ["simp"]
    assert result.stats.lean_calls == 1


# --------------------------------------------------------------------------------------------- budgets


def test_expansion_budget() -> None:
    gen = ScriptedGenerator(default=[("x", -0.1), ("y", -0.2)])
    result = BestFirstSearch(GrowingEnv(), gen, cfg(max_expansions=5)).search(theorem())
    assert result.status is SearchStatus.FAILED_EXPANSIONS
    assert result.stats.expansions == 5 == len(gen.batches)
    assert "5" in result.message


def test_expansion_budget_with_batching_never_overshoots() -> None:
    gen = ScriptedGenerator(default=[("x", -0.1), ("y", -0.2)])
    config = SearchConfig(expansion_batch=4, budget=Budget(time_s=None, max_expansions=6))
    result = BestFirstSearch(GrowingEnv(), gen, config).search(theorem())
    assert result.status is SearchStatus.FAILED_EXPANSIONS
    assert result.stats.expansions == 6
    assert [len(b) for b in gen.batches] == [1, 2, 3]  # the frontier grows 1 -> 2 -> 4; the last round is trimmed


def test_lean_call_budget() -> None:
    env = GrowingEnv()
    gen = ScriptedGenerator(default=[("x", -0.1), ("y", -0.2), ("z", -0.3)])
    result = BestFirstSearch(env, gen, cfg(max_lean_calls=7)).search(theorem())
    assert result.status is SearchStatus.FAILED_LEAN_CALLS
    assert result.stats.lean_calls == 7 == len(env.calls)


def test_time_budget_is_checked_between_lean_calls() -> None:
    clock = FakeClock()
    env = GrowingEnv(clock=clock, tactic_cost=1.0)
    gen = ScriptedGenerator(default=[(f"t{i}", -0.1 * i) for i in range(30)])
    config = SearchConfig(num_tactics=30, budget=Budget(time_s=10.0, tactic_timeout_s=4.0, max_expansions=None))
    result = BestFirstSearch(env, gen, config, clock=clock).search(theorem())
    assert result.status is SearchStatus.FAILED_TIME
    # All ten calls come from the root's single expansion: the budget stopped it mid-expansion.
    assert result.stats.expansions == 1
    assert result.stats.lean_calls == 10
    assert result.stats.total_time_s == pytest.approx(10.0)
    # Each call got the tactic timeout, cut to what was left of the theorem budget near the end.
    assert [c[2] for c in env.calls] == [4.0] * 7 + [3.0, 2.0, 1.0]


def test_time_budget_is_checked_between_expansions() -> None:
    clock = FakeClock()
    gen = ScriptedGenerator(default=[("x", -0.1)], clock=clock, cost=3.0)
    config = SearchConfig(budget=Budget(time_s=10.0, max_expansions=None))
    result = BestFirstSearch(GrowingEnv(), gen, config, clock=clock).search(theorem())
    assert result.status is SearchStatus.FAILED_TIME
    # Generator calls at t=0,3,6,9; the call at 9 ends past the deadline so its tactics are not run.
    assert len(gen.batches) == 4 and result.stats.lean_calls == 3
    assert result.stats.model_time_s == pytest.approx(12.0)


def test_tactic_timeout_is_separate_from_the_theorem_budget() -> None:
    env = GrowingEnv()
    gen = ScriptedGenerator(default=[("x", -0.1)])
    config = SearchConfig(budget=Budget(time_s=None, tactic_timeout_s=2.5, max_expansions=4))
    BestFirstSearch(env, gen, config).search(theorem())
    assert [c[2] for c in env.calls] == [2.5] * 4


def test_proof_found_by_the_last_allowed_lean_call_is_reported() -> None:
    env = GrowingEnv(finish_at={"⊢ root.x": "y"})
    gen = ScriptedGenerator(default=[("x", -0.1), ("y", -0.2)])
    # Calls: root.x, root.y, (root.x).x, (root.x).y -> finished: exactly the 4th and last allowed call.
    result = BestFirstSearch(env, gen, cfg(max_lean_calls=4)).search(theorem())
    assert result.status is SearchStatus.PROVED
    assert result.tactics == ("x", "y")
    assert result.stats.lean_calls == 4


def test_proof_found_as_time_runs_out_is_reported() -> None:
    clock = FakeClock()
    env = GrowingEnv(clock=clock, tactic_cost=6.0, finish_at={"⊢ root": "slow_finish"})
    gen = ScriptedGenerator(default=[("x", -0.1), ("slow_finish", -0.2)])
    config = SearchConfig(budget=Budget(time_s=10.0, tactic_timeout_s=100.0, max_expansions=None))
    result = BestFirstSearch(env, gen, config, clock=clock).search(theorem())
    # The finishing call starts at t=6 (within budget) and ends at t=12 (past it): still a proof.
    assert result.status is SearchStatus.PROVED
    assert result.tactics == ("slow_finish",)
    assert result.stats.total_time_s == pytest.approx(12.0)


def test_stats_split_time_between_model_lean_and_search() -> None:
    clock = FakeClock()
    env = GrowingEnv(clock=clock, tactic_cost=0.25)
    gen = ScriptedGenerator(default=[("x", -0.1), ("y", -0.2)], clock=clock, cost=0.5)
    result = BestFirstSearch(env, gen, cfg(max_expansions=3), clock=clock).search(theorem())
    s = result.stats
    assert s.model_time_s == pytest.approx(1.5)
    assert s.lean_time_s == pytest.approx(0.25 * 6)
    assert s.search_time_s == pytest.approx(0.0)
    assert s.total_time_s == pytest.approx(3.0)
    assert s.nodes == 1 + 6
    assert result.to_dict()["stats"]["lean_calls"] == 6


# ------------------------------------------------------------------------- dead ends and failures


def test_failed_tactics_become_recorded_dead_ends() -> None:
    env = DictEnv(
        root="⊢ r",
        transitions={
            ("⊢ r", "bad"): LeanError("unknown identifier 'foo'"),
            ("⊢ r", "slow"): TacticTimeout(5.0),
            ("⊢ r", "cheat"): ProofGivenUp(),
        },
    )
    gen = ScriptedGenerator({"⊢ r": [("bad", -0.1), ("slow", -0.2), ("cheat", -0.3), ("sorry", -0.4), ("  ", -0.5)]})
    result = BestFirstSearch(env, gen, cfg()).search(theorem())
    assert result.status is SearchStatus.FAILED_EXHAUSTED
    g = result.tree
    assert g is not None
    edges = {a["tactic"]: a for _, _, a in g.edges(0, data=True)}
    assert edges["bad"]["result"] == ResultKind.ERROR and "unknown identifier" in edges["bad"]["message"]
    assert edges["slow"]["result"] == ResultKind.TIMEOUT and "5s" in edges["slow"]["message"]
    assert edges["cheat"]["result"] == ResultKind.GIVEN_UP
    assert edges["sorry"]["result"] == ResultKind.REFUSED and "sorry" in edges["sorry"]["message"]
    assert edges[""]["result"] == ResultKind.REFUSED
    # Refused tactics never reach Lean.
    assert [c[1] for c in env.calls] == ["bad", "slow", "cheat"]
    assert all(g.nodes[v]["status"] == T.DEAD for _, v in g.edges(0))


def test_start_failure_is_a_result() -> None:
    env = DictEnv(root="⊢ r", transitions={}, start_error=TheoremStartError("unknown constant 'Nat.foo'"))
    result = BestFirstSearch(env, ScriptedGenerator(), cfg()).search(theorem("bad_start"))
    assert result.status is SearchStatus.FAILED_START
    assert "unknown constant 'Nat.foo'" in result.message
    assert result.to_dict()["status"] == "failed_start"


def test_generator_exception_keeps_partial_tree() -> None:
    calls = {"n": 0}
    scripted = ScriptedGenerator(default=[("x", -0.1)])

    def flaky(requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        calls["n"] += 1
        if calls["n"] == 3:
            return failing_generator("CUDA out of memory")(requests, k)
        return scripted(requests, k)

    result = BestFirstSearch(GrowingEnv(), flaky, cfg()).search(theorem())
    assert result.status is SearchStatus.FAILED_ERROR
    assert "CUDA out of memory" in result.message and "generator" in result.message
    assert result.tree is not None and result.tree.number_of_nodes() == 3
    assert result.stats.expansions == 3


def test_generator_returning_wrong_shape_is_an_error() -> None:
    result = BestFirstSearch(GrowingEnv(), lambda reqs, k: [], cfg()).search(theorem())
    assert result.status is SearchStatus.FAILED_ERROR
    assert "0 lists for 1 states" in result.message


def test_backend_crash_is_an_error_result() -> None:
    crashing = DictEnv(root="⊢ r", transitions={("⊢ r", "ok"): "⊢ s"}, raise_on="boom")
    gen = ScriptedGenerator({"⊢ r": [("ok", -0.1), ("boom", -0.2)]})
    result = BestFirstSearch(crashing, gen, cfg()).search(theorem())
    assert result.status is SearchStatus.FAILED_ERROR
    assert "LeanCrashError" in result.message and "boom" in result.message
    assert result.tree is not None and result.tree.has_edge(0, 1)  # the partial tree is kept
    assert [c[1] for c in crashing.calls] == ["ok", "boom"]


def test_generator_is_asked_for_k_and_extra_candidates_are_dropped() -> None:
    seen_k: list[int] = []

    def gen(requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        seen_k.append(k)
        return [[Candidate(f"t{i}", -0.1 * i) for i in range(10)] for _ in requests]

    env = DictEnv(root="⊢ r", transitions={})
    BestFirstSearch(env, gen, SearchConfig(num_tactics=4, budget=UNLIMITED)).search(theorem())
    assert seen_k == [4]
    assert len(env.calls) == 4


# ------------------------------------------------------------------------------ batching and progress


def test_expansion_batch_shares_one_generator_call() -> None:
    env = DictEnv(root="⊢ r", transitions={("⊢ r", t): f"⊢ {t}" for t in "abcde"} | {("⊢ c", "fin"): FINISHED})
    gen = ScriptedGenerator({"⊢ r": [(t, -0.1 * i) for i, t in enumerate("abcde")], "⊢ c": [("fin", -0.1)]})
    config = SearchConfig(expansion_batch=3, budget=UNLIMITED)
    result = BestFirstSearch(env, gen, config).search(theorem())
    assert result.status is SearchStatus.PROVED
    assert result.tactics == ("c", "fin")
    assert gen.batches == [["⊢ r"], ["⊢ a", "⊢ b", "⊢ c"]]
    assert result.stats.expansions == 4


def test_default_batch_is_one_state_per_generator_call() -> None:
    gen = ScriptedGenerator(default=[("x", -0.1), ("y", -0.2)])
    BestFirstSearch(GrowingEnv(), gen, cfg(max_expansions=6)).search(theorem())
    assert all(len(b) == 1 for b in gen.batches) and len(gen.batches) == 6


def test_progress_events_follow_the_search() -> None:
    events: list[ProgressEvent] = []
    gen = ScriptedGenerator(default=[("x", -0.1), ("y", -0.2)])
    BestFirstSearch(GrowingEnv(), gen, cfg(max_expansions=4), on_progress=events.append).search(theorem("p"))
    assert [e.expansions for e in events] == [1, 2, 3, 4]
    assert [e.lean_calls for e in events] == [2, 4, 6, 8]
    assert all(e.theorem_name == "p" for e in events)
    assert events[-1].nodes == 9 and events[-1].max_depth >= 2


def test_context_and_theorem_name_reach_the_generator() -> None:
    from search.types import InformalContext

    seen: list[GenRequest] = []

    def gen(requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        seen.extend(requests)
        return [[] for _ in requests]

    ctx = InformalContext(statement="1+1=2", proof="compute")
    BestFirstSearch(GrowingEnv(), gen, cfg()).search(theorem("named"), context=ctx)
    assert seen == [GenRequest(state="⊢ root", context=ctx, theorem_name="named")]


# --------------------------------------------------------------------------------- structured proofs


def test_multi_goal_proof_comes_out_with_bullets() -> None:
    g1, g2 = "case left\n⊢ p", "case right\n⊢ q"
    env = DictEnv(
        root="⊢ p ∧ q",
        transitions={
            ("⊢ p ∧ q", "constructor"): f"{g1}\n\n{g2}",
            (f"{g1}\n\n{g2}", "exact hp"): g2,
            (g2, "exact hq"): FINISHED,
        },
    )
    gen = ScriptedGenerator(
        {"⊢ p ∧ q": [("constructor", -0.1)], f"{g1}\n\n{g2}": [("exact hp", -0.1)], g2: [("exact hq", -0.1)]}
    )
    result = BestFirstSearch(env, gen, cfg()).search(theorem())
    assert result.proof == "constructor\n· exact hp\n· exact hq"
    assert result.tactics == ("constructor", "exact hp", "exact hq")
    assert flatten_proof(result.proof) == list(result.tactics)


def test_handle_of_state_follows_the_reported_path() -> None:
    # When a better path takes over an open state, later tactics run from that path's state object.
    env = DictEnv(
        root="⊢ r",
        transitions={("⊢ r", "a"): "⊢ A", ("⊢ r", "b"): "⊢ B", ("⊢ A", "s1"): "⊢ S", ("⊢ B", "s2"): "⊢ S"},
    )
    gen = ScriptedGenerator({"⊢ r": [("a", -0.1), ("b", -0.2)], "⊢ A": [("s1", -3.0)], "⊢ B": [("s2", -0.1)]})
    handles: list[object] = []
    real_run = env.run_tactic

    def spy(state: ProofState, tactic: str, timeout: float | None = None):
        if state.pp == "⊢ S":
            handles.append(state.handle)
        return real_run(state, tactic, timeout)

    env.run_tactic = spy
    gen2 = ScriptedGenerator({**gen.proposals, "⊢ S": [("z", -0.1)]})
    BestFirstSearch(env, gen2, cfg()).search(theorem())
    # The S reached via B was produced by the 4th Lean call (handles are call numbers).
    assert handles == [4]


def test_result_types_cover_every_backend_answer() -> None:
    # Guard: the search handles every member of the TacticResult union.
    import typing

    from lean_env.types import TacticResult

    assert set(typing.get_args(TacticResult)) == {StateResult, ProofFinished, LeanError, ProofGivenUp, TacticTimeout}


def test_bulleted_proof_reverifies_through_a_cassette() -> None:
    """A multi-goal proof found through ReplayEnv comes out bulleted and ReplayVerifier accepts it."""
    from lean_env.backends.replay import ReplayVerifier
    from lean_env.cassette.format import FinishedOutcome, StateOutcome, StepLine, TheoremLine
    from lean_env.cassette.store import new_cassette
    from lean_env.checks.verdict import Verified

    root = "p q : Prop\nhp : p\nhq : q\n⊢ p ∧ q"
    left = "case left\np q : Prop\nhp : p\nhq : q\n⊢ p"
    right = "case right\np q : Prop\nhp : p\nhq : q\n⊢ q"
    both = f"{left}\n\n{right}"
    cassette = new_cassette("hand-written for the bullet test (shaped like Lean's output)")
    cassette.add_theorem(
        TheoremLine(
            kind="theorem",
            name="and_intro",
            statement="theorem and_intro (p q : Prop) (hp : p) (hq : q) : p ∧ q",
            initial_state=root,
        )
    )
    for state, tactic, outcome in [
        (root, "constructor", StateOutcome(kind="state", pp=both)),
        (both, "exact hp", StateOutcome(kind="state", pp=right)),
        (right, "exact hq", FinishedOutcome(kind="finished")),
    ]:
        cassette.add_step(StepLine(kind="step", state=state, tactic=tactic, result=outcome, theorem="and_intro"))
    gen = ScriptedGenerator(
        {
            root: [("simp [distractor]", -0.1), ("constructor", -0.5)],
            both: [("exact hq", -0.1), ("exact hp", -0.2)],
            right: [("exact hp", -0.1), ("exact hq", -0.2)],
        }
    )
    thm = cassette.theorems["and_intro"].to_theorem()
    result = BestFirstSearch(ReplayEnv(cassette), gen, cfg()).search(thm)
    assert result.status is SearchStatus.PROVED
    assert result.proof == "constructor\n· exact hp\n· exact hq"
    verdict = ReplayVerifier(cassette).verify(thm, result.proof)
    assert isinstance(verdict, Verified) and verdict.checker == "replay"


def test_improved_state_is_not_expanded_twice_in_one_batch() -> None:
    # S is queued via A (score -11), improved via C (-3.5) before its expansion, so the heap holds two
    # entries for it; a batch of 2 pops both and must still expand S only once.
    env = DictEnv(
        root="⊢ r",
        transitions={("⊢ r", t): f"⊢ {t.upper()}" for t in "abcd"} | {("⊢ A", "s"): "⊢ S", ("⊢ C", "s"): "⊢ S"},
    )
    gen = ScriptedGenerator(
        {
            "⊢ r": [("a", -1.0), ("b", -2.0), ("c", -3.0), ("d", -4.0)],
            "⊢ A": [("s", -10.0)],
            "⊢ C": [("s", -0.5)],
        }
    )
    config = SearchConfig(expansion_batch=2, budget=UNLIMITED)
    result = BestFirstSearch(env, gen, config).search(theorem())
    assert gen.batches == [["⊢ r"], ["⊢ A", "⊢ B"], ["⊢ C", "⊢ D"], ["⊢ S"]]
    assert result.stats.expansions == 6 == result.stats.nodes


def test_state_with_no_goals_counts_as_finished() -> None:
    env = DictEnv(root="⊢ r", transitions={("⊢ r", "done"): StateResult(ProofState.from_pp("no goals"))})
    result = BestFirstSearch(env, ScriptedGenerator({"⊢ r": [("done", -0.1)]}), cfg()).search(theorem())
    assert result.status is SearchStatus.PROVED and result.tactics == ("done",)
    assert result.stats.nodes == 1


def test_long_lived_heap_freezes_as_the_tree_doubles_and_releases_at_the_end() -> None:
    import gc

    from search.best_first import _LongLivedHeap

    assert gc.get_freeze_count() == 0
    with _LongLivedHeap() as guard:
        guard.grew_to(10)
        assert gc.get_freeze_count() == 0  # small searches are left alone
        guard.grew_to(_LongLivedHeap.FIRST_FREEZE_AT)
        assert gc.get_freeze_count() > 0
        assert guard.next_freeze == 2 * _LongLivedHeap.FIRST_FREEZE_AT
    assert gc.get_freeze_count() == 0
