"""Best-first proof search (ReProver / Llemma style) over any `lean_env` Env and tactic generator.

Loop: pop the best open state(s), ask the generator for k tactics per state in one call, run each
tactic in Lean, add the resulting states to the frontier. States are deduplicated by their
pretty-printed goals; a state reached again by a better path before its expansion takes the better
priority (lazy deletion in the heap), and no state is ever expanded twice.

Budgets are checked before every expansion round and before every Lean call, so the search stops
within one tactic of the wall-clock limit; a proof found by the call that exhausts a budget is still
reported. Nothing here raises for a failing theorem, model or Lean: every outcome is a SearchResult.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx

from lean_env.types import (
    NO_GOALS,
    Env,
    LeanError,
    ProofFinished,
    ProofGivenUp,
    ProofState,
    StateResult,
    TacticResult,
    TacticTimeout,
    Theorem,
    split_goals,
)
from search import tree as T
from search.proof_script import ProofStep, proof_script
from search.scoring import candidate_score
from search.types import (
    Candidate,
    GenRequest,
    InformalContext,
    ProgressEvent,
    SearchConfig,
    SearchResult,
    SearchStats,
    SearchStatus,
    TacticGenerator,
    ValueFunction,
)

TacticCheck = Callable[[str], "str | None"]


def _default_tactic_check(allow_native_decide: bool = False) -> TacticCheck:
    """`lean_env.tactic_filter.check_tactic`, or a minimal stand-in while that module is missing."""
    try:
        from lean_env.tactic_filter import check_tactic
    except ImportError:  # pragma: no cover - only before lean_env.tactic_filter lands
        return _minimal_check

    def check(tactic: str) -> str | None:
        return check_tactic(tactic, allow_native_decide=allow_native_decide)

    return check


_CHECK_MEMO_SIZE = 1 << 16


def _memoized(check: TacticCheck) -> TacticCheck:
    """Remember verdicts: a search proposes the same few tactics (`simp`, `linarith`, ...) in many
    states, and the filter, a pure function of the text, runs the Lean lexer each time."""
    memo: dict[str, str | None] = {}

    def cached(tactic: str) -> str | None:
        try:
            return memo[tactic]
        except KeyError:
            pass
        if len(memo) >= _CHECK_MEMO_SIZE:
            memo.clear()
        verdict = memo[tactic] = check(tactic)
        return verdict

    return cached


def _minimal_check(tactic: str) -> str | None:
    words = set(tactic.replace("(", " ").replace(")", " ").replace(";", " ").split())
    for bad in ("sorry", "admit"):
        if bad in words:
            return f"tactic uses `{bad}`"
    return None


_ALT_KEYS = ("tactic", "logprob", "num_tokens", "score", "lean_time")


class _Stop(Exception):
    """Ends the search loop with a final status (internal control flow)."""

    def __init__(self, status: SearchStatus, message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True, eq=False)
class _Node:
    id: int
    state: ProofState
    depth: int
    score: float  # sum of candidate scores along the best known path
    value: float  # critic value (0 without a critic)
    priority: float
    parent: int  # best known parent (-1 for the root), for proof reconstruction
    tactic: str  # tactic of the edge from `parent`
    expanded: bool = False
    valued: bool = False


# One tried tactic: (source node, target node or -1 for a dead/proved leaf, tactic, logprob, num_tokens,
# score, result, message, lean time). Flat tuples of atoms: the garbage collector stops tracking them,
# so a large tree costs the collector little until it becomes a graph at the end of the search.
_EdgeRecord = tuple[int, int, str, float, int, float, str, str, float]


class BestFirstSearch:
    """Best-first search for one theorem at a time; `search` may be called repeatedly.

    `tactic_check` refuses tactics before Lean sees them (default: `lean_env.tactic_filter`);
    `clock` is injectable so budgets can be tested deterministically.
    """

    def __init__(
        self,
        env: Env,
        generator: TacticGenerator,
        config: SearchConfig | None = None,
        value_fn: ValueFunction | None = None,
        on_progress: Callable[[ProgressEvent], None] | None = None,
        *,
        tactic_check: TacticCheck | None = None,
        allow_native_decide: bool = False,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.env = env
        self.generator = generator
        self.config = config if config is not None else SearchConfig()
        if self.config.num_tactics < 1:
            raise ValueError(f"num_tactics must be at least 1, got {self.config.num_tactics}")
        if self.config.expansion_batch < 1:
            raise ValueError(f"expansion_batch must be at least 1, got {self.config.expansion_batch}")
        if value_fn is not None and self.config.value_weight == 0:
            raise ValueError("a value_fn has no effect with SearchConfig.value_weight == 0; set a weight")
        self.value_fn = value_fn
        self.on_progress = on_progress
        self.tactic_check = _memoized(
            tactic_check if tactic_check is not None else _default_tactic_check(allow_native_decide)
        )
        self.clock = clock

    def search(self, theorem: Theorem, context: InformalContext | None = None) -> SearchResult:
        return _Run(self, theorem, context).execute()


class _Run:
    """The state of one search: frontier, nodes, tried tactics, counters.

    The search keeps compact records while it runs and builds the networkx tree once, at the end
    (whatever the outcome), which keeps the per-expansion overhead flat as the tree grows.
    """

    def __init__(self, owner: BestFirstSearch, theorem: Theorem, context: InformalContext | None) -> None:
        self.env = owner.env
        self.generator = owner.generator
        self.config = owner.config
        self.budget = owner.config.budget
        self.scoring = owner.config.scoring
        self.value_fn = owner.value_fn
        self.value_weight = owner.config.value_weight
        self.on_progress = owner.on_progress
        self.tactic_check = owner.tactic_check
        self.clock = owner.clock
        self.theorem = theorem
        self.context = context

        self.nodes: list[_Node] = []  # index = node id
        self.by_pp: dict[str, _Node] = {}
        self.edges: list[_EdgeRecord] = []
        self.heap: list[tuple[float, int, int]] = []  # (-priority, tie-break counter, node id)
        self.counter = 0
        self.expansions = 0
        self.lean_calls = 0
        self.model_time = 0.0
        self.lean_time = 0.0
        self.max_depth = 0
        self.t_start = 0.0
        self.deadline = math.inf
        self.proof_chain: list[_Node] | None = None  # root .. the node whose tactic finished the proof
        self.proof_edge = -1  # index in `edges` of the finishing tactic

    # ----------------------------------------------------------------- driver

    def execute(self) -> SearchResult:
        self.t_start = self.clock()
        try:
            root_state = self.env.start(self.theorem)
        except Exception as exc:  # a theorem that fails to start is a result, never a crash
            self.lean_time += self.clock() - self.t_start
            return self._result(SearchStatus.FAILED_START, f"theorem failed to start: {_describe(exc)}")
        now = self.clock()
        self.lean_time += now - self.t_start
        # The time budget covers the search, not the backend's start-up (imports may be shared or cached).
        if self.budget.time_s is not None:
            self.deadline = now + self.budget.time_s
        root = self._new_node(root_state, depth=0, score=0.0, parent=-1, tactic="")
        try:
            if self.value_fn is not None:
                self._assign_values([root])
            self._push(root)
            while True:
                self._round()
        except _Stop as stop:
            return self._result(stop.status, stop.message)

    def _round(self) -> None:
        """One expansion round: up to `expansion_batch` nodes share one generator call."""
        self._check_time(self.clock())
        max_exp = self.budget.max_expansions
        room = self.config.expansion_batch
        if max_exp is not None:
            if self.expansions >= max_exp:
                raise _Stop(SearchStatus.FAILED_EXPANSIONS, f"expansion budget of {max_exp} used up")
            room = min(room, max_exp - self.expansions)
        batch = self._pop(room)
        if not batch:
            raise _Stop(SearchStatus.FAILED_EXHAUSTED, "search exhausted: no open states left")
        for node in batch:
            node.expanded = True
        self.expansions += len(batch)

        candidates = self._generate(batch)
        fresh: dict[int, _Node] = {}  # new or improved open nodes, pushed once at the end of the round
        for node, cands in zip(batch, candidates, strict=True):
            self._try_candidates(node, cands, fresh)
        if fresh:
            if self.value_fn is not None:
                self._assign_values([n for n in fresh.values() if not n.valued])
            for n in fresh.values():
                n.priority = n.score + self.value_weight * n.value
                self._push(n)
        if self.on_progress is not None:
            self._progress()

    # -------------------------------------------------------------- frontier

    def _push(self, node: _Node) -> None:
        self.counter += 1
        heapq.heappush(self.heap, (-node.priority, self.counter, node.id))

    def _pop(self, count: int) -> list[_Node]:
        batch: list[_Node] = []
        heap, nodes = self.heap, self.nodes
        while heap and len(batch) < count:
            node = nodes[heapq.heappop(heap)[2]]
            # Lazy deletion: an improved node leaves its older, worse entry behind; skip it once expanded.
            if not node.expanded:
                batch.append(node)
        return batch

    # ------------------------------------------------------------- generator

    def _generate(self, batch: Sequence[_Node]) -> list[list[Candidate]]:
        requests = [GenRequest(state=n.state.pp, context=self.context, theorem_name=self.theorem.name) for n in batch]
        k = self.config.num_tactics
        t0 = self.clock()
        try:
            out = self.generator(requests, k)
        except Exception as exc:
            raise _Stop(SearchStatus.FAILED_ERROR, f"tactic generator failed: {_describe(exc)}") from None
        finally:
            self.model_time += self.clock() - t0
        if not isinstance(out, list) or len(out) != len(requests):
            got = len(out) if isinstance(out, list) else type(out).__name__
            raise _Stop(SearchStatus.FAILED_ERROR, f"tactic generator returned {got} lists for {len(requests)} states")
        for cands in out:
            if not isinstance(cands, list) or not all(isinstance(c, Candidate) for c in cands):
                raise _Stop(SearchStatus.FAILED_ERROR, "tactic generator returned something other than Candidate lists")
        return out

    def _assign_values(self, nodes: Sequence[_Node]) -> None:
        if not nodes or self.value_fn is None:
            return
        t0 = self.clock()
        try:
            values = list(self.value_fn([n.state.pp for n in nodes]))
        except Exception as exc:
            raise _Stop(SearchStatus.FAILED_ERROR, f"value function failed: {_describe(exc)}") from None
        finally:
            self.model_time += self.clock() - t0
        if len(values) != len(nodes):
            raise _Stop(
                SearchStatus.FAILED_ERROR, f"value function returned {len(values)} values for {len(nodes)} states"
            )
        for n, v in zip(nodes, values, strict=True):
            value = float(v)
            n.value = -math.inf if math.isnan(value) else value
            n.priority = n.score + self.value_weight * n.value
            n.valued = True

    # ------------------------------------------------------------------ Lean

    def _try_candidates(self, node: _Node, cands: Sequence[Candidate], fresh: dict[int, _Node]) -> None:
        tried: set[str] = set()
        for cand in cands[: self.config.num_tactics]:
            tactic = cand.tactic.strip()
            if tactic in tried:  # the generator repeated itself; Lean would give the same answer
                continue
            tried.add(tactic)
            score = candidate_score(cand, self.scoring)
            logprob = float(cand.logprob)
            refusal = self.tactic_check(tactic) if tactic else "empty tactic"
            if refusal is not None:
                self.edges.append(
                    (
                        node.id,
                        -1,
                        tactic,
                        logprob,
                        cand.num_tokens,
                        score,
                        T.RESULT_FILTERED,
                        f"refused: {refusal}",
                        0.0,
                    )
                )
                continue
            result, lean_time = self._run_tactic(node, tactic)
            if isinstance(result, StateResult):
                child = self._reach(node, result.state, tactic, score, fresh)
                self.edges.append(
                    (node.id, child, tactic, logprob, cand.num_tokens, score, T.RESULT_STATE, "", lean_time)
                )
                continue
            if isinstance(result, ProofFinished):
                kind, message = T.RESULT_PROOF_FINISHED, ""
            elif isinstance(result, LeanError):
                kind, message = T.RESULT_ERROR, result.message
            elif isinstance(result, TacticTimeout):
                kind, message = T.RESULT_TIMEOUT, f"tactic timed out after {result.seconds:g}s"
            elif isinstance(result, ProofGivenUp):
                kind, message = T.RESULT_GIVEN_UP, result.message
            else:
                raise _Stop(SearchStatus.FAILED_ERROR, f"Lean backend returned an unknown result: {result!r}")
            self.edges.append((node.id, -1, tactic, logprob, cand.num_tokens, score, kind, message, lean_time))
            if kind == T.RESULT_PROOF_FINISHED:
                self._finish(node)

    def _run_tactic(self, node: _Node, tactic: str) -> tuple[TacticResult, float]:
        t0 = self.clock()
        self._check_time(t0)
        max_calls = self.budget.max_lean_calls
        if max_calls is not None and self.lean_calls >= max_calls:
            raise _Stop(SearchStatus.FAILED_LEAN_CALLS, f"Lean call budget of {max_calls} used up")
        # Never let one tactic run far past the theorem's budget (the two limits stay separate settings).
        timeout = min(self.budget.tactic_timeout_s, self.deadline - t0)
        self.lean_calls += 1
        try:
            result = self.env.run_tactic(node.state, tactic, timeout=timeout)
        except Exception as exc:  # the backend could not recover (crash, protocol error)
            raise _Stop(SearchStatus.FAILED_ERROR, f"Lean failed while running {tactic!r}: {_describe(exc)}") from None
        finally:
            elapsed = self.clock() - t0
            self.lean_time += elapsed
        return result, elapsed

    def _reach(self, parent: _Node, state: ProofState, tactic: str, score: float, fresh: dict[int, _Node]) -> int:
        """The node for `state` reached from `parent`: new, or the existing one (improved if still open)."""
        path_score = parent.score + score
        depth = parent.depth + 1
        child = self.by_pp.get(state.pp)
        if child is None:
            child = self._new_node(state, depth=depth, score=path_score, parent=parent.id, tactic=tactic)
            fresh[child.id] = child
        # A better path to a state not yet expanded takes over; an expanded state is never revisited.
        elif not child.expanded and path_score > child.score:
            child.score = path_score
            child.depth = depth
            child.parent = parent.id
            child.tactic = tactic
            child.state = state  # keep the backend handle consistent with the path we will report
            if depth > self.max_depth:
                self.max_depth = depth
            fresh[child.id] = child
        return child.id

    def _finish(self, node: _Node) -> None:
        # Walk the best-parent pointers back to the root; they always form a chain of expanded nodes.
        chain = [node]
        while chain[-1].parent >= 0:
            chain.append(self.nodes[chain[-1].parent])
        chain.reverse()
        self.proof_chain = chain
        self.proof_edge = len(self.edges) - 1
        raise _Stop(SearchStatus.PROVED)

    def _new_node(self, state: ProofState, depth: int, score: float, parent: int, tactic: str) -> _Node:
        node = _Node(len(self.nodes), state, depth, score, 0.0, score, parent, tactic)
        self.nodes.append(node)
        self.by_pp[state.pp] = node
        if depth > self.max_depth:
            self.max_depth = depth
        return node

    # ---------------------------------------------------------------- budget

    def _check_time(self, now: float) -> None:
        if now >= self.deadline:
            raise _Stop(SearchStatus.FAILED_TIME, f"time budget of {self.budget.time_s:g}s used up")

    # ---------------------------------------------------------------- output

    def _progress(self) -> None:
        assert self.on_progress is not None
        self.on_progress(
            ProgressEvent(
                theorem_name=self.theorem.name,
                expansions=self.expansions,
                nodes=len(self.nodes),
                lean_calls=self.lean_calls,
                frontier=len(self.heap),
                max_depth=self.max_depth,
                elapsed_s=self.clock() - self.t_start,
            )
        )

    def _proof(self) -> tuple[str, tuple[str, ...]]:
        assert self.proof_chain is not None
        chain = self.proof_chain
        steps = [
            ProofStep(child.tactic, split_goals(parent.state.pp), split_goals(child.state.pp))
            for parent, child in zip(chain, chain[1:], strict=False)
        ]
        steps.append(ProofStep(self.edges[self.proof_edge][2], split_goals(chain[-1].state.pp), ()))
        return proof_script(steps), tuple(s.tactic for s in steps)

    def _build_graph(self, status: SearchStatus, message: str, stats: SearchStats) -> nx.DiGraph:
        g = nx.DiGraph(theorem=self.theorem.name, status=status.value, message=message)
        g.graph.update({f"stats_{k}": v for k, v in stats.to_dict().items()})
        g.add_nodes_from(
            (
                n.id,
                {
                    "pp": n.state.pp,
                    "status": T.EXPANDED if n.expanded else T.OPEN,
                    "priority": n.priority,
                    "score": n.score,
                    "value": n.value,
                    "depth": n.depth,
                },
            )
            for n in self.nodes
        )
        next_id = len(self.nodes)
        succ = g.succ
        for u, v, tactic, logprob, num_tokens, score, kind, message_, lean_time in self.edges:
            attrs: dict[str, Any] = {
                "tactic": tactic,
                "logprob": logprob,
                "num_tokens": num_tokens,
                "score": score,
                "result": kind,
                "message": message_,
                "lean_time": lean_time,
            }
            if v < 0:  # a leaf of its own: the failed tactic's dead end, or the proof's "no goals"
                v, next_id = next_id, next_id + 1
                if kind == T.RESULT_PROOF_FINISHED:
                    g.add_node(v, pp=NO_GOALS, status=T.PROVED, depth=self.nodes[u].depth + 1)
                else:
                    g.add_node(v, pp="", status=T.DEAD, message=message_, depth=self.nodes[u].depth + 1)
                g.add_edge(u, v, **attrs)
            elif v in succ[u]:
                # One edge per pair of states: the best-scoring tactic (first on ties, as for the best-parent
                # pointers) is the edge; the other tactics that led to the same state are listed with it.
                edge = succ[u][v]
                alternatives = edge.setdefault("alternatives", [])
                if score > edge["score"]:
                    alternatives.append({k: edge[k] for k in _ALT_KEYS})
                    edge.update(attrs)
                else:
                    alternatives.append({k: attrs[k] for k in _ALT_KEYS})
            else:
                g.add_edge(u, v, **attrs)
        if self.proof_chain is not None:
            chain = self.proof_chain
            for parent, child in zip(chain, chain[1:], strict=False):
                g.nodes[parent.id]["on_proof_path"] = True
                g.edges[parent.id, child.id]["on_proof_path"] = True
            leaf = next_id - 1 if self.edges[self.proof_edge][1] < 0 else -1
            g.nodes[chain[-1].id]["on_proof_path"] = True
            g.nodes[leaf]["on_proof_path"] = True
            g.edges[chain[-1].id, leaf]["on_proof_path"] = True
        return g

    def _result(self, status: SearchStatus, message: str) -> SearchResult:
        total = self.clock() - self.t_start
        stats = SearchStats(
            expansions=self.expansions,
            nodes=len(self.nodes),
            lean_calls=self.lean_calls,
            model_time_s=self.model_time,
            lean_time_s=self.lean_time,
            search_time_s=max(total - self.model_time - self.lean_time, 0.0),
            total_time_s=total,
            max_depth=self.max_depth,
        )
        proof: str | None = None
        tactics: tuple[str, ...] = ()
        if status is SearchStatus.PROVED:
            proof, tactics = self._proof()
        return SearchResult(
            theorem_name=self.theorem.name,
            status=status,
            proof=proof,
            tactics=tactics,
            stats=stats,
            message=message,
            tree=self._build_graph(status, message, stats),
        )


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
