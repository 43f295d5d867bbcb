"""Property-based tests on random search graphs and random goal trees (hypothesis)."""

from __future__ import annotations

from collections import deque
from typing import cast

from hypothesis import given, settings
from hypothesis import strategies as st
from search_testkit import FINISHED, DictEnv, ScriptedGenerator, theorem

from lean_env.backends.replay import flatten_proof
from lean_env.types import LeanError
from search import BestFirstSearch, Budget, Scoring, SearchConfig, SearchStatus
from search.proof_script import ProofStep, goal_tree, proof_script

# An outcome: ("state", j) leads to state j, ("error",) fails, ("finish",) closes the proof.
# States are drawn far more often than failures, so states are reached by several paths (dedup,
# improvements of open states, cycles) in most examples.
outcome = st.one_of(
    st.tuples(st.just("state"), st.integers(0, 11)),
    st.tuples(st.just("state"), st.integers(0, 11)),
    st.tuples(st.just("state"), st.integers(0, 11)),
    st.tuples(st.just("error")),
    st.tuples(st.just("finish")),
)
candidate = st.tuples(st.floats(-6.0, 0.0, allow_nan=False), st.integers(1, 6), outcome)
graph_spec = st.lists(st.lists(candidate, max_size=5), min_size=1, max_size=12)


def _pp(i: int) -> str:
    return f"h : P{i}\n⊢ Q {i}"


def _build(spec: list[list[tuple[float, int, tuple[object, ...]]]], finish_weight: int):
    n = len(spec)
    transitions: dict[tuple[str, str], object] = {}
    proposals: dict[str, list[tuple[str, float, int]]] = {}
    finishing: set[int] = set()
    edges: dict[int, list[int]] = {i: [] for i in range(n)}
    for i, cands in enumerate(spec):
        props = []
        for c, (lp, toks, out) in enumerate(cands):
            tactic = f"tac{i}_{c}"
            props.append((tactic, lp, toks))
            if out[0] == "state":
                j = int(out[1]) % n  # type: ignore[call-overload]
                transitions[(_pp(i), tactic)] = _pp(j)
                edges[i].append(j)
            elif out[0] == "finish" and (i + c) % finish_weight == 0:
                transitions[(_pp(i), tactic)] = FINISHED
                finishing.add(i)
            else:
                transitions[(_pp(i), tactic)] = LeanError(f"error at {i}/{c}")
        proposals[_pp(i)] = props
    return transitions, proposals, finishing, edges


def _reachable(edges: dict[int, list[int]]) -> set[int]:
    seen, todo = {0}, deque([0])
    while todo:
        for j in edges[todo.popleft()]:
            if j not in seen:
                seen.add(j)
                todo.append(j)
    return seen


@settings(max_examples=250, deadline=None)
@given(
    spec=graph_spec,
    finish_weight=st.integers(1, 6),
    scoring=st.sampled_from(list(Scoring)),
    batch=st.integers(1, 4),
    max_expansions=st.one_of(st.none(), st.integers(1, 8)),
)
def test_random_graphs(spec, finish_weight, scoring, batch, max_expansions) -> None:
    transitions, proposals, finishing, edges = _build(spec, finish_weight)
    env = DictEnv(root=_pp(0), transitions=transitions)
    gen = ScriptedGenerator(proposals)
    config = SearchConfig(
        num_tactics=5,
        scoring=scoring,
        expansion_batch=batch,
        budget=Budget(time_s=None, max_expansions=max_expansions),
    )
    result = BestFirstSearch(env, gen, config).search(theorem())

    # No state is ever expanded twice.
    expanded = [s for b in gen.batches for s in b]
    assert len(expanded) == len(set(expanded))
    assert result.stats.expansions == len(expanded)
    assert result.stats.lean_calls == len(env.calls)
    if max_expansions is not None:
        assert result.stats.expansions <= max_expansions

    if result.status is SearchStatus.PROVED:
        # The proof is a path of successful tactics from the root to "no goals".
        state = _pp(0)
        for k, tactic in enumerate(result.tactics):
            out = transitions[(state, tactic)]
            if k == len(result.tactics) - 1:
                assert out == FINISHED
            else:
                assert isinstance(out, str)
                state = out
        assert flatten_proof(result.proof or "") == list(result.tactics)
        g = result.tree
        assert g is not None
        on_path = [(u, v) for u, v, a in g.edges(data=True) if a.get("on_proof_path")]
        assert len(on_path) == len(result.tactics)
    elif result.status is SearchStatus.FAILED_EXHAUSTED:
        # Exhaustion means every reachable state was expanded and none could be finished.
        reachable = _reachable(edges)
        assert not (reachable & finishing)
        assert set(expanded) == {_pp(i) for i in reachable}
    else:
        assert result.status is SearchStatus.FAILED_EXPANSIONS
        assert result.stats.expansions == max_expansions


@st.composite
def goal_trees(draw: st.DrawFn, depth: int = 0) -> tuple[str, list[object]]:
    """A random proof: a tactic for a goal and the proofs of the subgoals it creates."""
    n_children = draw(st.integers(0, 0 if depth >= 3 else 3))
    return ("t", [draw(goal_trees(depth + 1)) for _ in range(n_children)])


def _linearise(roots: list[tuple[str, list[object]]]) -> list[ProofStep]:
    """Run the proof depth-first on the main goal, as the search does, recording goal lists."""
    counter = iter(range(10_000))
    goals: list[tuple[str, tuple[str, list[object]]]] = [(f"⊢ g{next(counter)}", r) for r in roots]
    steps = []
    while goals:
        (name, (_, children)), rest = goals[0], goals[1:]
        new = [(f"⊢ g{next(counter)}", cast(tuple[str, list[object]], c)) for c in children]
        after = new + rest
        steps.append(ProofStep(f"tac_for {name[2:]}", tuple(g for g, _ in goals), tuple(g for g, _ in after)))
        goals = after
    return steps


@settings(max_examples=200, deadline=None)
@given(root=goal_trees())
def test_random_goal_trees_render_with_structure(root) -> None:
    steps = _linearise([root])
    assert goal_tree(steps) is not None
    script = proof_script(steps)
    assert flatten_proof(script) == [s.tactic for s in steps]
    # Bullets appear exactly for goals created alongside a sibling.
    lines = script.split("\n")
    bullets = sum(1 for ln in lines if ln.lstrip().startswith("· "))
    expected = sum(
        len(s.goals_after) - len(s.goals_before) + 1 for s in steps if len(s.goals_after) - len(s.goals_before) + 1 >= 2
    )
    assert bullets == expected
