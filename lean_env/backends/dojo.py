"""The LeanDojo backend: `lean_dojo.Dojo` behind the `Env` interface.

A Dojo runs `lake env lean --threads=N --memory=M FILE` on a theorem of a traced repository (its proof
rewritten to `by lean_dojo_repl; sorry`) and talks to it in `REPL>` JSON lines (lean-dojo 4.20.0:
src/lean_dojo/interaction/dojo.py and Lean4Repl.lean). We map its results and exceptions onto
lean_env's types, and recover from what LeanDojo cannot:

- after a tactic timeout LeanDojo times out every later tactic, so the process is killed at once and
  a new one started lazily, by the next tactic (its cost is charged to the search that asks for it; a
  search whose budget is spent never pays for a restart), as the REPL backend does;
- after a crash we restart and retry once; a tactic that crashes Lean again (LeanDojo#201: `congr 1`)
  is an error result for that tactic only, and the next tactic gets a fresh process;
- a request longer than the pty's canonical line limit is refused before sending (`REQUEST_LINE_LIMIT`);
- `import lean_dojo` and Lean's start-up fail for reasons that concern every theorem (environment
  variables, git, a toolchain that rejects `--memory`): `BackendUnavailableError`, one line.

Dojo state ids do not survive a restart, so each `ProofState.handle` we hand out names the tactic
path from the initial state; after a restart a state is rebuilt by replaying its path and checked
against the state we recorded, modulo metavariable numbering (`lean_env.types.normalize_mvars`).
`LeanGitRepo` objects (which may call GitHub) are built once per (url, commit) and reused.
`lean_dojo` is imported lazily: it is slow to import and has side effects (`require_lean_dojo`).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import math
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lean_env.errors import BackendUnavailableError, LeanCrashError, RepositoryUnavailableError, TheoremStartError
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
    same_state_modulo_mvars,
)

if TYPE_CHECKING:
    from lean_env.project.probes import Probe

# The longest request line a Dojo can send. Dojo writes each request with pexpect's `sendline` to a pty in
# canonical mode, and the line discipline keeps at most 4095 bytes of a line before its newline, dropping
# the rest (termios(3), "Canonical and noncanonical mode"; Linux drivers/tty/n_tty.c, N_TTY_BUF_SIZE 4096).
# Lean would then read a truncated request and fail to parse it (Lean4Repl.lean `loop`: "[fatal] failed to
# parse JSON"), which ends the REPL loop while Lean goes on with the rest of the file.
REQUEST_LINE_LIMIT = 4095

# What a Lean that rejects `--memory` prints before exiting (lean4#9879, lean4#10258): lean-dojo 4.20 always
# passes `--memory=M` (dojo.py `Dojo.__enter__`), which `lean` turns into the `max_memory` option, and
# src/Lean/Language/Lean.lean `reparseOptions` refuses an option it does not know with this message.
_MEMORY_REJECTED = re.compile(r"unknown configuration option '(?:max_memory|memory)'")

CRASHED_PREFIX = "Lean crashed"
TOO_LONG_PREFIX = "refused: request too long"


# ----------------------------------------------------------------------------- importing lean_dojo


def require_lean_dojo() -> None:
    """Import `lean_dojo`, turning its import-time side effects into one `BackendUnavailableError` line.

    lean-dojo 4.20.0 does work at import time (src/lean_dojo/constants.py and
    src/lean_dojo/data_extraction/lean.py): it asserts `TACTIC_MEMORY_LIMIT` matches `\\d+g`
    (AssertionError for `32G`), parses `NUM_PROCS`/`TACTIC_CPU_LIMIT` with `int` (ValueError), runs
    `git --version` through the shell with `check=True` (CalledProcessError without git; AssertionError
    for git older than 2.25), and, when `GITHUB_ACCESS_TOKEN` is set, logs in to GitHub
    (`GITHUB.get_user().login`: a requests ConnectionError offline, BadCredentialsException for a bad token).
    """
    try:
        import lean_dojo  # noqa: F401
    except Exception as exc:  # whatever the import raises, the backend is unusable for every theorem
        raise BackendUnavailableError(f"LeanDojo is unusable: {import_failure(exc, os.environ)}") from None


def import_failure(exc: BaseException, env: Mapping[str, str]) -> str:
    """The cause of a failed `import lean_dojo`, named from the exception and the variables it read."""
    kinds = {cls.__name__ for cls in type(exc).__mro__}
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == "lean_dojo":
        return "lean-dojo is not installed (pip install lean-dojo==4.20.0)"
    memory = env.get("TACTIC_MEMORY_LIMIT")
    if isinstance(exc, AssertionError) and memory is not None and not re.fullmatch(r"\d+g", memory):
        return (
            f"TACTIC_MEMORY_LIMIT={memory!r} is refused by lean-dojo's import-time check, which wants whole GiB "
            "with a lowercase g (lean_dojo/constants.py); set it like TACTIC_MEMORY_LIMIT=32g"
        )
    if isinstance(exc, subprocess.CalledProcessError) and "git" in str(exc.cmd):
        return (
            "`git --version` failed: lean-dojo needs git >= 2.25 at import time (lean_dojo/constants.py); install git"
        )
    if isinstance(exc, AssertionError) and "Git version" in str(exc):
        return f"{_one_line(exc)} (lean-dojo checks git at import time: lean_dojo/constants.py)"
    token = "GITHUB_ACCESS_TOKEN" in env and bool(env["GITHUB_ACCESS_TOKEN"])
    if token and "ConnectionError" in kinds:
        return (
            "GITHUB_ACCESS_TOKEN is set, so `import lean_dojo` logs in to GitHub (lean_dojo/data_extraction/lean.py), "
            "and GitHub cannot be reached; unset GITHUB_ACCESS_TOKEN on an offline node (a warm LeanDojo cache needs "
            "no network)"
        )
    if token and "GithubException" in kinds:
        return f"GitHub refused GITHUB_ACCESS_TOKEN at `import lean_dojo` ({_one_line(exc)}); fix or unset it"
    if isinstance(exc, ValueError):
        for name in ("NUM_PROCS", "TACTIC_CPU_LIMIT"):
            value = env.get(name)
            if value is not None and not value.strip().isdigit():
                return f"{name}={value!r} is not a whole number (lean-dojo parses it at import time)"
    return f"`import lean_dojo` raised {type(exc).__name__}: {_one_line(exc)}"


_PROBE = (
    "import sys\n"
    "from lean_env.backends.dojo import require_lean_dojo\n"
    "from lean_env.errors import BackendUnavailableError\n"
    "try:\n    require_lean_dojo()\n"
    "except BackendUnavailableError as exc:\n    print(exc)\n    sys.exit(3)\n"
)


def probe_lean_dojo(env: Mapping[str, str] | None = None, timeout_s: float = 120.0) -> Probe:
    """`prover doctor`'s LeanDojo row: does `import lean_dojo` work in this environment, and if not, why.

    Imported in a fresh interpreter (an import's side effects run once per process, and a failure must not
    leave half a module behind in the doctor's). Not required: only `--backend dojo` needs it.
    """
    from lean_env.project.probes import Probe

    fix_install = "pip install lean-dojo==4.20.0"
    from lean_env.backends import processes

    try:
        # Guarded like every Lean-side process: importing lean_dojo may start git or lake; a timeout stops them too.
        done = processes.run(
            [sys.executable, "-c", _PROBE], timeout_s=timeout_s, env=os.environ if env is None else env
        )
    except subprocess.TimeoutExpired:
        return Probe("LeanDojo", False, f"`import lean_dojo` took over {timeout_s:.0f} s", None, False, "python")
    if done.returncode == 0:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = f"lean-dojo {version('lean-dojo')} imports"
        except PackageNotFoundError:
            found = "lean_dojo imports"
        return Probe("LeanDojo", True, found, None, False, "python")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    detail = lines[-1] if done.returncode == 3 and lines else f"the import probe exited {done.returncode}"
    detail = detail.removeprefix("LeanDojo is unusable: ")
    fixes = {
        "not installed": fix_install,
        "TACTIC_MEMORY_LIMIT": "export TACTIC_MEMORY_LIMIT=32g",
        "GITHUB_ACCESS_TOKEN": "unset GITHUB_ACCESS_TOKEN",
        "git": "install git >= 2.25",
    }
    fix = next((f for key, f in fixes.items() if key in detail), "see the detail")
    return Probe("LeanDojo", False, detail, fix, False, "python")


# ----------------------------------------------------------------------------- building Dojos


class DojoLike(Protocol):
    """What we use of `lean_dojo.Dojo`: a context manager yielding (dojo, initial state), and `run_tac`."""

    def __enter__(self) -> tuple[Any, Any]: ...

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None: ...

    def run_tac(self, state: Any, tactic: str) -> Any: ...


DojoFactory = Callable[[DojoSource, float], DojoLike]

_repos: dict[tuple[str, str], Any] = {}
_repos_lock = threading.Lock()


def lean_git_repo(url: str, commit: str) -> Any:
    """The `lean_dojo.LeanGitRepo` for (url, commit), built once per process and reused.

    Building one is not free: for a GitHub URL `LeanGitRepo.__post_init__` calls the GitHub API
    (`url_to_repo`, and `_to_commit_hash` for a tag; lean-dojo 4.20.0 data_extraction/lean.py). Reusing it
    means a restart, or the next theorem of the same repository, needs no network.
    """
    key = (url, commit)
    with _repos_lock:
        repo = _repos.get(key)
        if repo is None:
            from lean_dojo import LeanGitRepo

            repo = _repos[key] = LeanGitRepo(url, commit)
        return repo


@cache
def _recording_dojo() -> type:
    """`lean_dojo.Dojo` that keeps what Lean printed while starting (Dojo drops it when the start fails)."""
    from lean_dojo import Dojo

    class RecordingDojo(Dojo):  # type: ignore[misc]
        transcript: io.StringIO | None = None

        def _read_next_line(self) -> tuple[str, str]:
            # The process exists from here on; pexpect copies everything it reads to `logfile_read`.
            if self.transcript is None:
                self.transcript = io.StringIO()
                self.proc.logfile_read = self.transcript
            result: tuple[str, str] = super()._read_next_line()
            return result

    return RecordingDojo


def lean_dojo_factory(source: DojoSource, timeout: float) -> DojoLike:
    """A real `lean_dojo.Dojo` for `source` (a GitHub URL or a local git repository path)."""
    from lean_dojo import Theorem as DojoTheorem

    repo = lean_git_repo(source.url, source.commit)
    dojo: DojoLike = _recording_dojo()(DojoTheorem(repo, Path(source.file_path), source.full_name), math.ceil(timeout))
    return dojo


def _transcript(dojo: Any, stop: bool = False) -> str:
    """What Lean printed so far (for a `RecordingDojo`); `stop` ends the recording."""
    buffer = getattr(dojo, "transcript", None)
    proc = getattr(dojo, "proc", None)
    if stop and proc is not None:
        proc.logfile_read = None
    return buffer.getvalue() if isinstance(buffer, io.StringIO) else ""


# ----------------------------------------------------------------------------- the Env


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
    Raises `BackendUnavailableError` when `lean_dojo` cannot be imported (`require_lean_dojo`).
    """

    def __init__(
        self,
        source: DojoSource | None = None,
        *,
        timeout: float = 600.0,
        dojo_factory: DojoFactory = lean_dojo_factory,
        allow_native_decide: bool = False,
    ) -> None:
        require_lean_dojo()
        self.source = source
        self.timeout = timeout
        self.allow_native_decide = allow_native_decide
        self._factory = dojo_factory
        self._dojo: DojoLike | None = None
        self._active: DojoSource | None = None
        self._nodes: dict[int, _Node] = {}
        self._live: dict[int, Any] = {}  # our handle -> the current Dojo's TacticState
        self._root: int | None = None
        self._unusable: BackendUnavailableError | None = None
        self.restarts = 0

    # ---- Env protocol

    def start(self, theorem: Theorem) -> ProofState:
        if self._unusable is not None:
            raise self._unusable
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
        from lean_env.checks.tactic_filter import check_tactic

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
            except _TooLong as exc:
                return LeanError(
                    f"{TOO_LONG_PREFIX}: {exc.size} bytes, and a Dojo request line holds at most "
                    f"{REQUEST_LINE_LIMIT} (the pty would truncate it)"
                )
            except _Rebuild as exc:
                return LeanError(f"could not rebuild the proof state after a LeanDojo restart: {exc}")
            except _Timeout:
                self._shutdown()  # stop the runaway tactic now; the next tactic restarts (lazily)
                return TacticTimeout(limit)
            except _Crash as exc:
                self._shutdown()
                if attempt == 1:  # it crashed a fresh process too: a dead end for this tactic only
                    return LeanError(
                        f"{CRASHED_PREFIX} running this tactic, twice ({exc}); Lean is restarted for the next one"
                    )
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
        except BackendUnavailableError:
            raise
        except Exception as exc:  # LeanGitRepo validates the repo eagerly: bad URL, no network, not git
            raise RepositoryUnavailableError(
                f"cannot open the LeanDojo repository for {where}: {_one_line(exc)}{_offline_hint(exc)}"
            ) from None
        try:
            entered, init = dojo.__enter__()
        except (DojoInitError, DojoTacticTimeoutError, DojoCrashError, AssertionError) as exc:
            said = _transcript(dojo, stop=True)
            with contextlib.suppress(Exception):  # kill whatever the failed start left running
                dojo.__exit__(None, None, None)
            if _MEMORY_REJECTED.search(said):
                self._unusable = BackendUnavailableError(
                    "this Lean rejects `--memory`, which lean-dojo 4.20 passes to every `lake env lean` it runs "
                    "(lean4#9879, lean4#10258: unknown configuration option 'max_memory'); use a toolchain that "
                    "accepts it, or --backend repl"
                )
                raise self._unusable from None
            detail = _one_line(exc) or type(exc).__name__
            lean_says = _first_error(said)
            if lean_says:
                detail += f"; Lean said: {lean_says}"
            if isinstance(exc, DojoCrashError):
                raise LeanCrashError(f"LeanDojo crashed starting {where}: {detail}") from None
            # AssertionError: Dojo asserts on an initial error or a theorem that is already proved
            raise TheoremStartError(f"LeanDojo could not start {where}: {detail}") from None
        _transcript(entered, stop=True)
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
        if not same_state_modulo_mvars(init.pp, self._nodes[self._root].pp):
            raise LeanCrashError("LeanDojo restarted with a different initial state")
        self._live = {self._root: init}

    def _run(self, dojo_state: Any, tactic: str, timeout: float) -> Any:
        from lean_dojo import DojoCrashError, DojoTacticTimeoutError

        assert self._dojo is not None
        # The exact line `Dojo.run_tac` sends (dojo.py: json.dumps({"sid": ..., "cmd": ...}, ensure_ascii=False)).
        size = len(json.dumps({"sid": getattr(dojo_state, "id", 0), "cmd": tactic}, ensure_ascii=False).encode())
        if size > REQUEST_LINE_LIMIT:
            raise _TooLong(size)
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
        pp = getattr(result, "pp", None)
        # Metavariable numbers depend on the process's history, so a replayed state matches modulo them.
        if not isinstance(pp, str) or not same_state_modulo_mvars(pp, node.pp):
            raise _Rebuild(f"replaying `{node.tactic}` now gives {type(result).__name__} {_one_line(pp or result)!r}")
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

    # ---- holes

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


class _Rebuild(Exception):
    pass


class _TooLong(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def _first_error(text: str) -> str:
    """The first `error:` line Lean printed (or the first line), for a start failure's message."""
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("REPL>")]
    for line in lines:
        if "error" in line:
            return line
    return lines[0] if lines else ""


def _offline_hint(exc: BaseException) -> str:
    """What to do when opening a repository failed for want of network.

    On a repository cache miss lean-dojo 4.20.0 first asks its remote cache of traced repositories
    (`lean_dojo/data_extraction/cache.py` `Cache.get`: `url_exists(REMOTE_CACHE_URL/…)` unless the
    `DISABLE_REMOTE_CACHE` variable is set), and `url_exists` (`lean_dojo/utils.py`) catches only HTTPError: offline,
    the DNS failure escapes as `URLError`. With the remote cache disabled a local repository opens offline.
    """
    import urllib.error

    if not isinstance(exc, (urllib.error.URLError, ConnectionError, TimeoutError)):
        return ""
    if "DISABLE_REMOTE_CACHE" in os.environ:
        return " (the network is unreachable: a GitHub URL needs it, a local repository does not)"
    return (
        " (the network is unreachable, and lean-dojo looks up its remote cache of traced repositories first: "
        "set DISABLE_REMOTE_CACHE=1 to trace locally; a GitHub URL still needs the network)"
    )


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split())
