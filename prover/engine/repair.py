"""The `repair` strategy: a failed whole proof is not thrown away, its failing blocks become holes.

After the first strategy (whole proofs, or corrections) fails, its last rejected attempt with Lean's messages is
sketched (`prover.engine.sketch`): the block around the first error becomes `sorry`. The sketch is compiled;
while errors remain, the block of the next first error becomes `sorry` too (at most `max_recompiles` compiles).
A sketch is used only when its compile reports no error (the `sorry` warnings are the holes'). Each hole is then
searched from its own goal by the tactic search (the project's hole filler), and the recombined proof, every
hole filled, is verified whole. Nothing but that final verdict makes a proof.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any

from lean_env.checks.verdict import FileVerifier, HoleVerifier, Rejected, Verdict, Verified
from lean_env.messages import LeanMessage
from lean_env.types import HoleTarget, Theorem, indent_block
from prover.engine.cost import Meter, MeteredVerifier, RoundCost
from prover.engine.outcome import Attempt, Outcome
from prover.engine.sketch import proof_position, sketch_proof
from prover.engine.status import Status
from prover.engine.strategies import Context, SearchStrategy, Strategy, _as_is, verify_safely
from prover.engine.target import ProofTarget


@dataclass(frozen=True)
class RepairStrategy:
    first: Strategy
    filler: SearchStrategy
    max_recompiles: int = 3
    name: str = "repair"

    def shared(self) -> AbstractContextManager[Strategy]:
        return _as_is(self)

    def prove(self, target: ProofTarget, ctx: Context) -> Outcome:
        outcome = self.first.prove(target, ctx)
        failed = [a for a in outcome.attempts if a.status is Status.REJECTED and a.messages and a.compiled]
        if outcome.proved or not failed or target.hole is not None:
            return outcome
        meter, t0 = Meter(), time.perf_counter()
        verifier = MeteredVerifier(ctx.verifier, meter)
        parent = outcome.attempts.index(failed[-1])
        sketch, why = _sketch(target.theorem, failed[-1], verifier, self.max_recompiles)
        if sketch is None:
            cost = RoundCost(self.name, 1, meter.cost(time.perf_counter() - t0))
            return replace(outcome, costs=(*outcome.costs, cost), message=f"{outcome.message}; no repair: {why}")
        filled, status, reason = self._fill(target, ctx, sketch, meter)
        checker = None
        repaired = filled[0] if filled is not None else None
        if filled is not None:
            verdict = _verify_filled(ctx, meter, target.theorem, filled)
            status = Status.PROVED if isinstance(verdict, Verified) else Status.REJECTED
            checker = verdict.checker or None
            reason = None if isinstance(verdict, Verified) else verdict.reason
        attempt = Attempt(1, repaired or sketch, status, reason, parent, checker)
        costs = (*outcome.costs, RoundCost(self.name, 1, meter.cost(time.perf_counter() - t0)))
        done = replace(outcome, attempts=(*outcome.attempts, attempt), costs=costs, strategy=self.name)
        if status is Status.PROVED:
            return replace(done, status=Status.PROVED, proof=repaired, checker=checker, message="", reason=None)
        return replace(done, message=f"{outcome.message}; repair of the sketch failed: {reason}")

    def _fill(
        self, target: ProofTarget, ctx: Context, sketch: str, meter: Meter
    ) -> tuple[tuple[str, str, dict[int, str]] | None, Status, str | None]:
        """Search every hole of `sketch` from its goal; the recombined proof, or None with why not."""
        from lean_env.source.declarations import parse_lean_source

        skeleton = "by\n" + indent_block(sketch, 2)
        command = f"{target.theorem.statement.rstrip()} := {skeleton}\n"
        decl = parse_lean_source(command, "<sketch>").theorems[0]
        holes = list(decl.holes)
        start = decl.proof_span.start if decl.proof_span is not None else 0
        offsets = tuple(h.span.start - start for h in holes)
        targets = [
            ProofTarget(h.label, target.theorem, h, target.context)
            for h in (HoleTarget(target.theorem, skeleton, offsets, i) for i in range(len(holes)))
        ]
        found = self._search_holes(targets, ctx)
        fills: dict[int, str] = {}
        for ran in filter(None, found):  # every search that ran, filled or not
            meter.add(model_calls=ran.cost.model_calls, generated_tokens=ran.cost.generated_tokens)
            meter.add(tactic_calls=ran.cost.tactic_calls)
        for index, outcome in enumerate(found):
            if outcome is None or outcome.status is not Status.FOUND or outcome.proof is None:
                status = "not searched" if outcome is None else outcome.status.value
                return None, Status.REJECTED, f"hole {index + 1} of {len(holes)} not filled ({status})"
            fills[index] = outcome.proof
        prefix = len(command) - len(skeleton) - 1 + len("by\n")
        return (_recombine(command, prefix, holes, fills), skeleton, fills), Status.REJECTED, None

    def _search_holes(self, targets: list[ProofTarget], ctx: Context) -> list[Outcome | None]:
        """Each hole's search outcome in hole order; None for a hole left unsearched because an earlier one
        was not filled (the sketch is then not repaired). With `ctx.jobs` > 1 the holes are searched that many
        at a time on the backend (a pool's processes), sharing one batched generator, as `prove` runs targets."""
        found: list[Outcome | None] = [None] * len(targets)
        if ctx.jobs <= 1 or len(targets) <= 1:
            for index, hole in enumerate(targets):
                found[index] = self.filler.prove(hole, ctx)
                if not _filled(found[index]):
                    break
            return found
        with self.filler.shared() as filler, ThreadPoolExecutor(max_workers=min(ctx.jobs, len(targets))) as pool:
            futures = [pool.submit(filler.prove, hole, ctx) for hole in targets]
            for index, future in enumerate(futures):
                found[index] = future.result()
                if not _filled(found[index]):
                    for later in futures[index + 1 :]:
                        later.cancel()  # a search already running finishes; its cost is counted
                    break
        for index, future in enumerate(futures):  # searches that ran past the first unfilled hole
            if found[index] is None and future.done() and not future.cancelled():
                found[index] = future.result()
        return found


def _filled(outcome: Outcome | None) -> bool:
    return outcome is not None and outcome.status is Status.FOUND and outcome.proof is not None


def _verify_filled(ctx: Context, meter: Meter, theorem: Theorem, filled: tuple[str, str, dict[int, str]]) -> Verdict:
    """The recombined proof, verified whole; a verifier that checks filled skeletons hole by hole (replay, which
    cannot compile) checks the sketch with its fills instead, as `prove` does for a file's skeletons."""
    proof, skeleton, fills = filled
    verifier = ctx.verifier
    if isinstance(verifier, HoleVerifier) and not isinstance(verifier, FileVerifier):
        meter.add(compiles=1)
        try:
            verdict: Verdict = verifier.verify_holes(theorem, skeleton, fills)
        except Exception as exc:  # a verifier crash is never a proof
            return Rejected(f"verifier failed: {type(exc).__name__}: {exc}")
        return verdict
    return verify_safely(MeteredVerifier(ctx.verifier, meter), theorem, proof)[0]


def _first_error(messages: tuple[LeanMessage, ...]) -> LeanMessage | None:
    errors = [m for m in messages if m.is_error and m.pos is not None]
    return min(errors, key=lambda m: (m.pos.line, m.pos.column) if m.pos else (0, 0), default=None)


def _sketch(
    theorem: Theorem, attempt: Attempt, verifier: MeteredVerifier, max_recompiles: int
) -> tuple[str | None, str]:
    """The sketch of a failed attempt that compiles with holes only, or (None, why not)."""
    assert attempt.proof is not None
    proof, compiled, messages = attempt.proof, attempt.compiled, attempt.messages
    for _ in range(max_recompiles):
        error = _first_error(messages)
        if error is None or error.pos is None:
            return None, "no error position to repair"
        where = proof_position(compiled, proof, error.pos)
        if where is None:
            return None, f"the first error is outside the proof: {error.data.splitlines()[0]}"
        proof = sketch_proof(proof, where).text
        verdict, failed = verify_safely(verifier, theorem, proof)
        if failed or not isinstance(verdict, Rejected):
            return None, "the sketch could not be checked"
        if not verdict.messages:
            return None, "the sketch's compile gave no messages to confirm its holes"
        if not any(m.is_error for m in verdict.messages):
            return proof, ""
        compiled, messages = verdict.source, verdict.messages
    return None, f"errors remain after {max_recompiles} compiles of the sketch"


def _recombine(command: str, prefix: int, holes: list[Any], fills: dict[int, str]) -> str:
    """The sketch's declaration with every hole replaced by its script (rendered for its place), as a proof."""
    from lean_env.source.edits import Edit, apply_edits, dedent_script
    from lean_env.source.render import render_script_at

    text = apply_edits(command, [Edit(h.span, render_script_at(h, fills[i])) for i, h in enumerate(holes)])
    return dedent_script(text[prefix:])  # the statement and `:= by` (before every hole) are unchanged
