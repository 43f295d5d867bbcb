"""One attempt at one problem, inside a prover actor (or in-process): search or whole-proof, then verify.

Nothing here imports Ray: the actor is a thin shell around these functions, so they are tested
directly, and the same search code runs in `prover prove` and in a sweep.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from benchmarks.minif2f import NamedFewShot, Problem, few_shot_for
from lean_env.checks.verdict import ProofVerifier, Verdict, Verified
from lean_env.types import Env
from prover.generators.sanitize import drop_reasoning
from prover.templates import WHOLE_PROOF_STOP
from search.types import InformalContext, SearchConfig, SearchStatus, TacticGenerator


@runtime_checkable
class ProofCompleter(Protocol):
    """Whole-proof generation: one sampled completion per prompt (call again for more samples)."""

    def __call__(self, prompts: Sequence[str]) -> list[str]: ...


@dataclass(frozen=True)
class AttemptJob:
    problem: Problem
    attempt: int
    task: str  # "f2f" | "i2f"
    mode: str  # "search" | "whole"
    prompt: str | None = None  # whole-proof prompt, built by the driver


# An attempt's status when the backend cannot work at all (`lean_env.errors.BackendUnavailableError`): not a
# result of the problem. The driver stops the sweep with the cause and records nothing for it.
BACKEND_UNAVAILABLE = "backend_unavailable"


@dataclass(frozen=True)
class AttemptOutcome:
    """What an attempt found. `retriable` marks a failure of the machinery (crashed Lean, dead generator)."""

    status: str
    proved: bool = False
    verdict: str | None = None
    checker: str | None = None
    verdict_reason: str | None = None
    proof: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    retriable: bool = False
    started_at: float = 0.0
    finished_at: float = 0.0
    worker: str = ""


def informal_context(job: AttemptJob) -> InformalContext | None:
    """The informal statement and proof guide the prover only in the informal-to-formal task."""
    thm = job.problem.theorem
    if job.task != "i2f" or not (thm.informal_statement or thm.informal_proof):
        return None
    return InformalContext(statement=thm.informal_statement, proof=thm.informal_proof)


def _verdict_fields(verdict: Verdict) -> dict[str, Any]:
    if isinstance(verdict, Verified):
        return {"proved": True, "verdict": "verified", "checker": verdict.checker, "verdict_reason": None}
    return {
        "proved": False,
        "verdict": "rejected",
        "checker": verdict.checker or None,
        "verdict_reason": verdict.reason,
    }


def _verify(verifier: ProofVerifier, job: AttemptJob, proof: str) -> tuple[dict[str, Any], str | None]:
    """Verdict fields, or (rejected fields, error) when the verifier itself failed."""
    try:
        verdict = verifier.verify(job.problem.theorem, proof)
    except Exception as exc:  # a verifier crash is never a proof
        reason = f"verifier failed: {type(exc).__name__}: {exc}"
        return {"proved": False, "verdict": None, "checker": None, "verdict_reason": reason}, reason
    return _verdict_fields(verdict), None


def run_search_attempt(
    job: AttemptJob, env: Env, generator: TacticGenerator, verifier: ProofVerifier, config: SearchConfig
) -> AttemptOutcome:
    """Best-first search from the formal statement (guided by the informal proof in i2f), then verify.

    The search and the verdict are `prover.jobs.run_proof_job`, the job `prover prove` runs too.
    """
    from prover.jobs import ProofTarget, run_proof_job

    started = time.time()
    target = ProofTarget(job.problem.name, job.problem.theorem, context=informal_context(job))
    done, result = run_proof_job(target, env, generator, verifier, config)
    if done.proof is not None and done.status in ("proved", "rejected"):
        fields: dict[str, Any] = {
            "proved": done.status == "proved",
            "verdict": None if done.verifier_failed else ("verified" if done.status == "proved" else "rejected"),
            "checker": None if done.verifier_failed else (done.checker or None),
            "verdict_reason": done.reason,
        }
        return AttemptOutcome(
            status=done.status,
            proof=done.proof,
            stats=done.stats,
            error=done.reason if done.verifier_failed else None,
            started_at=started,
            finished_at=time.time(),
            **fields,
        )
    return AttemptOutcome(
        status=done.status,
        stats=done.stats,
        error=done.message or None,
        retriable=result.status is SearchStatus.FAILED_ERROR or done.retriable_start,
        started_at=started,
        finished_at=time.time(),
    )


def whole_proof_request(
    problem: Problem,
    task: str,
    few_shot: Sequence[NamedFewShot],
    num_few_shot: int,
    template: str = "deepseek-v1.5",
) -> str:
    """The whole-proof prompt (or chat user message) for `problem` in `template`'s format
    (`prover.generators.whole_proof`); in i2f the informal statement and proof go where the template puts them."""
    from prover.generators.whole_proof import whole_proof_request as request

    thm = problem.theorem
    context = InformalContext(thm.informal_statement, thm.informal_proof) if task == "i2f" else None
    return request(thm, context, template, few_shot_for(problem.name, few_shot, num_few_shot))


def extract_whole_proof(completion: str, theorem_name: str | None = None) -> str:
    """The tactic block of a completion: a continuation is cut at the closing code fence (indentation kept);
    a completion with ```` ```lean4 ```` blocks (chat provers) gives the proof in its last block."""
    from prover.generators.whole_proof import extract_whole_proof as extract

    text = drop_reasoning(completion)
    if text is not None and re.search(r"^[ \t]*```[ \t]*lean4?[ \t]*$", text, re.MULTILINE):
        return extract(completion, theorem_name, continuation=False) or ""
    if text is None:
        return ""
    for stop in WHOLE_PROOF_STOP:
        pos = text.find(stop)
        if pos != -1:
            text = text[:pos]
    return text.rstrip()


def run_whole_attempt(job: AttemptJob, completer: ProofCompleter, verifier: ProofVerifier) -> AttemptOutcome:
    """One sampled whole proof, checked by the verifier (pass@N is N of these)."""
    if job.prompt is None:
        raise ValueError("a whole-proof attempt needs its prompt")
    started = time.time()
    t0 = time.perf_counter()
    try:
        completion = completer([job.prompt])[0]
    except Exception as exc:
        return AttemptOutcome(
            status="failed_error",
            error=f"proof generator failed: {type(exc).__name__}: {exc}",
            retriable=True,
            started_at=started,
            finished_at=time.time(),
        )
    model_time = time.perf_counter() - t0
    proof = extract_whole_proof(completion, job.problem.theorem.name)
    stats: dict[str, Any] = {"model_time_s": model_time, "completion_chars": len(completion)}
    if not proof.strip():
        return AttemptOutcome(
            status="no_proof", stats=stats, error="empty completion", started_at=started, finished_at=time.time()
        )
    fields, error = _verify(verifier, job, proof)
    stats["total_time_s"] = time.perf_counter() - t0
    status = "proved" if fields["proved"] else "rejected"
    return AttemptOutcome(
        status=status, proof=proof, stats=stats, error=error, started_at=started, finished_at=time.time(), **fields
    )
