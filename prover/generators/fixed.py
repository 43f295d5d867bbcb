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


# Lean's own model-free suggestions, each with the first release that has it and a prior. A suggestion that
# succeeds is written into the proof in the stable form its "Try this" message gives (`lean_env.try_this`):
# - `exact?`: every release the REPL supports (recorded: ../shared/lean_fixtures/repl_versions/*/Mathlib/test/
#   exact.expected.out);
# - `grind`: ships with Lean from v4.22.0 (the language reference's `grind` chapter, 4.22.0);
# - `simp_all? +suggestions`: library suggestions (`Lean.LibrarySuggestions`), taken from v4.27.0, the first
#   recorded release after the ones (v4.26, lean4#11132) whose `try?` already calls it.
LEAN_SUGGESTION_TACTICS: tuple[tuple[str, str, float], ...] = (
    ("exact?", "v4.8.0", math.log(0.03)),
    ("grind", "v4.22.0", math.log(0.03)),
    ("simp_all? +suggestions", "v4.27.0", math.log(0.02)),
)


def lean_suggestion_tactics(lean_version: str) -> dict[str, float]:
    """Lean's model-free suggestion tactics that `lean_version` (`v4.24.0` or a `lean-toolchain` line) has,
    with their priors; none for a version that names no release."""
    from lean_env.project.repl_versions import lean_version_key

    have = lean_version_key(lean_version.rsplit(":", 1)[-1])
    if have is None:
        return {}
    out: dict[str, float] = {}
    for tactic, since, prior in LEAN_SUGGESTION_TACTICS:
        first = lean_version_key(since)
        if first is not None and have >= first:
            out[tactic] = prior
    return out


def with_lean_suggestions(priors: Mapping[str, float] | None, lean_version: str) -> dict[str, float]:
    """`priors` (default: `DEFAULT_FIXED_TACTICS`) plus the Lean version's own suggestion tactics."""
    merged = dict(DEFAULT_FIXED_TACTICS if priors is None else priors)
    for tactic, prior in lean_suggestion_tactics(lean_version).items():
        merged.setdefault(tactic, prior)
    return merged


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
