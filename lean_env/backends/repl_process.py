"""One Lean REPL subprocess: JSON framing, wall-clock deadlines, output caps and a memory watchdog.

The REPL (leanprover-community/repl) reads requests separated by blank lines and answers each with one
JSON object, possibly pretty-printed over several lines, followed by a blank line. It has no timeout of
its own and Lean can use many GB, so this class enforces both from outside: every request has a
deadline, and while waiting the resident memory of the whole process tree (`lake` and the `repl` it
starts) is polled. Any failure kills the process group; the caller decides whether to restart.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import selectors
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, NoReturn

import psutil

from lean_env.backends import processes
from lean_env.errors import LeanCrashError, LeanNotFoundError, LeanStartError, LeanTimeoutError, ProtocolError

log = logging.getLogger(__name__)

DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_STDERR_TAIL_CHARS = 2000


class ReplMemoryError(LeanCrashError):
    """The process tree went over its memory limit and was killed."""

    def __init__(self, used_mb: float, limit_mb: int) -> None:
        super().__init__(f"Lean REPL exceeded the memory limit ({used_mb:.0f} MB > {limit_mb} MB) and was killed")
        self.used_mb = used_mb
        self.limit_mb = limit_mb


class ReplProcess:
    """A running REPL. `request` sends one JSON object and returns the parsed answer.

    `request` raises `LeanTimeoutError` (deadline passed), `ReplMemoryError` (memory limit),
    `LeanCrashError` (the process exited or closed its pipes) or `ProtocolError` (the answer was not a
    JSON object, was too large, or came with extra output). In every one of those cases the process
    has already been killed and `alive` is False.
    """

    def __init__(
        self,
        argv: Sequence[str],
        cwd: str | Path | None = None,
        *,
        memory_limit_mb: int | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        poll_interval_s: float = 0.05,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.cwd = Path(cwd) if cwd is not None else None
        self.memory_limit_mb = memory_limit_mb
        self.max_response_bytes = max_response_bytes
        self.poll_interval_s = poll_interval_s
        self.extra_env = dict(extra_env or {})
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr_tail: collections.deque[str] = collections.deque()
        self._stderr_chars = 0
        self._stderr_lock = threading.Lock()
        self._pending = bytearray()
        self.peak_rss_mb = 0.0

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        env = {**os.environ, **self.extra_env}
        try:
            # Its own process group (`lake` and the `repl` it spawns), killed with this process even by SIGKILL.
            self._proc = processes.start(
                self.argv,
                cwd=self.cwd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            )
        except FileNotFoundError:
            raise LeanNotFoundError(f"cannot run {self.argv[0]!r}: no such executable") from None
        except PermissionError:
            raise LeanNotFoundError(f"cannot run {self.argv[0]!r}: not executable") from None
        except OSError as exc:
            raise LeanStartError(f"cannot start the Lean REPL ({' '.join(self.argv)}): {exc}") from None
        assert self._proc.stdin is not None and self._proc.stdout is not None and self._proc.stderr is not None
        os.set_blocking(self._proc.stdin.fileno(), False)
        os.set_blocking(self._proc.stdout.fileno(), False)
        threading.Thread(target=self._drain_stderr, args=(self._proc.stderr,), daemon=True).start()
        log.debug("started Lean REPL pid %d: %s", self._proc.pid, " ".join(self.argv))

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def kill(self) -> None:
        """Kill the whole process group and reap it. Safe to call more than once."""
        proc = self._proc
        if proc is None:
            return
        processes.kill_group(proc)
        if proc.poll() is None:
            log.error("Lean REPL pid %d did not die after SIGKILL", proc.pid)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def close(self) -> None:
        """Ask politely (close stdin), then kill whatever is left."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None and proc.stdin is not None:
            try:
                proc.stdin.close()
                proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def stderr_tail(self) -> str:
        with self._stderr_lock:
            return "".join(self._stderr_tail).strip()

    def _drain_stderr(self, pipe: IO[bytes]) -> None:
        # Lean and lake write little to stderr, but an undrained pipe would eventually block them.
        for raw in iter(pipe.readline, b""):
            text = raw.decode("utf-8", errors="replace")
            with self._stderr_lock:
                self._stderr_tail.append(text)
                self._stderr_chars += len(text)
                while self._stderr_chars > _STDERR_TAIL_CHARS and len(self._stderr_tail) > 1:
                    self._stderr_chars -= len(self._stderr_tail.popleft())
        pipe.close()

    # -- requests ----------------------------------------------------------------------------------

    def request(self, payload: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            raise LeanCrashError(self._died_message("before the request"))
        assert proc.stdin is not None and proc.stdout is not None
        self._check_no_stray_output(proc.stdout.fileno())
        data = (json.dumps(payload, ensure_ascii=False) + "\n\n").encode("utf-8")
        deadline = time.monotonic() + timeout
        next_memory_check = 0.0
        written = 0
        buf = bytearray()
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout.fileno(), selectors.EVENT_READ)
            sel.register(proc.stdin.fileno(), selectors.EVENT_WRITE)
            while True:
                now = time.monotonic()
                next_memory_check = self._enforce_limits(now, deadline, timeout, next_memory_check)
                events = sel.select(min(deadline - now, self.poll_interval_s))
                for key, mask in events:
                    if mask & selectors.EVENT_WRITE:
                        written = self._write_request(key.fd, data, written)
                        if written >= len(data):
                            sel.unregister(key.fd)
                    elif mask & selectors.EVENT_READ:
                        answer = self._read_answer(key.fd, buf)
                        if answer is not None:
                            return answer

    def _enforce_limits(self, now: float, deadline: float, timeout: float, next_memory_check: float) -> float:
        """Kill the REPL past its deadline or memory limit; returns when memory is next due to be checked."""
        if now >= deadline:
            self.kill()
            raise LeanTimeoutError(f"the Lean REPL did not answer within {timeout:g} s; it was killed")
        if self.memory_limit_mb is not None and now >= next_memory_check:
            self._check_memory()
            return now + self.poll_interval_s
        return next_memory_check

    def _write_request(self, fd: int, data: bytes, written: int) -> int:
        """Write the next piece of the request; returns how many bytes of `data` are written in all."""
        try:
            return written + os.write(fd, data[written : written + 65536])
        except (BrokenPipeError, ConnectionResetError):
            self._crash("while receiving the request")

    def _read_answer(self, fd: int, buf: bytearray) -> dict[str, Any] | None:
        """Append what the REPL printed to `buf`; the answer once `buf` holds a whole one."""
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return None
        if not chunk:
            self._crash("while answering")
        buf += chunk
        return self._complete_answer(buf)

    def _complete_answer(self, buf: bytearray) -> dict[str, Any] | None:
        start = len(buf) - len(buf.lstrip())
        if start < len(buf) and buf[start : start + 1] != b"{":
            self._protocol_error(f"the Lean REPL printed something that is not JSON: {_preview(buf)}")
        end = buf.find(b"\n\n", start)
        if end < 0:
            if len(buf) > self.max_response_bytes:
                self._protocol_error(
                    f"the Lean REPL's answer exceeds {self.max_response_bytes} bytes without ending; it was killed"
                )
            return None
        text = bytes(buf[start:end])
        self._pending = bytearray(buf[end + 2 :])
        if len(text) > self.max_response_bytes:
            self._protocol_error(f"the Lean REPL's answer is {len(text)} bytes (limit {self.max_response_bytes})")
        try:
            value = json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._protocol_error(f"the Lean REPL printed invalid JSON ({exc}): {_preview(text)}")
        if not isinstance(value, dict):
            self._protocol_error(f"the Lean REPL answered with a JSON {type(value).__name__}, not an object")
        answer: dict[str, Any] = value
        return answer

    def _check_no_stray_output(self, fd: int) -> None:
        # Anything printed between requests means the process is out of step with us.
        try:
            while chunk := os.read(fd, 1 << 16):
                self._pending += chunk
                if len(self._pending) > self.max_response_bytes:
                    break
        except BlockingIOError:
            pass
        if self._pending.strip():
            stray = bytes(self._pending)
            self._pending = bytearray()
            self._protocol_error(f"the Lean REPL printed output nobody asked for: {_preview(stray)}")
        self._pending = bytearray()

    def _check_memory(self) -> None:
        assert self.memory_limit_mb is not None and self._proc is not None
        used = tree_rss_mb(self._proc.pid)
        self.peak_rss_mb = max(self.peak_rss_mb, used)
        if used > self.memory_limit_mb:
            self.kill()
            raise ReplMemoryError(used, self.memory_limit_mb)

    def _crash(self, when: str) -> NoReturn:
        proc = self._proc
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2)
        message = self._died_message(when)
        self.kill()
        raise LeanCrashError(message)

    def _died_message(self, when: str) -> str:
        code = self._proc.poll() if self._proc is not None else None
        status = "was not started" if self._proc is None else f"exited with code {code}"
        tail = self.stderr_tail()
        return f"the Lean REPL {status} {when}" + (f"; stderr: {tail[-500:]}" if tail else "")

    def _protocol_error(self, message: str) -> NoReturn:
        self.kill()
        raise ProtocolError(message)


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB (0 if it is gone)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total / (1024 * 1024)


def _preview(data: bytes | bytearray, limit: int = 120) -> str:
    text = bytes(data[:limit]).decode("utf-8", errors="replace").strip()
    return repr(text + ("…" if len(data) > limit else ""))
