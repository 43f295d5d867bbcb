"""The search tree: graph attributes, JSON round trip and GraphViz DOT export."""

from __future__ import annotations

import json
import math
from pathlib import Path

import networkx as nx
import pytest
from search_testkit import FINISHED, DictEnv, ScriptedGenerator, theorem

from lean_env.types import LeanError, ResultKind
from search import BestFirstSearch, Budget, SearchConfig, SearchStatus
from search import tree as T


def _searched_tree() -> nx.DiGraph:
    env = DictEnv(
        root='x : "quoted" \\ ℕ\n⊢ x = x',
        transitions={
            ('x : "quoted" \\ ℕ\n⊢ x = x', "rfl"): FINISHED,
            ('x : "quoted" \\ ℕ\n⊢ x = x', "bad"): LeanError('type mismatch\n  "h"'),
            ('x : "quoted" \\ ℕ\n⊢ x = x', "step"): "⊢ other",
        },
    )
    gen = ScriptedGenerator({'x : "quoted" \\ ℕ\n⊢ x = x': [("bad", -0.1), ("step", -0.2), ("rfl", -0.3)]})
    result = BestFirstSearch(env, gen, SearchConfig(budget=Budget(time_s=None))).search(theorem("tree"))
    assert result.status is SearchStatus.PROVED and result.tree is not None
    return result.tree


def test_tree_attributes() -> None:
    g = _searched_tree()
    assert g.nodes[0]["status"] == T.EXPANDED and g.nodes[0]["depth"] == 0 and g.nodes[0]["on_proof_path"]
    kinds = {a["tactic"]: (g.nodes[v]["status"], a["result"]) for _, v, a in g.edges(0, data=True)}
    assert kinds == {
        "bad": (T.DEAD, ResultKind.ERROR),
        "step": (T.OPEN, ResultKind.STATE),
        "rfl": (T.PROVED, ResultKind.FINISHED),
    }
    path = T.proof_path_edges(g)
    assert [a["tactic"] for _, _, a in path] == ["rfl"]
    for _, _, a in g.edges(data=True):
        assert {"tactic", "logprob", "score", "result", "message", "lean_time"} <= set(a)
    assert g.graph["status"] == "proved" and g.graph["theorem"] == "tree"


def test_json_round_trip() -> None:
    g = _searched_tree()
    text = T.to_json(g)
    back = T.from_json(text)
    assert list(back.nodes(data=True)) == list(g.nodes(data=True))
    assert list(back.edges(data=True)) == list(g.edges(data=True))
    assert back.graph == g.graph


def test_json_has_no_infinities() -> None:
    g = nx.DiGraph()
    g.add_node(0, pp="⊢ p", status=T.OPEN, priority=-math.inf)
    data = json.loads(T.to_json(g))
    assert data["nodes"][0]["priority"] is None


def test_from_json_rejects_other_documents() -> None:
    with pytest.raises(ValueError, match="not a search tree"):
        T.from_json('{"hello": 1}')


def test_dot_is_escaped_and_well_formed() -> None:
    g = _searched_tree()
    dot = T.to_dot(g)
    assert dot.startswith("digraph search {") and dot.rstrip().endswith("}")
    assert '\\"quoted\\" \\\\ ℕ\\l⊢ x = x' in dot
    # Every quoted string is closed on its own line: no raw newline or unescaped quote leaks out.
    for line in dot.splitlines()[4:-1]:
        body = line.replace("\\\\", "").replace('\\"', "")
        assert body.count('"') % 2 == 0, line
    assert "n0 -> " in dot and "penwidth=3" in dot


def test_write_tree_picks_format_by_suffix(tmp_path: Path) -> None:
    g = _searched_tree()
    dot = T.write_tree(g, tmp_path / "t.dot").read_text(encoding="utf-8")
    assert dot.startswith("digraph")
    js = T.write_tree(g, tmp_path / "t.json").read_text(encoding="utf-8")
    assert T.from_json(js).number_of_nodes() == g.number_of_nodes()


def test_fast_graph_build_matches_the_public_api() -> None:
    nodes = {0: {"pp": "a"}, 1: {"pp": "b"}, 2: {"pp": "c"}}
    succ = {0: {1: {"tactic": "x"}, 2: {"tactic": "y"}}, 1: {2: {"tactic": "z"}, 0: {"tactic": "back"}}, 2: {}}
    fast = T.digraph_from_adjacency(nodes, succ, theorem="t")
    slow = nx.DiGraph(theorem="t")
    slow.add_nodes_from(nodes.items())
    slow.add_edges_from((u, v, d) for u, nbrs in succ.items() for v, d in nbrs.items())
    assert nx.utils.graphs_equal(fast, slow)
    assert dict(fast.in_degree()) == {0: 1, 1: 1, 2: 2}
    assert set(fast.predecessors(2)) == {0, 1}
    assert nx.descendants(fast, 1) == {0, 2}
    assert fast.edges[1, 2] is fast.pred[2][1]  # one attribute dict shared by both directions


def test_a_version_1_export_reads_with_todays_result_names() -> None:
    # Version 1 (before the one tactic-outcome vocabulary) wrote `proof_finished` and `filtered`.
    v1 = {
        "format": 1,
        "graph": {},
        "nodes": [{"id": 0, "status": "expanded"}, {"id": 1, "status": "proved"}, {"id": 2, "status": "dead"}],
        "edges": [
            {"source": 0, "target": 1, "tactic": "simp", "result": "proof_finished"},
            {"source": 0, "target": 2, "tactic": "sorry", "result": "filtered"},
        ],
    }
    g = T.from_json(json.dumps(v1))
    assert [g.edges[0, 1]["result"], g.edges[0, 2]["result"]] == ["finished", "refused"]
    with pytest.raises(ValueError, match="newer than this reader"):
        T.from_json(json.dumps({**v1, "format": T.FORMAT_VERSION + 1}))
