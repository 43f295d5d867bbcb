"""Checking an output path before a command does its work, so a path that cannot be written is one line
(exit 2) before a sweep starts Ray or a build writes its first file, never a traceback at the end."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def folder_problem(folder: Path) -> str | None:
    """Why files cannot be written in `folder` (created first, as a write would create it), or None.

    A temporary file is made and removed there: permission bits alone do not tell (root passes `os.access`
    on a read-only /proc, where mkdir then fails with ENOENT).
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".prover-probe.")
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    os.unlink(probe)
    return None


def output_problem(path: Path, option: str) -> str | None:
    """Why the file `path` (given with `option`, e.g. `--output`) cannot be written, or None when it can.

    Files are written atomically (a temporary file beside it, then a rename: prover.files.atomic_write), so its
    folder must take a new file, and a directory cannot be replaced by it.
    """
    path = path.expanduser()
    if path.is_dir():
        return f"{option} {path} is a directory; give a file name (e.g. {path / 'report.json'})"
    why = folder_problem(path.parent)
    if why is not None:
        return f"{option} {path}: cannot write in {path.parent} ({why})"
    if path.exists() and not os.access(path, os.W_OK):
        return f"{option} {path}: the file is not writable"
    return None
