"""Writing user files safely: a crash mid-write never leaves a truncated file, and a user's file keeps
its mode, BOM and line endings."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, fsync it, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_preserving(path: Path, new_text: str) -> None:
    """Atomically replace the existing file `path` by `new_text`, keeping the file's permission bits.

    `new_text` is written exactly (UTF-8, no newline translation: `newline=""`), so a text made by
    `lean_env.source.parse.apply_edits` on the file's own contents keeps its BOM (`\ufeff` encodes as EF BB BF)
    and its `\r\n` line endings. The temporary file is created 0600 by `mkstemp`; the original mode is
    copied onto it before the rename; a symlink stays a symlink (its target is replaced). Raises FileNotFoundError when `path` does not exist (there is no
    mode to keep: use `atomic_write`), OSError on write failures (the original file is then untouched).
    """
    path = Path(os.path.realpath(path))  # through a symlink: replace its target, keep the link
    mode = os.stat(path).st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(new_text)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
