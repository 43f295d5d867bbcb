"""Writing files safely: a crash mid-write never leaves a truncated file; a new file gets the user's umask like
any other output; a user's file keeps its mode, BOM and line endings; and `write_user_file` is the one path by
which any command edits a user's file (backup, exact bytes, mode, refusal when the file changed meanwhile)."""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import time
from pathlib import Path


class UserFileChangedError(Exception):
    """`write_user_file` did not write: the file on disk is no longer the text the edit was made on."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path} {reason}")
        self.path, self.reason = path, reason


def _temp_beside(path: Path, mode: int) -> tuple[int, Path]:
    """A new temporary file beside `path`, opened for writing; created with `mode` less the process umask
    (tempfile.mkstemp creates 0600 whatever the umask, which a rename would hand on to the final file)."""
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def atomic_write(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, fsync it, then rename it over `path`.

    A new file gets 0666 less the umask (what `open(path, "w")` gives); an existing one keeps its mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        keep: int | None = os.stat(path).st_mode & 0o7777
    except OSError:
        keep = None
    fd, tmp = _temp_beside(path, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            if keep is not None:
                os.fchmod(fh.fileno(), keep)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_preserving(path: Path, new_text: str) -> None:
    """Atomically replace the existing file `path` by `new_text`, keeping the file's permission bits.

    `new_text` is written exactly (UTF-8, no newline translation: `newline=""`), so a text made by
    `lean_env.source.edits.apply_edits` on the file's own contents keeps its BOM (`\ufeff` encodes as EF BB BF)
    and its `\r\n` line endings. The original mode is set on the temporary file before the rename; a symlink
    stays a symlink (its target is replaced). Raises FileNotFoundError when `path` does not exist (there is no
    mode to keep: use `atomic_write`), OSError on write failures (the original file is then untouched).
    """
    path = Path(os.path.realpath(path))  # through a symlink: replace its target, keep the link
    mode = os.stat(path).st_mode & 0o7777
    fd, tmp = _temp_beside(path, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(new_text)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_user_file(path: Path) -> str:
    """The file's text exactly as its bytes say (UTF-8; a BOM and `\r\n` stay: no newline translation), the text
    that edits for `write_user_file` are made on. Raises OSError, UnicodeDecodeError."""
    return path.read_bytes().decode("utf-8")


def write_user_file(path: Path, original: str, new_text: str) -> Path:
    """Replace a user's file, whose text was `original` when the edit was planned, by `new_text`; the backup.

    The one write path for every command that edits a user's file: the file is re-read and must still be
    `original` (a search or session takes minutes; edits are spans of that text), else UserFileChangedError and
    nothing is written; the old bytes go to a new backup `FILE.<time>.bak` (never overwriting one); `new_text` is
    written byte for byte with the file's mode kept (`write_preserving`)."""
    try:
        current = read_user_file(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise UserFileChangedError(path, f"cannot be read again ({exc})") from None
    if current != original:
        raise UserFileChangedError(path, "changed since it was read")
    backup = claim_backup(path)
    shutil.copy2(path, backup)
    write_preserving(path, new_text)
    return backup


def claim_backup(path: Path) -> Path:
    """A new, unique backup path beside `path`: `FILE.YYYYmmdd-HHMMSS.bak`, then `.1.bak`, `.2.bak`, ...

    Created empty with O_EXCL, so two writes in the same second (scripts, library use) never share one
    backup and an existing backup is never overwritten."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in itertools.count():
        backup = path.with_name(f"{path.name}.{stamp}{f'.{n}' if n else ''}.bak")
        try:
            os.close(os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            continue
        return backup
    raise AssertionError("unreachable")
