"""Strategies behind one small seam: given a target and the backend, produce an `Outcome`.

`search` is the best-first tactic search (then the independent verifier); `whole` samples N whole proofs and
verifies each distinct one. A strategy owns its model; the engine owns the Lean backend, the verifier and
the concurrency. A later strategy (self-correction, repair into holes, a planner writing `have` sketches)
implements the same `Strategy` protocol, and callers do not change.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from lean_env.checks.verdict import ProofVerifier, Rejected, Verdict, Verified
from lean_env.errors import LeanCrashError, LeanStartError, LeanTimeoutError, ProtocolError
from lean_env.types import ClosingContext, Env, HoleTarget, ProofState, TacticResult, Theorem
from prover.engine.cost import Meter, MeteredGenerator, MeteredVerifier, RoundCost, generates_tokens
from prover.engine.outcome import Attempt, Outcome
from prover.engine.status import Status
from prover.engine.target import ProofTarget
from search import BestFirstSearch, SearchConfig, SearchResult, TacticGenerator, ValueFunction
from search.types import ProgressEvent, SearchStatus

if TYPE_CHECKING:
    from prover.generators.whole_proof import WholeProof


@dataclass(frozen=True)
class Context:
    """What a strategy works with for one target: the Lean backend, the verifier, where progress goes, and how
    many searches of one target may run at once on the backend (`jobs`: a repaired sketch's holes)."""

    env: Env
    verifier: ProofVerifier
    on_progress: Callable[[ProgressEvent], None] | None = None
    tree_dir: Path | None = None
    jobs: int = 1


class Strategy(Protocol):
    """Prove one target under the strategy's own budget and return its outcome (never raises for a theorem's
    failure; `BackendUnavailableError` propagates: it is no target's result)."""

    @property
    def name(self) -> str: ...

    def prove(self, target: ProofTarget, ctx: Context) -> Outcome: ...

    def shared(self) -> AbstractContextManager[Strategy]:
        """This strategy for concurrent callers (one batched model for every thread), open while in use."""
        ...


# Exceptions that are the backend failing, not the statement: a retry on a fresh process may succeed.
BACKEND_FAILURES: tuple[type[BaseException], ...] = (LeanCrashError, LeanStartError, LeanTimeoutError, ProtocolError)


def is_backend_failure(exc: BaseException | None) -> bool:
    return isinstance(exc, BACKEND_FAILURES)


def verify_safely(verifier: ProofVerifier, theorem: Theorem, proof: str, helpers: str = "") -> tuple[Verdict, bool]:
    """The verifier's verdict, and whether the verifier itself failed (a verifier crash is never a proof).
    `helpers`: lemmas placed before the theorem (`prover.generators.whole_proof.verify_whole_proof`)."""
    try:
        if helpers:
            from prover.generators.whole_proof import WholeProof, verify_whole_proof

            return verify_whole_proof(verifier, theorem, WholeProof(proof, helpers)), False
        return verifier.verify(theorem, proof), False
    except Exception as exc:
        return Rejected(f"verifier failed: {type(exc).__name__}: {exc}"), True


class _AtHole(ClosingContext):
    """The backend seen from one hole: `start` enters the hole instead of the theorem's statement."""

    def __init__(self, env: Env, hole: HoleTarget) -> None:
        self.env, self.hole = env, hole

    def start(self, theorem: Theorem) -> ProofState:
        return self.env.start_hole(self.hole)

    def start_hole(self, target: HoleTarget) -> ProofState:
        return self.env.start_hole(target)

    def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> TacticResult:
        return self.env.run_tactic(state, tactic, timeout)

    def close(self) -> None:  # the backend belongs to the caller
        pass


@dataclass(frozen=True)
class SearchStrategy:
    """Best-first tactic search from the statement or the hole's goal; a theorem's proof is then verified."""

    generator: TacticGenerator
    config: SearchConfig
    name: str = "search"
    value_fn: ValueFunction | None = None  # a critic ordering the open states, where the caller has one
    allow_native_decide: bool = False  # the search's own tactic check lets `native_decide` through

    @contextmanager
    def _batched(self) -> Iterator[Strategy]:
        from prover.jobs import BatchingGenerator

        with BatchingGenerator(self.generator) as batched:
            yield replace(self, generator=batched)

    def shared(self) -> AbstractContextManager[Strategy]:
        return self._batched()

    def search(self, target: ProofTarget, ctx: Context, meter: Meter) -> SearchResult:
        env: Env = ctx.env if target.hole is None else _AtHole(ctx.env, target.hole)
        generator = MeteredGenerator(self.generator, meter, generates_tokens(self.generator))
        result = BestFirstSearch(
            env,
            generator,
            self.config,
            self.value_fn,
            on_progress=ctx.on_progress,
            allow_native_decide=self.allow_native_decide,
        ).search(target.theorem, target.context)
        meter.add(tactic_calls=result.stats.lean_calls)
        if ctx.tree_dir is not None and result.tree is not None:
            export_tree(result, target.name, ctx.tree_dir)
        return result

    def prove(self, target: ProofTarget, ctx: Context) -> Outcome:
        meter, t0 = Meter(), time.perf_counter()
        result = self.search(target, ctx, meter)
        base = Outcome(
            target=target.name,
            status=Status.from_search(result.status),
            strategy=self.name,
            message=result.message,
            stats=result.stats.to_dict(),
            retriable=result.status is SearchStatus.FAILED_ERROR
            or (result.status is SearchStatus.FAILED_START and is_backend_failure(result.cause)),
            cause=result.cause,
        )
        if not (result.status.proved and result.proof is not None):
            return replace(base, costs=(RoundCost(self.name, 0, meter.cost(time.perf_counter() - t0)),))
        base = replace(base, proof=result.proof)
        if target.hole is not None:  # a hole's script: its declaration's whole check decides
            return replace(base, costs=(RoundCost(self.name, 0, meter.cost(time.perf_counter() - t0)),))
        verdict, failed = verify_safely(MeteredVerifier(ctx.verifier, meter), target.theorem, result.proof)
        costs = (RoundCost(self.name, 0, meter.cost(time.perf_counter() - t0)),)
        return _judged(base, verdict, failed, costs)


def _judged(base: Outcome, verdict: Verdict, verifier_failed: bool, costs: tuple[RoundCost, ...]) -> Outcome:
    if isinstance(verdict, Verified):
        return replace(base, status=Status.PROVED, checker=verdict.checker, costs=costs)
    message = verdict.reason if verifier_failed else f"verifier rejected the proof: {verdict.reason}"
    return replace(
        base,
        status=Status.REJECTED,
        checker=None if verifier_failed else (verdict.checker or None),
        message=message,
        reason=verdict.reason,
        verifier_failed=verifier_failed,
        costs=costs,
    )


def export_tree(result: SearchResult, name: str, tree_dir: Path) -> None:
    from search.tree import write_tree

    assert result.tree is not None
    tree_dir.mkdir(parents=True, exist_ok=True)
    stem = name.replace("/", "_")
    write_tree(result.tree, tree_dir / f"{stem}.json")
    write_tree(result.tree, tree_dir / f"{stem}.dot")


# ----------------------------------------------------------------------------- whole proofs


@dataclass(frozen=True)
class Sample:
    """One sampled completion and the tokens the model generated for it (0 where the model does not say);
    `hit_limit`: generation stopped at the token limit (`max_new_tokens`), not at EOS or a stop string."""

    text: str
    tokens: int = 0
    hit_limit: bool = False


# A sample with no proof because the token limit stopped it (a reasoning model cut off mid-thought) is a budget
# the user can raise, not a model that wrote nothing: its own status and reason.
CUT_AT_LIMIT = "cut off by the token limit before a proof (raise max_new_tokens)"


class Sampler(Protocol):
    """`n` sampled completions of one whole-proof prompt (the request of `ProofTarget.prompt`, or built)."""

    def __call__(self, target: ProofTarget, n: int) -> list[Sample]: ...


@dataclass(frozen=True)
class WholeStrategy:
    """`samples` whole proofs per target, each distinct one verified until one is; a failed target keeps every
    attempt with the verifier's reason and Lean's messages."""

    sampler: Sampler
    samples: int
    # (completion, theorem name) -> the tactic block, or the block with the helper lemmas it uses, or None
    extract: Callable[[str, str], str | WholeProof | None]
    name: str = "whole"
    # Helper lemmas before the theorem go to the verifier (which judges them) only where the caller can keep
    # them with the proof (the sweep's results); `prove` writes just the theorem's proof into the file.
    accept_helpers: bool = False

    def shared(self) -> AbstractContextManager[Strategy]:
        return _as_is(self)

    def prove(self, target: ProofTarget, ctx: Context) -> Outcome:
        meter, t0 = Meter(), time.perf_counter()
        base = Outcome(target=target.name, status=Status.EXHAUSTED, strategy=self.name)
        if target.hole is not None:
            return replace(base, status=Status.FAILED_START, message="whole proofs are written for theorems, not holes")
        try:
            completions = self.sampler(target, self.samples)
        except Exception as exc:  # the model failed: this target is not proved, and a retry may help
            message = f"proof generator failed: {type(exc).__name__}: {exc}"
            cost = RoundCost(self.name, 0, meter.cost(time.perf_counter() - t0))
            return replace(base, status=Status.CRASHED, message=message, retriable=True, costs=(cost,), cause=exc)
        meter.add(model_calls=1, generated_tokens=sum(c.tokens for c in completions))
        attempts, outcome = self._verify_all(target, ctx, meter, completions)
        costs = (RoundCost(self.name, 0, meter.cost(time.perf_counter() - t0)),)
        cut = sum(a.status is Status.TRUNCATED for a in attempts)
        stats = {"samples": len(completions), "distinct": sum(a.proof is not None for a in attempts), "cut": cut}
        if outcome is None and cut and cut == len(attempts):
            outcome = replace(
                base, status=Status.TRUNCATED, message=f"{cut} of {len(completions)} samples {CUT_AT_LIMIT}"
            )
        return replace(outcome or base, attempts=tuple(attempts), costs=costs, stats=stats)

    def _verify_all(
        self, target: ProofTarget, ctx: Context, meter: Meter, completions: Sequence[Sample]
    ) -> tuple[list[Attempt], Outcome | None]:
        from prover.generators.whole_proof import WholeProof, cut_while_reasoning

        attempts: list[Attempt] = []
        seen: set[tuple[str, str]] = set()
        verifier = MeteredVerifier(ctx.verifier, meter)
        last: Outcome | None = None
        for sample in completions:
            read = self.extract(sample.text, target.theorem.name)
            found = WholeProof(read) if isinstance(read, str) else read
            if found is None or not found.proof.strip():
                if sample.hit_limit or cut_while_reasoning(sample.text):
                    status, why = Status.TRUNCATED, CUT_AT_LIMIT
                else:
                    status, why = Status.EXHAUSTED, "no proof in the completion"
                attempts.append(Attempt(0, None, status, why, completion_tokens=sample.tokens))
                continue
            body, helpers = found.proof, found.helpers
            if (body, helpers) in seen:
                continue
            seen.add((body, helpers))
            if helpers and not self.accept_helpers:
                verdict: Verdict = Rejected(
                    "the proof uses lemmas written before the theorem, and only the theorem's proof is kept here"
                )
                failed = False
            else:
                verdict, failed = verify_safely(verifier, target.theorem, body, helpers)
            judged = _judged(
                Outcome(target.name, Status.REJECTED, self.name, proof=body, helpers=helpers), verdict, failed, ()
            )
            messages = verdict.messages if isinstance(verdict, Rejected) else ()
            compiled = verdict.source if isinstance(verdict, Rejected) else ""
            attempts.append(
                Attempt(
                    0,
                    body,
                    judged.status,
                    judged.reason,
                    None,
                    judged.checker,
                    messages,
                    0,
                    sample.tokens,
                    compiled=compiled,
                    helpers=helpers,
                )
            )
            last = judged
            if judged.proved:
                return attempts, judged
        if last is not None:
            tried = f"{len(seen)} distinct samples, none verified: {last.reason}"
            return attempts, replace(last, message=tried)
        return attempts, None


@contextmanager
def _as_is(strategy: Strategy) -> Iterator[Strategy]:
    yield strategy
