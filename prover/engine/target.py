"""What the engine proves: a theorem from its statement, or one `sorry` (hole) of its skeleton."""

from __future__ import annotations

from dataclasses import dataclass

from lean_env.types import HoleTarget, Theorem
from search import InformalContext


@dataclass(frozen=True)
class ProofTarget:
    """One unit of work: `theorem` proved from its statement, or from `hole` (a `sorry` of its skeleton).

    `name` is what reports and the progress display show: the theorem's name, or `name#k` for hole k.
    `prompt` is the whole-proof request a caller built (a sweep's few-shot prompt); None: the strategy
    builds its own from the theorem.
    """

    name: str
    theorem: Theorem
    hole: HoleTarget | None = None
    context: InformalContext | None = None
    prompt: str | None = None
