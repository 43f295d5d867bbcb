"""A fixed list of automation tactics with prior log-probabilities: a real baseline and a model fallback."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from search.types import Candidate, GenRequest

# Priors are log-probabilities; the order reflects how often each closes or simplifies a
# competition-style goal (miniF2F), so cheap deciders come before expensive search tactics.
DEFAULT_FIXED_TACTICS: dict[str, float] = {
    tactic: math.log(p)
    for tactic, p in (
        ("norm_num", 0.16),
        ("linarith", 0.12),
        ("simp", 0.11),
        ("omega", 0.09),
        ("nlinarith", 0.08),
        ("ring_nf", 0.07),
        ("field_simp", 0.06),
        ("positivity", 0.05),
        ("decide", 0.04),
        ("simp_all", 0.04),
        ("norm_num at *", 0.035),
        ("aesop", 0.03),
        ("ring", 0.03),
        ("tauto", 0.02),
        ("intro h", 0.02),
        ("constructor", 0.02),
        ("nlinarith [sq_nonneg (a - b), sq_nonneg (a + b)]", 0.01),
        ("linarith [sq_nonneg (a - b)]", 0.01),
    )
}


class FixedTacticGenerator:
    """Proposes the same automation tactics for every state, best prior first.

    Candidates respect `GenRequest.prefix`: only tactics starting with it are proposed.
    """

    # No model runs: budget accounting (prover.engine.cost) counts no generated tokens for these candidates.
    generates_tokens = False

    def __init__(self, tactics: Mapping[str, float] | Sequence[str] | None = None) -> None:
        if tactics is None:
            priors: dict[str, float] = dict(DEFAULT_FIXED_TACTICS)
        elif isinstance(tactics, Mapping):
            priors = {str(t).strip(): float(lp) for t, lp in tactics.items()}
        else:
            # A bare list: rank by position with a geometric prior.
            priors = {str(t).strip(): -float(i + 1) * math.log(2.0) for i, t in enumerate(tactics)}
        for tactic, logprob in priors.items():
            if not tactic:
                raise ValueError("fixed tactic list contains an empty tactic")
            if math.isnan(logprob) or logprob > 0:
                raise ValueError(f"prior for fixed tactic {tactic!r} must be a log-probability <= 0, got {logprob}")
        if not priors:
            raise ValueError("fixed tactic list is empty")
        # Stable ranking: prior descending, then insertion order.
        self._ranked: list[Candidate] = [
            Candidate(tactic=t, logprob=lp, num_tokens=1) for t, lp in sorted(priors.items(), key=lambda item: -item[1])
        ]

    @property
    def tactics(self) -> list[str]:
        return [c.tactic for c in self._ranked]

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        out: list[list[Candidate]] = []
        for request in requests:
            matching = [c for c in self._ranked if c.tactic.startswith(request.prefix)]
            out.append(matching[: max(k, 0)])
        return out

    def __repr__(self) -> str:
        return f"FixedTacticGenerator({len(self._ranked)} tactics)"
