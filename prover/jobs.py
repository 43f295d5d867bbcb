"""One proof job (a theorem, or one `sorry` of a skeleton -> search -> verify), and a local pool that runs many.

`run_proof_job` is the single job function: `prover prove` runs it for every target of a file on a
thread pool (`run_jobs`), and a sweep's prover actor runs it for each problem
(benchmarks/sweep/attempt.py). Searches share one `BatchingGenerator`, so concurrent searches ask
the model in batches; with a deterministic generator and expansion budgets the results are the same
as a sequential run (each search only ever sees its own requests' answers).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lean_env.checks.verdict import ProofVerifier, Verified
from lean_env.types import ClosingContext, Env, HoleEnv, HoleTarget, ProofState, TacticResult, Theorem
from search import BestFirstSearch, InformalContext, SearchConfig, SearchResult, TacticGenerator
from search.types import Candidate, GenRequest, ProgressEvent

# A searched hole's script is only a claim until its whole declaration is re-checked.
FOUND = "found"


@dataclass(frozen=True)
class ProofTarget:
    """One unit of work: `theorem` searched from its statement, or from `hole` (a `sorry` of its skeleton).

    `name` is what reports and the progress display show: the theorem's name, or `name#k` for hole k.
    """

    name: str
    theorem: Theorem
    hole: HoleTarget | None = None
    context: InformalContext | None = None


@dataclass(frozen=True)
class JobConfig:
    """How each job runs: the search settings, how many run at once, where search trees go (or None)."""

    search: SearchConfig
    jobs: int = 1
    tree_dir: Path | None = None


@dataclass
class JobResult:
    """A job's outcome. `status`: "proved" (verified), "rejected" (the verifier refused the search's proof),
    "found" (a hole's script, to be checked with its declaration), or a `SearchStatus` value."""

    target: ProofTarget
    status: str
    proof: str | None = None
    checker: str | None = None
    message: str = ""
    stats: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None  # the verifier's reason for a rejection (or how the verifier itself failed)
    verifier_failed: bool = False

    @property
    def retriable_start(self) -> bool:
        """The search could not start because the backend failed (not the statement): worth a retry."""
        return self.status == "failed_start" and any(name in self.message for name in BACKEND_FAILURES)


# A FAILED_START whose message names one of these is the backend failing, not the statement.
BACKEND_FAILURES = ("LeanCrashError", "LeanStartError", "LeanTimeoutError", "ProtocolError", "RayActorError")


class _AtHole(ClosingContext):
    """The backend seen from one hole: `start` enters the hole instead of the theorem's statement."""

    def __init__(self, env: Env, hole: HoleTarget) -> None:
        if not isinstance(env, HoleEnv):
            raise TypeError(f"the {type(env).__name__} backend cannot start at a hole")
        self.env, self.hole = env, hole

    def start(self, theorem: Theorem) -> ProofState:
        return self.env.start_hole(self.hole)

    def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> TacticResult:
        return self.env.run_tactic(state, tactic, timeout)

    def close(self) -> None:  # the backend belongs to the caller
        pass


def run_proof_job(
    target: ProofTarget,
    env: Env,
    generator: TacticGenerator,
    verifier: ProofVerifier,
    config: SearchConfig,
    on_progress: Callable[[ProgressEvent], None] | None = None,
) -> tuple[JobResult, SearchResult]:
    """Search one target, then verify a theorem's proof (a hole's script is verified with its declaration).

    A verifier that raises never yields a proof: the job is "rejected" with the exception as the reason.
    """
    search_env: Env = env if target.hole is None else _AtHole(env, target.hole)
    result = BestFirstSearch(search_env, generator, config, on_progress=on_progress).search(
        target.theorem, target.context
    )
    job = JobResult(target=target, status=result.status.value, message=result.message, stats=result.stats.to_dict())
    if not (result.status.proved and result.proof is not None):
        return job, result
    job.proof = result.proof
    if target.hole is not None:
        job.status = FOUND
        return job, result
    try:
        verdict = verifier.verify(target.theorem, result.proof)
    except Exception as exc:  # a verifier crash is never a proof
        job.reason = f"verifier failed: {type(exc).__name__}: {exc}"
        job.status, job.message, job.verifier_failed = "rejected", job.reason, True
        return job, result
    job.checker = verdict.checker
    if isinstance(verdict, Verified):
        job.status = "proved"
    else:
        job.status, job.message = "rejected", f"verifier rejected the proof: {verdict.reason}"
        job.reason = verdict.reason
    return job, result


def run_jobs(
    targets: Sequence[ProofTarget],
    env: Env,
    generator: TacticGenerator,
    verifier: ProofVerifier,
    config: JobConfig,
    on_progress: Callable[[str, ProgressEvent], None] | None = None,
    on_done: Callable[[JobResult], None] | None = None,
) -> list[JobResult]:
    """Run every target, `config.jobs` at a time; results in target order.

    With more than one job the env must be usable from several threads (ReplPool, ReplayEnv) and the
    generator is wrapped in one `BatchingGenerator`. The verifier is called under a lock (a Lean
    verifier owns one process).
    """
    verify_lock = threading.Lock()

    class _Serialised:
        def verify(self, theorem: Theorem, proof: str) -> Any:
            with verify_lock:
                return verifier.verify(theorem, proof)

    def one(target: ProofTarget, gen: TacticGenerator) -> JobResult:
        progress = None if on_progress is None else (lambda event: on_progress(target.name, event))
        job, result = run_proof_job(target, env, gen, _Serialised(), config.search, progress)
        if config.tree_dir is not None and result.tree is not None:
            _export_tree(result, target.name, config.tree_dir)
        if on_done is not None:
            on_done(job)
        return job

    if config.jobs <= 1 or len(targets) <= 1:
        return [one(t, generator) for t in targets]
    with BatchingGenerator(generator) as batched, ThreadPoolExecutor(max_workers=config.jobs) as pool:
        futures = [pool.submit(one, t, batched) for t in targets]
        return [f.result() for f in futures]


def _export_tree(result: SearchResult, name: str, tree_dir: Path) -> None:
    from search.tree import write_tree

    assert result.tree is not None
    tree_dir.mkdir(parents=True, exist_ok=True)
    stem = name.replace("/", "_")
    write_tree(result.tree, tree_dir / f"{stem}.json")
    write_tree(result.tree, tree_dir / f"{stem}.dot")


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
