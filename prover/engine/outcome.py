"""The one record of how proving a target ended: status, proof, verdict, cost per round, every attempt."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lean_env.messages import LeanMessage
from prover.engine.cost import Cost, RoundCost, total
from prover.engine.status import Status


@dataclass(frozen=True)
class Attempt:
    """One candidate proof a strategy produced and what the verifier said of it.

    `round` 0 is a first sample; a correction of attempt `parent` (index into the outcome's attempts) is in a
    later round. `messages` are Lean's messages of the compile that rejected it (empty when verified or unknown).
    """

    round: int
    proof: str | None
    status: Status
    reason: str | None = None
    parent: int | None = None
    checker: str | None = None
    messages: tuple[LeanMessage, ...] = ()
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # The text Lean compiled (the messages' positions refer to it); kept in memory for repair, not reported.
    compiled: str = field(default="", repr=False, compare=False)
    helpers: str = ""  # lemmas written before the theorem that `proof` uses (`WholeProof.helpers`)

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "parent": self.parent,
            "proof": self.proof,
            "status": self.status.value,
            "reason": self.reason,
            "checker": self.checker,
            "messages": [m.to_json() for m in self.messages],
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            **({"helpers": self.helpers} if self.helpers else {}),
        }


@dataclass(frozen=True)
class Outcome:
    """How one target ended under one strategy.

    `status` is `Status.PROVED` only when the verifier returned Verified for `proof` (for a hole: `FOUND`, and
    the declaration's whole check decides). `retriable` marks a failure of the machinery (a crashed Lean, a
    dead generator), worth another try on fresh processes; `cause` is the exception behind a failure (kept in
    memory for callers that must tell a backend failure from a theorem's, never serialised).
    """

    target: str
    status: Status
    strategy: str
    proof: str | None = None
    helpers: str = ""  # lemmas placed before the theorem that `proof` needs (whole proofs; judged by the verifier)
    checker: str | None = None
    message: str = ""
    reason: str | None = None  # the verifier's reason for a rejection (or how the verifier itself failed)
    verifier_failed: bool = False
    retriable: bool = False
    stats: dict[str, Any] = field(default_factory=dict)
    costs: tuple[RoundCost, ...] = ()
    attempts: tuple[Attempt, ...] = ()
    cause: BaseException | None = field(default=None, repr=False, compare=False)

    @property
    def proved(self) -> bool:
        return self.status is Status.PROVED

    @property
    def cost(self) -> Cost:
        return total(self.costs)

    def cost_dicts(self) -> list[dict[str, Any]]:
        return [c.to_dict() for c in self.costs]
