"""Checking an output path before a command does its work, so a path that cannot be written is one line
(exit 2) before a sweep starts Ray or a build writes its first file, never a traceback at the end."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def output_problem(path: Path, option: str) -> str | None:
    """Why the file `path` (given with `option`, e.g. `--output`) cannot be written, or None when it can.

    The parent folder is created as the write would create it, and a temporary file is made and removed
    in it: permission bits alone do not tell (root passes `os.access` on a read-only /proc, where
    mkdir then fails with ENOENT).
    """
    path = path.expanduser()
    if path.is_dir():
        return f"{option} {path} is a directory; give a file name"
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"{option} {path}: cannot create the folder {parent} ({exc.strerror or exc})"
    try:
        fd, probe = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".probe")
    except OSError as exc:
        return f"{option} {path}: cannot write in {parent} ({exc.strerror or exc})"
    os.close(fd)
    os.unlink(probe)
    if path.exists() and not os.access(path, os.W_OK):
        return f"{option} {path}: the file is not writable"
    return None
