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

import gc
import heapq
import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from lean_env.errors import BackendUnavailableError
from lean_env.types import (
    NO_GOALS,
    Env,
    LeanError,
    ProofFinished,
    ProofGivenUp,
    ProofState,
    ResultKind,
    StateResult,
    TacticResult,
    TacticTimeout,
    Theorem,
    split_goals,
)
from search import tree as T
from search.proof_script import ProofStep, proof_script
from search.types import (
    Candidate,
    GenRequest,
    InformalContext,
    ProgressEvent,
    Scoring,
    SearchConfig,
    SearchResult,
    SearchStats,
    SearchStatus,
    TacticGenerator,
    ValueFunction,
)

if TYPE_CHECKING:
    import networkx as nx

TacticCheck = Callable[[str], "str | None"]


def _default_tactic_check(allow_native_decide: bool = False) -> TacticCheck:
    """`lean_env.checks.tactic_filter.check_tactic` for one search: its fast path, then remembered verdicts."""
    from lean_env.checks.tactic_filter import make_checker

    return make_checker(allow_native_decide)


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


_ALT_KEYS = ("tactic", "logprob", "num_tokens", "score", "lean_time")


class _Stop(Exception):
    """Ends the search loop with a final status (internal control flow)."""

    def __init__(self, status: SearchStatus, message: str = "", cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.cause = cause


class _Nodes:
    """The proof states found so far, one column per attribute, indexed by node id.

    Parallel lists of numbers and strings rather than one object per node: the garbage collector
    then tracks only the backend's ProofState of each open state (expanded ones are released), which
    keeps its pauses, and so the search's overhead per expansion, low as the tree grows.
    """

    __slots__ = ("state", "pp", "depth", "score", "value", "priority", "parent", "tactic", "expanded")

    def __init__(self) -> None:
        self.state: list[ProofState | None] = []  # the backend's state (None once expanded)
        self.pp: list[str] = []
        self.depth: list[int] = []
        self.score: list[float] = []  # sum of candidate scores along the best known path
        self.value: dict[int, float] = {}  # critic value of the nodes valued so far (0 for the others)
        self.priority: list[float] = []
        self.parent: list[int] = []  # best known parent (-1 for the root), for proof reconstruction
        self.tactic: list[str] = []  # tactic of the edge from `parent`
        self.expanded = bytearray()

    def add(self, state: ProofState, depth: int, score: float, parent: int, tactic: str) -> int:
        self.state.append(state)
        self.pp.append(state.pp)
        self.depth.append(depth)
        self.score.append(score)
        self.priority.append(score)
        self.parent.append(parent)
        self.tactic.append(tactic)
        self.expanded.append(0)
        return len(self.pp) - 1

    def __len__(self) -> int:
        return len(self.pp)

    def path_to(self, node: int) -> list[int]:
        """Node ids from the root to `node` along best-parent pointers (always a chain of expanded nodes)."""
        chain = [node]
        while self.parent[chain[-1]] >= 0:
            chain.append(self.parent[chain[-1]])
        chain.reverse()
        return chain


# One tried tactic: (source node, target node or -1 for a dead/proved leaf, tactic, logprob, num_tokens,
# score, result, message, lean time). Flat tuples of atoms, which the garbage collector stops tracking.
_EdgeRecord = tuple[int, int, str, float, int, float, str, str, float]


class BestFirstSearch:
    """Best-first search for one theorem at a time; `search` may be called repeatedly.

    `tactic_check` refuses tactics before Lean sees them (default: `lean_env.checks.tactic_filter`);
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
        # A given check is remembered per text; the default one remembers what its fast path cannot decide.
        self.tactic_check = (
            _memoized(tactic_check) if tactic_check is not None else _default_tactic_check(allow_native_decide)
        )
        self.clock = clock

    def search(self, theorem: Theorem, context: InformalContext | None = None) -> SearchResult:
        return _Run(self, theorem, context).execute()


class _Run:
    """The state of one search: frontier, nodes, tried tactics, counters.

    The search keeps compact records while it runs and builds the networkx tree once, at the end
    (whatever the outcome): cheaper than updating a DiGraph on every step.
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

        self.nodes = _Nodes()
        self.by_pp: dict[str, int] = {}
        self.edges: list[_EdgeRecord] = []
        # (-priority, node id): ids count up in discovery order, so ties pop first-found first.
        self.heap: list[tuple[float, int]] = []
        self.expansions = 0
        self.lean_calls = 0
        self.model_time = 0.0
        self.lean_time = 0.0
        self.max_depth = 0
        self.t_start = 0.0
        self.deadline = math.inf
        self.proof_chain: list[int] | None = None  # root .. the node whose tactic finished the proof

    # ----------------------------------------------------------------- driver

    def execute(self) -> SearchResult:
        self.t_start = self.clock()
        try:
            root_state = self.env.start(self.theorem)
        except BackendUnavailableError:  # the backend, not this theorem: the caller stops
            raise
        except Exception as exc:  # a theorem that fails to start is a result, never a crash
            self.lean_time += self.clock() - self.t_start
            return self._result(SearchStatus.FAILED_START, f"theorem failed to start: {_describe(exc)}", exc)
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
            with _LongLivedHeap() as heap_guard:
                while True:
                    self._round()
                    heap_guard.grew_to(len(self.nodes.pp))
        except _Stop as stop:
            return self._result(stop.status, stop.message, stop.cause)

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
            self.nodes.expanded[node] = 1
        self.expansions += len(batch)

        candidates = self._generate(batch)
        fresh: dict[int, None] = {}  # new or improved open nodes, in order, pushed at the end of the round
        for node, cands in zip(batch, candidates, strict=True):
            self._try_candidates(node, cands, fresh)
            # Lean never resumes from an expanded state again: let the backend's state object go.
            self.nodes.state[node] = None
        if fresh:
            nodes = self.nodes
            if self.value_fn is not None:
                self._assign_values([n for n in fresh if n not in nodes.value])
            for n in fresh:
                nodes.priority[n] = nodes.score[n] + self.value_weight * nodes.value.get(n, 0.0)
                self._push(n)
        if self.on_progress is not None:
            self._progress()

    # -------------------------------------------------------------- frontier

    def _push(self, node: int) -> None:
        heapq.heappush(self.heap, (-self.nodes.priority[node], node))

    def _pop(self, count: int) -> list[int]:
        batch: list[int] = []
        heap, expanded = self.heap, self.nodes.expanded
        while heap and len(batch) < count:
            node = heapq.heappop(heap)[1]
            # Lazy deletion: an improved node leaves its older, worse entry behind; skip it once expanded.
            if not expanded[node] and node not in batch:
                batch.append(node)
        return batch

    # ------------------------------------------------------------- generator

    def _generate(self, batch: Sequence[int]) -> list[list[Candidate]]:
        pp, name, context = self.nodes.pp, self.theorem.name, self.context
        requests = [
            GenRequest(state=pp[n], context=context, theorem_name=name, proof_before=self._tactics_to(n)) for n in batch
        ]
        k = self.config.num_tactics
        t0 = self.clock()
        try:
            out = self.generator(requests, k)
        except Exception as exc:
            raise _Stop(SearchStatus.FAILED_ERROR, f"tactic generator failed: {_describe(exc)}", exc) from None
        finally:
            self.model_time += self.clock() - t0
        if not isinstance(out, list) or len(out) != len(requests):
            got = len(out) if isinstance(out, list) else type(out).__name__
            raise _Stop(SearchStatus.FAILED_ERROR, f"tactic generator returned {got} lists for {len(requests)} states")
        for cands in out:
            if not isinstance(cands, list) or not all(isinstance(c, Candidate) for c in cands):
                raise _Stop(SearchStatus.FAILED_ERROR, "tactic generator returned something other than Candidate lists")
        return out

    def _tactics_to(self, node: int) -> tuple[str, ...]:
        """The tactics along the best known path from the root to `node`."""
        tactic = self.nodes.tactic
        return tuple(tactic[n] for n in self.nodes.path_to(node)[1:])

    def _assign_values(self, batch: Sequence[int]) -> None:
        if not batch or self.value_fn is None:
            return
        nodes = self.nodes
        t0 = self.clock()
        try:
            values = list(self.value_fn([nodes.pp[n] for n in batch]))
        except Exception as exc:
            raise _Stop(SearchStatus.FAILED_ERROR, f"value function failed: {_describe(exc)}", exc) from None
        finally:
            self.model_time += self.clock() - t0
        if len(values) != len(batch):
            raise _Stop(
                SearchStatus.FAILED_ERROR, f"value function returned {len(values)} values for {len(batch)} states"
            )
        for n, v in zip(batch, values, strict=True):
            value = float(v)
            nodes.value[n] = -math.inf if math.isnan(value) else value
            nodes.priority[n] = nodes.score[n] + self.value_weight * nodes.value[n]

    # ------------------------------------------------------------------ Lean

    def _try_candidates(self, node: int, cands: Sequence[Candidate], fresh: dict[int, None]) -> None:
        # Every tactic of every expansion passes through this loop: attributes are read into locals once
        # per node and the Lean call is made inline.
        tried: set[str] = set()
        edges_append = self.edges.append
        check, clock, run = self.tactic_check, self.clock, self.env.run_tactic
        max_calls, tactic_timeout = self.budget.max_lean_calls, self.budget.tactic_timeout_s
        nodes, by_pp = self.nodes, self.by_pp
        state = nodes.state[node]
        assert state is not None, "a node's state is released only after its expansion"
        per_token = self.scoring is not Scoring.SUM_LOGPROB
        child_depth, parent_score = nodes.depth[node] + 1, nodes.score[node]
        for cand in cands[: self.config.num_tactics]:
            tactic = cand.tactic.strip()
            if tactic in tried:  # the generator repeated itself; Lean would give the same answer
                continue
            tried.add(tactic)
            logprob, num_tokens = float(cand.logprob), cand.num_tokens
            # `search.scoring.candidate_score`, inlined (tests/test_search_fast_paths.py checks they agree);
            # a NaN from a broken model ranks last.
            score = -math.inf if logprob != logprob else (logprob / max(int(num_tokens), 1) if per_token else logprob)
            refusal = check(tactic) if tactic else "empty tactic"
            if refusal is not None:
                edges_append(
                    (node, -1, tactic, logprob, num_tokens, score, ResultKind.REFUSED, f"refused: {refusal}", 0.0)
                )
                continue
            # The Lean call: budgets first (within one tactic of the wall-clock limit), then the backend.
            t0 = clock()
            if t0 >= self.deadline:
                self._check_time(t0)
            if max_calls is not None and self.lean_calls >= max_calls:
                raise _Stop(SearchStatus.FAILED_LEAN_CALLS, f"Lean call budget of {max_calls} used up")
            self.lean_calls += 1
            try:
                # Never let one tactic run far past the theorem's budget (the two limits stay separate settings).
                result = run(state, tactic, timeout=min(tactic_timeout, self.deadline - t0))
            except Exception as exc:  # the backend could not recover (crash, protocol error)
                self.lean_time += clock() - t0
                raise _Stop(
                    SearchStatus.FAILED_ERROR, f"Lean failed while running {tactic!r}: {_describe(exc)}", exc
                ) from None
            lean_time = clock() - t0
            self.lean_time += lean_time
            if isinstance(result, StateResult | ProofFinished) and result.replacement:
                # `exact?` and kin: the written proof holds the stable form Lean suggested.
                tactic = result.replacement
            if isinstance(result, StateResult):
                reached = result.state
                pp = reached.pp
                if pp.strip() != NO_GOALS:
                    child = by_pp.get(pp, -1)
                    if child < 0:  # a new state (the common case): `_new_node`, inlined
                        child = len(nodes.pp)
                        nodes.state.append(reached)
                        nodes.pp.append(pp)
                        nodes.depth.append(child_depth)
                        nodes.score.append(parent_score + score)
                        nodes.priority.append(parent_score + score)
                        nodes.parent.append(node)
                        nodes.tactic.append(tactic)
                        nodes.expanded.append(0)
                        by_pp[pp] = child
                        fresh[child] = None
                        if child_depth > self.max_depth:
                            self.max_depth = child_depth
                    else:
                        child = self._reach(node, reached, tactic, score, fresh)
                    edges_append((node, child, tactic, logprob, num_tokens, score, ResultKind.STATE, "", lean_time))
                    continue
                # LeanDojo's convention for a finished proof; some backends may report it as a state.
                result = ProofFinished(reached.handle)
            self._record_leaf(node, tactic, logprob, num_tokens, score, result, lean_time)

    def _record_leaf(
        self,
        node: int,
        tactic: str,
        logprob: float,
        num_tokens: int,
        score: float,
        result: TacticResult,
        lean_time: float,
    ) -> None:
        """Record a tactic that reached no new state (finished, failed, timed out); stop the search if it proved."""
        if isinstance(result, ProofFinished):
            message = ""
        elif isinstance(result, LeanError | ProofGivenUp):
            message = result.message
        elif isinstance(result, TacticTimeout):
            message = f"tactic timed out after {result.seconds:g}s"
        else:
            raise _Stop(SearchStatus.FAILED_ERROR, f"Lean backend returned an unknown result: {result!r}")
        kind = result.kind
        self.edges.append((node, -1, tactic, logprob, num_tokens, score, kind, message, lean_time))
        if kind == ResultKind.FINISHED:
            self.proof_chain = self.nodes.path_to(node)
            raise _Stop(SearchStatus.PROVED)

    def _reach(self, parent: int, state: ProofState, tactic: str, score: float, fresh: dict[int, None]) -> int:
        """The node for `state` reached from `parent`: new, or the existing one (improved if still open)."""
        nodes = self.nodes
        path_score = nodes.score[parent] + score
        depth = nodes.depth[parent] + 1
        child = self.by_pp.get(state.pp)
        if child is None:
            child = self._new_node(state, depth=depth, score=path_score, parent=parent, tactic=tactic)
            fresh[child] = None
        # A better path to a state not yet expanded takes over; an expanded state is never revisited.
        elif not nodes.expanded[child] and path_score > nodes.score[child]:
            nodes.score[child] = path_score
            nodes.depth[child] = depth
            nodes.parent[child] = parent
            nodes.tactic[child] = tactic
            nodes.state[child] = state  # keep the backend handle consistent with the path we will report
            self.max_depth = max(self.max_depth, depth)
            fresh[child] = None
        return child

    def _new_node(self, state: ProofState, depth: int, score: float, parent: int, tactic: str) -> int:
        node = self.nodes.add(state, depth, score, parent, tactic)
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

    def _proof(self, chain: list[int]) -> tuple[str, tuple[str, ...]]:
        nodes = self.nodes
        steps = [
            ProofStep(nodes.tactic[child], split_goals(nodes.pp[parent]), split_goals(nodes.pp[child]))
            for parent, child in zip(chain, chain[1:], strict=False)
        ]
        # The finishing tactic is the last one tried.
        steps.append(ProofStep(self.edges[-1][2], split_goals(nodes.pp[chain[-1]]), ()))
        return proof_script(steps), tuple(s.tactic for s in steps)

    def _result(self, status: SearchStatus, message: str, cause: BaseException | None = None) -> SearchResult:
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
        if status is SearchStatus.PROVED and self.proof_chain is not None:
            proof, tactics = self._proof(self.proof_chain)
        records = _TreeRecords(
            self.nodes,
            self.edges,
            self.proof_chain,
            self.theorem.name,
            self.value_fn is not None,
            status,
            message,
            stats,
        )
        # The open states' backend objects and the lookup tables are not needed for the tree: let them go now.
        self.nodes.state = []
        self.by_pp, self.heap = {}, []
        return SearchResult(
            theorem_name=self.theorem.name,
            status=status,
            proof=proof,
            tactics=tactics,
            stats=stats,
            message=message,
            tree_builder=records.build,
            cause=cause,
        )


class _TreeRecords:
    """What a finished search keeps to build its networkx tree on demand (`SearchResult.tree`)."""

    def __init__(
        self,
        nodes: _Nodes,
        edges: list[_EdgeRecord],
        proof_chain: list[int] | None,
        theorem_name: str,
        valued: bool,
        status: SearchStatus,
        message: str,
        stats: SearchStats,
    ) -> None:
        self.nodes = nodes
        self.edges = edges
        self.proof_chain = proof_chain
        self.theorem_name = theorem_name
        self.valued = valued
        self.status = status
        self.message = message
        self.stats = stats

    def build(self) -> nx.DiGraph:
        # The build allocates a few acyclic dicts per node and edge; collector passes triggered meanwhile
        # would only re-walk the tree being built (seconds on a 1e5-node tree), so pause it briefly.
        paused = gc.isenabled()
        gc.disable()
        try:
            return self._build()
        finally:
            if paused:
                gc.enable()

    def _build(self) -> nx.DiGraph:
        status, message, stats = self.status, self.message, self.stats
        n = self.nodes
        node_attrs: dict[int, dict[str, Any]] = {
            i: {
                "pp": n.pp[i],
                "status": T.EXPANDED if n.expanded[i] else T.OPEN,
                "priority": n.priority[i],
                "score": n.score[i],
                "depth": n.depth[i],
            }
            for i in range(len(n))
        }
        if self.valued:
            for i, node_dict in node_attrs.items():
                node_dict["value"] = n.value.get(i, 0.0)
        succ: dict[int, dict[int, dict[str, Any]]] = {i: {} for i in node_attrs}
        for u, v, tactic, logprob, num_tokens, score, kind, note, lean_time in self.edges:
            attrs: dict[str, Any] = {
                "tactic": tactic,
                "logprob": logprob,
                "num_tokens": num_tokens,
                "score": score,
                "result": kind,
                "message": note,
                "lean_time": lean_time,
            }
            out = succ[u]
            if v < 0:  # a leaf of its own: the failed tactic's dead end, or the proof's "no goals"
                v = len(node_attrs)
                depth = n.depth[u] + 1
                if kind == ResultKind.FINISHED:
                    node_attrs[v] = {"pp": NO_GOALS, "status": T.PROVED, "depth": depth}
                else:
                    node_attrs[v] = {"pp": "", "status": T.DEAD, "message": note, "depth": depth}
                succ[v] = {}
                out[v] = attrs
            elif v in out:
                # One edge per pair of states: the best-scoring tactic (first on ties, as for the best-parent
                # pointers) is the edge; the other tactics that led to the same state are listed with it.
                edge = out[v]
                alternatives = edge.setdefault("alternatives", [])
                if score > edge["score"]:
                    alternatives.append({k: edge[k] for k in _ALT_KEYS})
                    edge.update(attrs)
                else:
                    alternatives.append({k: attrs[k] for k in _ALT_KEYS})
            else:
                out[v] = attrs
        if self.proof_chain is not None:
            chain = self.proof_chain
            for parent, child in zip(chain, chain[1:], strict=False):
                node_attrs[parent]["on_proof_path"] = True
                succ[parent][child]["on_proof_path"] = True
            last, leaf = chain[-1], len(node_attrs) - 1  # the finishing tactic was the last one tried
            node_attrs[last]["on_proof_path"] = node_attrs[leaf]["on_proof_path"] = True
            succ[last][leaf]["on_proof_path"] = True
        graph_attrs = {"theorem": self.theorem_name, "status": status.value, "message": message}
        graph_attrs.update({f"stats_{k}": v for k, v in stats.to_dict().items()})
        return T.digraph_from_adjacency(node_attrs, succ, **graph_attrs)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


class _LongLivedHeap:
    """Keeps Python's cyclic garbage collector from re-scanning the search's records again and again.

    A search allocates many long-lived, acyclic records; each full collection walks all of them, which
    makes a growing search pay O(n) per expansion for nothing. Each time the tree doubles, the objects
    alive so far are moved to the collector's permanent generation (`gc.freeze`), and released at the
    end. Reference counting still frees everything as usual; only cycle detection of the frozen
    objects waits until the search ends.
    """

    FIRST_FREEZE_AT = 4096

    def __init__(self) -> None:
        self.next_freeze = self.FIRST_FREEZE_AT
        self.froze = False

    def __enter__(self) -> _LongLivedHeap:
        return self

    def grew_to(self, nodes: int) -> None:
        if nodes >= self.next_freeze and gc.isenabled():
            gc.freeze()
            self.froze = True
            self.next_freeze = 2 * nodes

    def __exit__(self, *exc: object) -> None:
        if self.froze:
            gc.unfreeze()
