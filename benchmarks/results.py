"""The append-only results store: one JSON line per (problem, attempt), durable as soon as it is written.

Each line is written with a single `write` on an `O_APPEND` descriptor and then fsync'ed, so a
`kill -9` of the writer leaves at most one truncated last line. Readers ignore such a line (it was
never finished), and `ResultsStore.open_for_append` cuts it off before appending, so a resumed
sweep neither loses a finished line nor duplicates one.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prover.engine.cost import Cost, RoundCost, total
from prover.engine.status import Status

# 1: statuses as the search named them (failed_exhausted, failed_start, ...), no strategy, costs or attempts.
# 2: statuses of `prover.engine.Status`; the strategy, the cost per strategy round and each attempt's verdict.
SCHEMA_VERSION = 2


class AttemptRecord(BaseModel):
    """One finished (problem, attempt). `proved` is true only when the verifier said Verified."""

    model_config = ConfigDict(extra="allow", frozen=True)

    problem: str
    attempt: int = Field(ge=0)
    split: str = ""
    category: str = "other"
    task: str = "f2f"
    mode: str = "search"
    strategy: str = ""  # the engine's strategy (schema 1: the mode was the strategy)
    status: str
    proved: bool = False
    verdict: str | None = None  # "verified" | "rejected" | None (nothing to verify)
    checker: str | None = None
    verdict_reason: str | None = None
    proof: str | None = None
    stats: dict[str, Any] = Field(default_factory=dict)
    costs: list[dict[str, Any]] = Field(default_factory=list)  # `prover.engine.RoundCost.to_dict`, per round
    attempts: list[dict[str, Any]] = Field(default_factory=list)  # `prover.engine.Attempt.to_dict`
    error: str | None = None
    retries: int = 0
    config_hash: str = ""
    model: str = ""
    statement_field: str = ""
    statement_source: str = ""
    statement_repo: str = ""
    statement_commit: str = ""
    worker: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    schema_version: int = SCHEMA_VERSION

    @property
    def key(self) -> tuple[str, int]:
        return (self.problem, self.attempt)

    @property
    def outcome_status(self) -> Status:
        """The status in the one vocabulary, whichever schema wrote the line."""
        return Status.from_legacy(self.status, proved=self.proved)

    @property
    def cost(self) -> Cost:
        """The attempt's total cost (schema 1 lines: the search's own counters, where it recorded them)."""
        if self.costs:
            return total([RoundCost.from_dict(c) for c in self.costs])
        lean_calls = self.stats.get("lean_calls", 0)
        return Cost(tactic_calls=int(lean_calls) if isinstance(lean_calls, int | float) else 0, wall_s=self.duration_s)

    @property
    def duration_s(self) -> float:
        return max(0.0, self.finished_at - self.started_at)

    @property
    def expansions(self) -> int:
        value = self.stats.get("expansions", 0)
        return int(value) if isinstance(value, int | float) else 0

    def to_line(self) -> str:
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, sort_keys=True) + "\n"


@dataclass(frozen=True)
class LoadedResults:
    records: list[AttemptRecord]
    truncated_tail: bool  # the file ended in an unfinished line (a writer was killed mid-line)
    bad_lines: list[int]  # complete lines that are not valid records (1-based)


class ResultsError(ValueError):
    """The results file cannot be used (unreadable, or written by another configuration)."""


def read_results(path: str | Path) -> LoadedResults:
    """Every finished record of `path` (a missing file is empty). Later duplicates of a key are dropped."""
    p = Path(path)
    if not p.exists():
        return LoadedResults([], False, [])
    data = p.read_bytes()
    truncated = bool(data) and not data.endswith(b"\n")
    lines = data.split(b"\n")
    complete = lines[:-1]  # the last element is either b"" or the unfinished tail
    records: list[AttemptRecord] = []
    bad: list[int] = []
    seen: set[tuple[str, int]] = set()
    for lineno, raw in enumerate(complete, 1):
        if not raw.strip():
            continue
        try:
            rec = AttemptRecord.model_validate(json.loads(raw))
        except (json.JSONDecodeError, UnicodeDecodeError, ValidationError):
            bad.append(lineno)
            continue
        if rec.key in seen:
            continue
        seen.add(rec.key)
        records.append(rec)
    return LoadedResults(records, truncated, bad)


class ResultsLockedError(ResultsError):
    """Another writer holds the results file's lock (or left a stale one); the message says which and how to clear."""


def lock_path(results_path: str | Path) -> Path:
    """The lock beside a results file: `<results>.lock`, holding the writer's host, pid and start time."""
    p = Path(results_path)
    return p.with_name(p.name + ".lock")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def acquire_lock(results_path: str | Path) -> Path:
    """Create the results file's lock for this process, or raise ResultsLockedError naming its holder.

    A lock file made with O_EXCL (atomic on local and NFSv3+ file systems, unlike flock on some network ones)
    holding `{"host", "pid", "started"}`: a second writer on any machine sees it. A lock of this host whose
    process is gone is stale, and the error says so with the command that clears it; a lock of another host
    cannot be checked from here, so the error names that host and the same command for when its sweep is over."""
    lock = lock_path(results_path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    me = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise ResultsLockedError(_held_message(Path(results_path), lock)) from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(me) + "\n")
    return lock


def _held_message(results: Path, lock: Path) -> str:
    try:
        holder = json.loads(lock.read_text(encoding="utf-8"))
        host, pid, started = str(holder["host"]), int(holder["pid"]), str(holder.get("started", "?"))
    except (OSError, ValueError, KeyError, TypeError):
        return f"{results} is locked by {lock}, which cannot be read; if no sweep is writing it, run `rm {lock}`"
    if host == socket.gethostname() and not _pid_alive(pid):
        return f"{results} has a stale lock from pid {pid} (no longer running, started {started}): run `rm {lock}`"
    where = "this machine" if host == socket.gethostname() else f"host {host}"
    return (
        f"another sweep (pid {pid} on {where}, started {started}) is writing {results}; wait for it or choose "
        f"another --output (if that sweep is gone, run `rm {lock}`)"
    )


class ResultsStore:
    """Appends records to a JSONL file; one `write` + fsync per line; one writer at a time (`acquire_lock`).
    Use as a context manager."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self._lock: Path | None = None

    def lock(self) -> None:
        """Take the results file's lock (done by `open_for_append` too). Raises ResultsLockedError."""
        if self._lock is None:
            self._lock = acquire_lock(self.path)

    def open_for_append(self) -> LoadedResults:
        """Lock, open (creating parents), drop an unfinished tail line, and return what is already there.
        Raises ResultsLockedError when another writer holds the file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock()
        loaded = read_results(self.path)
        if loaded.truncated_tail:
            data = self.path.read_bytes()
            keep = data.rfind(b"\n") + 1
            with self.path.open("r+b") as fh:
                fh.truncate(keep)
                fh.flush()
                os.fsync(fh.fileno())
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return loaded

    def append(self, record: AttemptRecord) -> None:
        if self._fd is None:
            raise RuntimeError("ResultsStore.append before open_for_append")
        data = record.to_line().encode("utf-8")
        written = os.write(self._fd, data)
        if written != len(data):  # regular files do not short-write short of a full disk
            raise OSError(f"short write to {self.path}: {written} of {len(data)} bytes")
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._lock is not None:
            self._lock.unlink(missing_ok=True)
            self._lock = None

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def finished_keys(records: Iterable[AttemptRecord]) -> set[tuple[str, int]]:
    return {r.key for r in records}


def manifest_path(results_path: str | Path) -> Path:
    """The sidecar describing a sweep (config, hash, problem list): `<results>.manifest.json`."""
    p = Path(results_path)
    return p.with_name(p.name + ".manifest.json")


def write_manifest(results_path: str | Path, manifest: dict[str, Any]) -> None:
    path = manifest_path(results_path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # atomic: a killed driver never leaves half a manifest


def read_manifest(results_path: str | Path) -> dict[str, Any] | None:
    path = manifest_path(results_path)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ResultsError(f"invalid manifest {path}: {exc.msg}") from None
    return data if isinstance(data, dict) else None
