"""The local job pool's pieces: the batched generator every concurrent search shares, and the pool size.

The engine (`prover.engine`) proves each target; `prover prove` runs it on a thread pool of `--jobs`
workers. Searches share one `BatchingGenerator`, so concurrent searches ask the model in batches; with a
deterministic generator and expansion budgets the results are the same as a sequential run (each search
only ever sees its own requests' answers).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from lean_env.types import ClosingContext
from prover.engine.target import ProofTarget
from search import TacticGenerator
from search.types import Candidate, GenRequest

__all__ = ["BatchingGenerator", "ProofTarget", "default_pool_size"]


@dataclass
class _Pending:
    requests: Sequence[GenRequest]
    k: int
    done: threading.Event = field(default_factory=threading.Event)
    answer: list[list[Candidate]] | None = None
    error: BaseException | None = None


class BatchingGenerator(ClosingContext):
    """One model call for the requests of every search waiting at that moment (continuous batching).

    A worker thread takes the first waiting call plus every call queued behind it with the same `k`,
    runs the wrapped generator once on all their requests, and hands each caller its own slice. No
    timer: while one model call runs, the next batch fills up by itself. `calls` and `batch_sizes`
    record what happened (for benchmarks).
    """

    def __init__(self, inner: TacticGenerator) -> None:
        self.inner = inner
        # What the wrapped generator produces is what this one does (prover.engine.cost counts its tokens).
        self.generates_tokens = bool(getattr(inner, "generates_tokens", True))
        self.calls = 0
        self.batch_sizes: list[int] = []
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._worker = threading.Thread(target=self._run, name="batching-generator", daemon=True)
        self._worker.start()

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        pending = _Pending(requests, k)
        self._queue.put(pending)
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        assert pending.answer is not None
        return pending.answer

    def _run(self) -> None:
        carry: _Pending | None = None
        while True:
            first = carry if carry is not None else self._queue.get()
            carry = None
            if first is None:
                return
            batch = [first]
            while True:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None or nxt.k != first.k:
                    carry = nxt
                    if nxt is None:
                        self._queue.put(None)  # stop after this batch
                        carry = None
                    break
                batch.append(nxt)
            flat = [r for p in batch for r in p.requests]
            try:
                answers = self.inner(flat, first.k)
                if len(answers) != len(flat):
                    raise RuntimeError(f"the generator answered {len(answers)} of {len(flat)} requests")
            except BaseException as exc:  # every waiting search sees the model's failure
                for p in batch:
                    p.error = exc
                    p.done.set()
                continue
            self.calls += 1
            self.batch_sizes.append(len(flat))
            start = 0
            for p in batch:
                p.answer = answers[start : start + len(p.requests)]
                start += len(p.requests)
                p.done.set()

    def close(self) -> None:
        self._queue.put(None)
        self._worker.join(timeout=5)


def default_pool_size(
    memory_per_process_mb: int | None, cpus: int | None = None, available_mb: int | None = None
) -> int:
    """How many Lean processes to run: one per core, but no more than memory allows.

    A Mathlib REPL takes several GB (`import Mathlib` alone is 3-5 GB resident), so the memory limit
    of one process (`[lean] memory_limit_mb`, default 16384) is what each one is budgeted; at least 1.
    """
    cores = cpus if cpus is not None else (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    free = available_mb if available_mb is not None else _available_mb()
    if memory_per_process_mb is None or free is None:
        return max(1, cores)
    return max(1, min(cores, free // memory_per_process_mb))


def _available_mb() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        return None
    return None
