"""What the process-handling tests assert: a process is gone (exited, or a zombie nobody reaped: it runs nothing)."""

from __future__ import annotations

import time
from pathlib import Path

import psutil


def gone(pid: int, within_s: float = 2.0) -> bool:
    """Whether `pid` has stopped running within `within_s` seconds (a zombie counts as stopped)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def pid_from(path: Path, within_s: float = 10.0) -> int:
    """The pid a stand-in wrote to `path`, waiting for it to appear."""
    deadline = time.monotonic() + within_s
    while not (path.is_file() and path.read_text(encoding="utf-8").strip()):
        if time.monotonic() >= deadline:
            raise AssertionError(f"no pid written to {path}")
        time.sleep(0.05)
    return int(path.read_text(encoding="utf-8"))
