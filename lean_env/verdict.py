"""The verifier's answer: the only way a proof becomes "proved"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from lean_env.types import Theorem


@dataclass(frozen=True)
class Verified:
    """The whole proof was checked independently of the search.

    `checker` names what checked it: "lean-repl", "lean" (lake env lean) or "replay"
    (recorded real-Lean results; never a substitute for Lean in a real run).
    """

    checker: str
    axioms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rejected:
    reason: str
    checker: str = ""


Verdict = Verified | Rejected


@runtime_checkable
class ProofVerifier(Protocol):
    """Checks a complete proof of `theorem` from scratch, sharing nothing with the search."""

    def verify(self, theorem: Theorem, proof: str) -> Verdict: ...
