"""Starting Lean-side processes (`lake`, `lake env lean`, `lake env <repl>`, validators) so none outlives us.

`lake env X` starts X as its child and waits for it (Lake `src/lake/Lake/CLI/Actions.lean` `env`:
`IO.Process.spawn {cmd, args, env}` then `wait`), so killing `lake` alone leaves X running with parent pid 1:
`subprocess.run(timeout=...)` does exactly that. Every Lean-side process therefore starts here:

- in a new session, so `lake` and everything it starts share one process group, and a timeout, a memory
  limit or `close` kills the group (`kill_group`);
- under `process_guard.py`, with `PR_SET_PDEATHSIG` (Linux `prctl(2)`, set in the forked child before
  `exec`): when this Python process dies, even by SIGKILL (a driver or Ray worker killed from outside), the
  guard kills the group. Without prctl (not Linux) the guard notices within a quarter second by polling.

`start` returns the `Popen` of the guard; its pid is the group's id. `run` is `subprocess.run` with a
timeout that kills the whole group, and with Ctrl-C killing it too (a new session does not get the
terminal's SIGINT).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

GUARD = Path(__file__).with_name("process_guard.py")
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_REAP_TIMEOUT_S = 10.0


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl: Callable[..., int] = libc.prctl
    except (OSError, AttributeError):
        return None
    return prctl


# Looked up once here: the forked child before `exec` should do as little as possible (no imports, no lookups).
_PRCTL = _load_prctl()


def _die_with_parent() -> None:
    """`preexec_fn`: SIGTERM to the guard when the thread that forked it exits (the guard decides what it means)."""
    if _PRCTL is not None:
        # Blocked until the guard's handler is in place: a worker thread that exits right after starting the
        # guard would otherwise kill it with SIGTERM's default action. The mask survives `exec`; the signal
        # stays pending, and the guard unblocks it once it can tell a thread's exit from the parent's death.
        signal.pthread_sigmask(signal.SIG_BLOCK, (signal.SIGTERM,))
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def resolve_executable(program: str, env: Mapping[str, str] | None = None) -> str:
    """`program` as a path, searched on `env`'s PATH like `execvp` would; raises `FileNotFoundError` /
    `PermissionError` as `Popen` would, so callers keep one error path although the guard runs the program."""
    if os.sep in program:
        path = program
        if not os.path.exists(path):
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)
    else:
        found = shutil.which(program, path=(env if env is not None else os.environ).get("PATH", os.defpath))
        if found is None:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)
        path = found
    if os.path.isdir(path) or not os.access(path, os.X_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), program)
    return path


def start(
    argv: Sequence[str],
    *,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    stdin: int | IO[Any] | None = None,
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
    text: bool = False,
) -> subprocess.Popen[Any]:
    """Start `argv` as a guarded Lean-side process (see the module docstring). Raises what `Popen` raises."""
    if not argv:
        raise ValueError("empty command")
    program = resolve_executable(argv[0], env)
    return subprocess.Popen(
        [sys.executable, "-I", "-S", str(GUARD), str(os.getpid()), program, *argv[1:]],
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        text=text,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def kill_group(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL `proc`'s whole process group (it leads one: `start`) and reap it. Safe to call more than once."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=_REAP_TIMEOUT_S)
    # The guard may have exited on its own while a grandchild it started lingers in the group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def run(
    argv: Sequence[str],
    *,
    timeout_s: float | None,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    input_text: str | None = None,
    stdout: int | IO[Any] | None = subprocess.PIPE,
    stderr: int | IO[Any] | None = subprocess.PIPE,
) -> subprocess.CompletedProcess[str]:
    """`subprocess.run(argv, text=True)` for a Lean-side tool: stdin is `input_text` or nothing (never the
    terminal); on a timeout the whole process group is killed before `subprocess.TimeoutExpired` is raised;
    any other interruption (Ctrl-C) kills it too. Raises `OSError` when `argv[0]` cannot be run."""
    proc = start(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        text=True,
    )
    try:
        out, err = proc.communicate(input_text, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        proc.communicate()
        raise
    except BaseException:
        kill_group(proc)
        raise
    # A tool that exited may have left a child behind in its group (a daemon it forked): nothing of it stays.
    kill_group(proc)
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)
