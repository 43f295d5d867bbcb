"""The LeanDojo backend: `lean_dojo.Dojo` behind the `Env` interface.

A Dojo runs `lake env lean` on a theorem of a traced repository (its proof rewritten to
`lean_dojo_repl`) and talks to it in `REPL>` JSON lines. We map its results and exceptions onto
lean_env's types, and recover from what LeanDojo cannot:

- after a tactic timeout LeanDojo times out every later tactic, so we restart the Dojo and return
  `TacticTimeout`;
- after a crash we restart once and retry; a second crash is a `LeanCrashError`.

Dojo state ids do not survive a restart, so each `ProofState.handle` we hand out names the tactic
path from the initial state; after a restart a state is rebuilt by replaying its path (and checked
against the pretty-printed state we recorded). `lean_dojo` is imported lazily: it is slow to import.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from lean_env.errors import LeanCrashError, TheoremStartError
from lean_env.types import (
    ClosingContext,
    DojoSource,
    HoleTarget,
    LeanError,
    ProofFinished,
    ProofGivenUp,
    ProofState,
    StateResult,
    TacticResult,
    TacticTimeout,
    Theorem,
)


class DojoLike(Protocol):
    """What we use of `lean_dojo.Dojo`: a context manager yielding (dojo, initial state), and `run_tac`."""

    def __enter__(self) -> tuple[Any, Any]: ...

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None: ...

    def run_tac(self, state: Any, tactic: str) -> Any: ...


DojoFactory = Callable[[DojoSource, float], DojoLike]


def lean_dojo_factory(source: DojoSource, timeout: float) -> DojoLike:
    """A real `lean_dojo.Dojo` for `source` (a GitHub URL or a local git repository path)."""
    from lean_dojo import Dojo, LeanGitRepo
    from lean_dojo import Theorem as DojoTheorem

    repo = LeanGitRepo(source.url, source.commit)
    dojo: DojoLike = Dojo(DojoTheorem(repo, Path(source.file_path), source.full_name), timeout=math.ceil(timeout))
    return dojo


@dataclass
class _Node:
    """A state we handed out: its parent and the tactic that produced it (None for the initial state)."""

    parent: int | None
    tactic: str | None
    pp: str


_handles = itertools.count(1)  # unique across DojoEnv instances, so a stale handle is never mistaken


class DojoEnv(ClosingContext):
    """An `Env` over LeanDojo. One theorem (one Dojo process) at a time; `start` switches theorems.

    `source` is used for theorems without their own `Theorem.dojo`. `timeout` is the Dojo's limit
    for initialisation and the default per-tactic limit. `dojo_factory` builds the Dojo (tests pass one
    that differs from `lean_dojo_factory` only in where the traced repository comes from).
    """

    def __init__(
        self,
        source: DojoSource | None = None,
        *,
        timeout: float = 600.0,
        dojo_factory: DojoFactory = lean_dojo_factory,
        allow_native_decide: bool = False,
    ) -> None:
        self.source = source
        self.timeout = timeout
        self.allow_native_decide = allow_native_decide
        self._factory = dojo_factory
        self._dojo: DojoLike | None = None
        self._active: DojoSource | None = None
        self._nodes: dict[int, _Node] = {}
        self._live: dict[int, Any] = {}  # our handle -> the current Dojo's TacticState
        self._root: int | None = None
        self.restarts = 0

    # ---- Env protocol

    def start(self, theorem: Theorem) -> ProofState:
        source = theorem.dojo or self.source
        if source is None:
            raise TheoremStartError(f"{theorem.name}: the dojo backend needs the theorem's LeanDojo source")
        self._shutdown()
        self._nodes.clear()
        self._active = source
        try:
            init = self._enter()
        except LeanCrashError as exc:
            raise TheoremStartError(str(exc)) from None
        root = next(_handles)
        self._nodes[root] = _Node(parent=None, tactic=None, pp=init.pp)
        self._live = {root: init}
        self._root = root
        return ProofState.from_pp(init.pp, handle=root)

    def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> TacticResult:
        from lean_env.tactic_filter import check_tactic

        reason = check_tactic(tactic, allow_native_decide=self.allow_native_decide)
        if reason is not None:
            return LeanError(f"refused by tactic filter: {reason}")
        handle = state.handle
        if not isinstance(handle, int) or handle not in self._nodes:
            raise ValueError(f"state {handle!r} does not belong to this DojoEnv's current theorem")
        limit = self.timeout if timeout is None else timeout
        for attempt in range(2):
            try:
                source_state = self._live_state(handle)
                result = self._run(source_state, tactic, limit)
            except _Timeout:
                self._restart()
                return TacticTimeout(limit)
            except _Crash as exc:
                if attempt == 1:
                    self._shutdown()
                    raise LeanCrashError(f"LeanDojo crashed twice running `{tactic}`: {exc}") from None
                self._restart()
                continue
            return self._map(handle, tactic, result)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._shutdown()
        self._nodes.clear()

    # ---- the Dojo process

    def _enter(self) -> Any:
        from lean_dojo import DojoCrashError, DojoInitError, DojoTacticTimeoutError

        assert self._active is not None
        source = self._active
        where = f"{source.full_name} ({source.file_path} in {source.url}@{source.commit[:12]})"
        try:
            dojo = self._factory(source, self.timeout)
        except Exception as exc:  # LeanGitRepo validates the repo eagerly: bad URL, no network, not git
            raise TheoremStartError(f"cannot open the LeanDojo repository for {where}: {_one_line(exc)}") from None
        try:
            entered, init = dojo.__enter__()
        except (DojoInitError, DojoTacticTimeoutError) as exc:
            raise TheoremStartError(
                f"LeanDojo could not start {where}: {_one_line(exc) or type(exc).__name__}"
            ) from None
        except DojoCrashError as exc:
            raise LeanCrashError(f"LeanDojo crashed starting {where}: {_one_line(exc)}") from None
        except AssertionError as exc:  # Dojo asserts on an initial error or a theorem that is already proved
            raise TheoremStartError(
                f"LeanDojo could not start {where}: {_one_line(exc) or 'bad initial state'}"
            ) from None
        self._dojo = entered
        return init

    def _shutdown(self) -> None:
        dojo, self._dojo = self._dojo, None
        self._live = {}
        if dojo is not None:
            with contextlib.suppress(Exception):  # the process may already be gone; nothing more to clean up
                dojo.__exit__(None, None, None)

    def _restart(self) -> None:
        """A fresh Dojo for the active theorem; states are rebuilt on demand from their tactic paths."""
        self._shutdown()
        self.restarts += 1
        try:
            init = self._enter()
        except TheoremStartError as exc:
            raise LeanCrashError(f"LeanDojo could not be restarted: {exc}") from None
        assert self._root is not None
        if init.pp != self._nodes[self._root].pp:
            raise LeanCrashError("LeanDojo restarted with a different initial state")
        self._live = {self._root: init}

    def _run(self, dojo_state: Any, tactic: str, timeout: float) -> Any:
        from lean_dojo import DojoCrashError, DojoTacticTimeoutError

        assert self._dojo is not None
        proc = getattr(self._dojo, "proc", None)
        previous = getattr(proc, "timeout", None)
        if proc is not None:
            proc.timeout = timeout  # Dojo reads replies with pexpect under proc.timeout
        try:
            return self._dojo.run_tac(dojo_state, tactic)
        except DojoTacticTimeoutError:
            raise _Timeout() from None
        except DojoCrashError as exc:
            raise _Crash(_one_line(exc) or "crash") from None
        finally:
            if proc is not None:
                proc.timeout = previous

    def _live_state(self, handle: int) -> Any:
        """The current Dojo's TacticState for `handle`, replaying its tactic path after a restart."""
        if self._dojo is None:
            self._restart()
        live = self._live.get(handle)
        if live is not None:
            return live
        node = self._nodes[handle]
        assert node.parent is not None and node.tactic is not None
        parent = self._live_state(node.parent)
        result = self._run(parent, node.tactic, self.timeout)
        if getattr(result, "pp", None) != node.pp:
            raise _Crash(f"replaying `{node.tactic}` after a restart did not reproduce the recorded state")
        self._live[handle] = result
        return result

    def _map(self, parent: int, tactic: str, result: Any) -> TacticResult:
        from lean_dojo import LeanError as DojoLeanError
        from lean_dojo import ProofFinished as DojoProofFinished
        from lean_dojo import ProofGivenUp as DojoProofGivenUp
        from lean_dojo import TacticState

        if isinstance(result, TacticState):
            handle = next(_handles)
            self._nodes[handle] = _Node(parent=parent, tactic=tactic, pp=result.pp)
            self._live[handle] = result
            return StateResult(ProofState.from_pp(result.pp, handle=handle))
        if isinstance(result, DojoProofFinished):
            return ProofFinished(handle=result.tactic_state_id)
        if isinstance(result, DojoProofGivenUp):
            return ProofGivenUp()
        if isinstance(result, DojoLeanError):
            return LeanError(result.error)
        raise LeanCrashError(f"LeanDojo returned an unknown result: {type(result).__name__}")

    # ---- holes (helper F; kept apart from the Dojo process code above)

    def start_hole(self, target: HoleTarget) -> ProofState:
        """Replay the skeleton's tactics before the hole in a Dojo, and return the state at the hole.

        LeanDojo enters a theorem only at its initial state (`Dojo(theorem)`: lean-dojo 4.20.0
        src/lean_dojo/interaction/dojo.py), so a hole is reached by running the steps before it. That is
        faithful only for a `sorry` that is a top-level step of the `by` block facing exactly one goal
        (then `sorry` closes that goal, as Lean's `sorry` tactic closes the main goal); any other shape is
        refused with a pointer to the REPL backend, which compiles the skeleton itself.
        """
        where = f"hole {target.label}"
        if target.tactic_prefix is None:
            raise TheoremStartError(
                f"{where}: the dojo backend reaches only a `sorry` that is a top-level tactic step of the proof; "
                "use --backend repl (it compiles the skeleton) or --from-statement"
            )
        state = self.start(target.theorem)
        for tactic in target.tactic_prefix:
            result = self.run_tactic(state, tactic)
            if not isinstance(result, StateResult):
                raise TheoremStartError(f"{where}: replaying `{' '.join(tactic.split())}` before it gave {result}")
            state = result.state
        if state.num_goals != 1:
            raise TheoremStartError(
                f"{where}: {state.num_goals} goals are open at this `sorry`; the dojo backend fills only a hole that "
                "faces one goal (use --backend repl)"
            )
        return state


class _Timeout(Exception):
    pass


class _Crash(Exception):
    pass


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
