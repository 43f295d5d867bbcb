"""The search tree as a networkx DiGraph, and its JSON and GraphViz DOT exports.

Nodes are proof states (attrs: pp, status, priority, score, depth, on_proof_path) plus one leaf per
failed tactic (status "dead", its pp empty) and one "proved" leaf for a finished proof. Edges are
tactics (attrs: tactic, logprob, num_tokens, score, result, message, lean_time, on_proof_path).
Because states are deduplicated, a state may have several parents, and a tactic leading back to an
earlier state makes a cycle; the proof path is marked with `on_proof_path`.

networkx is imported only where a graph is made, so `import search` stays fast for the CLI.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lean_env.types import ResultKind

if TYPE_CHECKING:
    import networkx as nx

# Node statuses.
OPEN = "open"  # found, waiting in the frontier
EXPANDED = "expanded"  # tactics were generated for it
PROVED = "proved"  # the "no goals" leaf of a finished proof
DEAD = "dead"  # leaf standing for a failed tactic (error, timeout, sorry, refused)

# Edge results are `lean_env.types.ResultKind`s (a tactic the filter refused: `ResultKind.REFUSED`).
# Version 2 writes them by that one name: `finished` and `refused` (version 1: `proof_finished`, `filtered`).
FORMAT_VERSION = 2
# What version 1 called the edge results that version 2 names by their `ResultKind`.
_V1_RESULTS = {"proof_finished": ResultKind.FINISHED.value, "filtered": ResultKind.REFUSED.value}


def digraph_from_adjacency(
    nodes: dict[int, dict[str, Any]], succ: dict[int, dict[int, dict[str, Any]]], **graph_attrs: Any
) -> nx.DiGraph:
    """A DiGraph from node attribute dicts and a successor map (every node a key of `succ`).

    networkx's add_node/add_edge cost about 5 us per node and edge, which would dominate the search's
    own bookkeeping on large trees; filling the dict-of-dicts store that networkx documents for
    subclasses (`_node`, `_succ`, `_pred`) is about 7x faster. The attribute dicts are shared, not copied.
    """
    import networkx as nx

    g = nx.DiGraph(**graph_attrs)
    store = (getattr(g, "_node", None), getattr(g, "_succ", None), getattr(g, "_pred", None))
    if not all(isinstance(part, dict) for part in store) or set(succ) != set(nodes):
        g.add_nodes_from(nodes.items())
        g.add_edges_from((u, v, d) for u, nbrs in succ.items() for v, d in nbrs.items())
        return g
    pred: dict[int, dict[int, dict[str, Any]]] = {n: {} for n in nodes}
    for u, nbrs in succ.items():
        for v, d in nbrs.items():
            pred[v][u] = d
    g._node.update(nodes)
    g._succ.update(succ)
    g._pred.update(pred)
    return g


def _jsonable(value: Any) -> Any:
    # JSON has no infinities: a -inf priority (a NaN/-inf logprob) is written as null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_dict(g: nx.DiGraph) -> dict[str, Any]:
    """A plain, JSON-ready description of the tree: graph attrs, nodes, edges."""
    return {
        "format": FORMAT_VERSION,
        "graph": {k: _jsonable(v) for k, v in g.graph.items()},
        "nodes": [{"id": n, **{k: _jsonable(v) for k, v in attrs.items()}} for n, attrs in g.nodes(data=True)],
        "edges": [
            {"source": u, "target": v, **{k: _jsonable(x) for k, x in attrs.items()}}
            for u, v, attrs in g.edges(data=True)
        ],
    }


def to_json(g: nx.DiGraph, indent: int | None = None) -> str:
    return json.dumps(to_dict(g), ensure_ascii=False, indent=indent, allow_nan=False)


def from_json(text: str) -> nx.DiGraph:
    """Rebuild a tree written by `to_json` (node ids, attributes and edge order preserved).

    Public API for readers of `--tree-dir` exports (tests use it to check what was written). A version-1
    export reads with its edge results renamed to version 2's (`proof_finished` → `finished`, `filtered` →
    `refused`), so trees written before the rename still load as today's."""
    data = json.loads(text)
    if not isinstance(data, dict) or "nodes" not in data or "edges" not in data:
        raise ValueError("not a search tree: expected an object with 'nodes' and 'edges'")
    version = data.get("format", 1)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(f"search tree format {version!r} is newer than this reader ({FORMAT_VERSION})")
    import networkx as nx

    g = nx.DiGraph()
    g.graph.update(data.get("graph", {}))
    for node in data["nodes"]:
        attrs = dict(node)
        g.add_node(attrs.pop("id"), **attrs)
    for edge in data["edges"]:
        attrs = dict(edge)
        if version == 1 and attrs.get("result") in _V1_RESULTS:
            attrs["result"] = _V1_RESULTS[attrs["result"]]
        g.add_edge(attrs.pop("source"), attrs.pop("target"), **attrs)
    return g


def dot_escape(text: str) -> str:
    """Escape text for a double-quoted DOT string; newlines become left-justified line breaks."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "\\l")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_NODE_STYLE = {
    OPEN: 'shape=box, style="rounded", color="gray40"',
    EXPANDED: 'shape=box, style="rounded,filled", fillcolor="lightblue"',
    PROVED: 'shape=doublecircle, style="filled", fillcolor="palegreen"',
    DEAD: 'shape=box, style="filled", fillcolor="mistyrose", fontsize=9',
}


def to_dot(g: nx.DiGraph, label_limit: int = 300) -> str:
    """GraphViz DOT text: states as boxes (blue expanded, grey open), failed tactics red, the proof bold green."""
    out = ["digraph search {", "  rankdir=TB;", '  node [fontname="monospace"];', '  edge [fontname="monospace"];']
    for n, attrs in g.nodes(data=True):
        status = str(attrs.get("status", OPEN))
        if status == DEAD:
            label = _short(str(attrs.get("message", "")), label_limit)
        else:
            label = _short(str(attrs.get("pp", "")), label_limit)
            if status != PROVED:
                prio = attrs.get("priority")
                label = f"#{n} depth {attrs.get('depth', '?')} prio {_fmt(prio)}\n{label}"
        style = _NODE_STYLE.get(status, "shape=box")
        extra = ', penwidth=3, color="darkgreen"' if attrs.get("on_proof_path") else ""
        out.append(f'  n{n} [label="{dot_escape(label)}\\l", {style}{extra}];')
    for u, v, attrs in g.edges(data=True):
        label = (
            f"{_short(str(attrs.get('tactic', '')), 80)}\n{attrs.get('result', '')} score {_fmt(attrs.get('score'))}"
        )
        extra = ', penwidth=3, color="darkgreen"' if attrs.get("on_proof_path") else ""
        if attrs.get("result") not in (ResultKind.STATE, ResultKind.FINISHED):
            extra += ', color="red3", fontcolor="red3"'
        out.append(f'  n{u} -> n{v} [label="{dot_escape(label)}\\l"{extra}];')
    out.append("}")
    return "\n".join(out) + "\n"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if math.isfinite(value) else str(value)
    return "?" if value is None else str(value)


def write_tree(g: nx.DiGraph, path: str | Path) -> Path:
    """Write the tree as DOT when `path` ends in .dot/.gv, else as JSON."""
    p = Path(path)
    text = to_dot(g) if p.suffix.lower() in (".dot", ".gv") else to_json(g, indent=1)
    p.write_text(text, encoding="utf-8")
    return p


def proof_path_edges(g: nx.DiGraph) -> list[tuple[int, int, dict[str, Any]]]:
    """The edges of the found proof, root first (empty when no proof was found)."""
    edges = [(u, v, a) for u, v, a in g.edges(data=True) if a.get("on_proof_path")]
    depth = {n: a.get("depth", 0) for n, a in g.nodes(data=True)}
    return sorted(edges, key=lambda e: depth.get(e[0], 0))
