"""The `correct` strategy: whole proofs, then rounds of self-correction from Lean's errors.

Round 0 samples `samples` whole proofs from the model's own request (a one-turn chat). Every failed sample of a
round whose compile gave Lean's messages is corrected `correction_samples` times in the next round: the chat
continues with the model's full failed output and the error report (`prover.engine.correction`, Goedel-Prover-V2's
format). A verified proof stops the target; a correction prompt over 3/4 of the model's context is not sent.
Each attempt records its round, parent attempt, prompt and completion tokens; cost is counted per round.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from lean_env.checks.verdict import Rejected
from lean_env.messages import LeanMessage
from prover.engine.correction import ChatTurn, correction_chat, error_report, fits_context
from prover.engine.cost import Meter, MeteredVerifier, RoundCost
from prover.engine.kimina_correction import tool_message
from prover.engine.outcome import Attempt, Outcome
from prover.engine.status import Status
from prover.engine.strategies import CUT_AT_LIMIT, Context, Sample, Strategy, _as_is, verify_safely
from prover.engine.target import ProofTarget

if TYPE_CHECKING:
    from prover.generators.whole_proof import WholeProof


class ChatSampler(Protocol):
    """A chat model: `n` sampled replies to a conversation, the request of a target, and prompt sizes."""

    def opening(self, target: ProofTarget) -> list[ChatTurn]:
        """The first turns for `target`: the model's whole-proof request (after its system turn, if any)."""
        ...

    def chat(self, target: ProofTarget, turns: Sequence[ChatTurn], round_number: int, n: int) -> list[Sample]: ...

    def prompt_tokens(self, turns: Sequence[ChatTurn]) -> int: ...


class TurnFormat(Enum):
    """Which model family's correction turn: Goedel-Prover-V2's (`prover.engine.correction`) or Kimina-Prover's
    (`prover.engine.kimina_correction`: the goals before each error, from the compile's info tree)."""

    GOEDEL = "goedel"
    KIMINA = "kimina"


@dataclass(frozen=True)
class CorrectionConfig:
    samples: int = 8  # round 0
    rounds: int = 1  # correction rounds after round 0
    correction_samples: int = 1  # per failed sample and round
    context_tokens: int = 32768  # the model's context (the 3/4 rule)
    turn_format: TurnFormat = TurnFormat.GOEDEL


@dataclass
class _Live:
    """An attempt with what its correction needs: the chat that produced it, its output and compile."""

    index: int
    turns: list[ChatTurn]
    output: str
    verdict_source: str = ""
    messages: tuple[LeanMessage, ...] = ()
    infotree: tuple[Any, ...] = ()


@dataclass(frozen=True)
class CorrectStrategy:
    sampler: ChatSampler
    config: CorrectionConfig
    # (completion, theorem name) -> the proof; helper lemmas a `WholeProof` carries are not sent here (the
    # corrected proof goes back into a chat and the file as the theorem's own proof)
    extract: Callable[[str, str], str | WholeProof | None]
    name: str = "correct"

    def shared(self) -> AbstractContextManager[Strategy]:
        return _as_is(self)

    def prove(self, target: ProofTarget, ctx: Context) -> Outcome:
        base = Outcome(target=target.name, status=Status.EXHAUSTED, strategy=self.name)
        if target.hole is not None:
            return replace(base, status=Status.FAILED_START, message="whole proofs are written for theorems, not holes")
        run = _Run(self, target, ctx)
        try:
            run.round_zero()
            for number in range(1, self.config.rounds + 1):
                if run.proved is not None or not run.correct(number):
                    break
        except Exception as exc:  # the model failed: not proved, and a retry may help
            message = f"proof generator failed: {type(exc).__name__}: {exc}"
            return replace(run.outcome(base), status=Status.CRASHED, message=message, retriable=True, cause=exc)
        return run.outcome(base)


class _Run:
    def __init__(self, strategy: CorrectStrategy, target: ProofTarget, ctx: Context) -> None:
        self.s, self.target, self.ctx = strategy, target, ctx
        self.attempts: list[Attempt] = []
        self.live: list[_Live] = []
        self.costs: list[RoundCost] = []
        self.proved: Attempt | None = None
        self.last_rejected: Attempt | None = None

    def round_zero(self) -> None:
        turns = self.s.sampler.opening(self.target)
        meter, t0 = Meter(), time.perf_counter()
        prompt_tokens = self.s.sampler.prompt_tokens(turns)
        samples = self.s.sampler.chat(self.target, turns, 0, self.s.config.samples)
        meter.add(model_calls=1, generated_tokens=sum(x.tokens for x in samples))
        for sample in samples:
            if self._judge(sample, turns, 0, None, prompt_tokens, meter):
                break
        self.costs.append(RoundCost(self.s.name, 0, meter.cost(time.perf_counter() - t0)))

    def correct(self, number: int) -> bool:
        """One correction round over the failures of the last; False when there was nothing to correct."""
        parents = [x for x in self.live if self.attempts[x.index].round == number - 1 and x.messages]
        if not parents:
            return False
        meter, t0 = Meter(), time.perf_counter()
        for parent in parents:
            turns = self._correction_turns(parent, number)
            prompt_tokens = self.s.sampler.prompt_tokens(turns)
            if not fits_context(prompt_tokens, self.s.config.context_tokens):
                continue  # too long to send (Goedel-Prover-V2's rule); the parent stays failed
            samples = self.s.sampler.chat(self.target, turns, number, self.s.config.correction_samples)
            meter.add(model_calls=1, generated_tokens=sum(x.tokens for x in samples))
            if any(self._judge(x, turns, number, parent.index, prompt_tokens, meter) for x in samples):
                break
        self.costs.append(RoundCost(self.s.name, number, meter.cost(time.perf_counter() - t0)))
        return True

    def _correction_turns(self, parent: _Live, number: int) -> list[ChatTurn]:
        if self.s.config.turn_format is TurnFormat.KIMINA:
            # Kimina's error-fixing chat (kimina_prover_demo/error_fix.py @d31a49e): the model's output, then the
            # tool message alone as the user's turn.
            report = tool_message(parent.verdict_source, parent.messages, parent.infotree)
            return [*parent.turns, ChatTurn("assistant", parent.output), ChatTurn("user", report)]
        report = error_report(parent.verdict_source, parent.messages)
        return correction_chat(parent.turns, parent.output, report, number)

    def _judge(
        self, sample: Sample, turns: list[ChatTurn], number: int, parent: int | None, prompt: int, meter: Meter
    ) -> bool:
        from prover.generators.whole_proof import cut_while_reasoning

        read = self.s.extract(sample.text, self.target.theorem.name)
        body = read if read is None or isinstance(read, str) else read.proof
        if body is None or not body.strip():
            cut = sample.hit_limit or cut_while_reasoning(sample.text)
            self.attempts.append(
                Attempt(
                    number,
                    None,
                    Status.TRUNCATED if cut else Status.EXHAUSTED,
                    CUT_AT_LIMIT if cut else "no proof in the completion",
                    parent,
                    None,
                    (),
                    prompt,
                    sample.tokens,
                )
            )
            return False
        verdict, failed = verify_safely(MeteredVerifier(self.ctx.verifier, meter), self.target.theorem, body)
        if not isinstance(verdict, Rejected):
            self.proved = Attempt(number, body, Status.PROVED, None, parent, verdict.checker, (), prompt, sample.tokens)
            self.attempts.append(self.proved)
            return True
        reason = verdict.reason
        attempt = Attempt(
            number,
            body,
            Status.REJECTED,
            reason,
            parent,
            None if failed else (verdict.checker or None),
            verdict.messages,
            prompt,
            sample.tokens,
            verdict.source,
        )
        self.attempts.append(attempt)
        self.last_rejected = attempt
        live = _Live(len(self.attempts) - 1, turns, sample.text, verdict.source, verdict.messages, verdict.infotree)
        self.live.append(live)
        return False

    def outcome(self, base: Outcome) -> Outcome:
        rounds = max((a.round for a in self.attempts), default=0)
        stats = {"attempts": len(self.attempts), "rounds": rounds}
        common = replace(base, attempts=tuple(self.attempts), costs=tuple(self.costs), stats=stats)
        if self.proved is not None:
            return replace(common, status=Status.PROVED, proof=self.proved.proof, checker=self.proved.checker)
        if self.last_rejected is not None:
            last = self.last_rejected
            message = f"{len(self.attempts)} attempts in {rounds + 1} rounds, none verified: {last.reason}"
            return replace(common, status=Status.REJECTED, proof=last.proof, reason=last.reason, message=message)
        return replace(common, message="no proof in the samples")
