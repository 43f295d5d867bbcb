"""The guard every Lean-side process runs under: `python process_guard.py PARENT_PID COMMAND...`.

Run as a script (`python -I -S`), never imported by the process it guards. It is the leader of a fresh
session (the caller starts it with `start_new_session=True`), starts COMMAND as its child in that session's
process group, waits for it and exits as it did (same code, or the same signal). Why a guard at all: `lake env X`
starts X as a child and waits for it (Lake `src/lake/Lake/CLI/Actions.lean` `env`: `IO.Process.spawn` then
`wait`), so a parent-death signal set on `lake` alone would kill `lake` and leave X (the REPL, `lean`) running
with parent pid 1. The guard turns the death of the Python process that started it into the death of the whole
group:

- the caller sets `PR_SET_PDEATHSIG` to SIGTERM on it (Linux, `prctl(2)`; kept across `execve`) with SIGTERM
  blocked until the guard's handler is in place; the handler SIGKILLs the guard's process group, itself
  included;
- `prctl(2)`: the signal is sent when the *thread* that forked the guard exits, not the process. A signal that
  arrives while `getppid()` is still PARENT_PID came from a finished worker thread of a live parent and is
  ignored (the kernel re-parents the guard to another thread of the parent first);
- elsewhere (no prctl), and as a back-stop, the guard polls `getppid()` while it waits.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time
from collections.abc import Callable
from typing import NoReturn

POLL_S = 0.25


def _kill_group() -> None:
    # Our own process group (we lead the session): COMMAND, what it started, and the guard itself.
    os.killpg(0, signal.SIGKILL)


def _exit_notifier(pid: int) -> Callable[[float], object]:
    """A wait of at most `timeout` seconds that ends as soon as `pid` exits (a pidfd where Linux has one)."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        return time.sleep
    return lambda timeout: select.select([fd], [], [], timeout)


def _watch_parent(parent: int) -> None:
    """Kill the group on SIGTERM/SIGHUP once `parent` is gone; also if it is gone already."""

    def on_signal(signum: int, frame: object) -> None:
        if os.getppid() != parent:
            _kill_group()

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, (signal.SIGTERM, signal.SIGHUP))  # blocked by the caller
    if os.getppid() != parent:  # the parent died before the handler was in place
        _kill_group()


def _exec_command(command: list[str]) -> NoReturn:
    """In the forked child: run COMMAND with default signal handling, or exit 127 if it cannot start."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        os.write(2, f"cannot run {command[0]!r}: {exc.strerror}\n".encode())
    os._exit(127)


def _wait_while_parent_lives(child: int, parent: int) -> int:
    """The child's wait status; kills the whole group as soon as `parent` is gone."""
    exited = _exit_notifier(child)
    while True:
        done, status = os.waitpid(child, os.WNOHANG)
        if done:
            return status
        if os.getppid() != parent:
            _kill_group()
        exited(POLL_S)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: process_guard.py PARENT_PID COMMAND [ARG...]", file=sys.stderr)
        return 2
    parent = int(argv[0])
    command = argv[1:]
    _watch_parent(parent)
    child = os.fork()
    if child == 0:
        _exec_command(command)
    status = _wait_while_parent_lives(child, parent)
    if os.WIFSIGNALED(status):
        killed_by = os.WTERMSIG(status)
        signal.signal(killed_by, signal.SIG_DFL)
        os.kill(os.getpid(), killed_by)  # die as the child did, so the caller sees the same negative return code
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
