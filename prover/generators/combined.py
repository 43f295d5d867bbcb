"""Merge a model's candidates with a fallback generator's (usually the fixed automation tactics)."""

from __future__ import annotations

from collections.abc import Sequence

from search.types import Candidate, GenRequest, TacticGenerator


def merge_candidates(lists: Sequence[Sequence[Candidate]]) -> list[Candidate]:
    """Union of candidate lists, one entry per tactic (the best log-probability wins), best first."""
    best: dict[str, Candidate] = {}
    for candidates in lists:
        for cand in candidates:
            kept = best.get(cand.tactic)
            if kept is None or cand.logprob > kept.logprob:
                best[cand.tactic] = cand
    return sorted(best.values(), key=lambda c: -c.logprob)


class CombinedGenerator:
    """Asks the model and the fallback for `k` candidates each and merges them.

    The result has at most `k` unique tactics, sorted by log-probability. Because model
    sequence log-probabilities and fallback priors live on different scales, up to
    `reserved_fallback` slots are kept for the best fallback tactics even when the model's
    candidates all score higher: the fallback is always tried.
    """

    def __init__(self, model: TacticGenerator, fallback: TacticGenerator, reserved_fallback: int = 4) -> None:
        if reserved_fallback < 0:
            raise ValueError("reserved_fallback must be >= 0")
        self.model = model
        self.fallback = fallback
        self.reserved_fallback = reserved_fallback

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        if k <= 0:
            return [[] for _ in requests]
        model_out = self.model(requests, k)
        fallback_out = self.fallback(requests, k)
        return [self._combine(m, f, k) for m, f in zip(model_out, fallback_out, strict=True)]

    def _combine(self, model: list[Candidate], fallback: list[Candidate], k: int) -> list[Candidate]:
        merged = merge_candidates([model, fallback])
        top = merged[:k]
        fallback_tactics = {c.tactic for c in fallback}
        have = sum(1 for c in top if c.tactic in fallback_tactics)
        want = min(self.reserved_fallback, len(fallback_tactics), k)
        if have >= want:
            return top
        chosen = {c.tactic for c in top}
        missing = [c for c in merged if c.tactic in fallback_tactics and c.tactic not in chosen][: want - have]
        # Drop the lowest-ranked model-only candidates to make room.
        keep_model = [c for c in top if c.tactic not in fallback_tactics]
        keep_model = keep_model[: len(keep_model) - len(missing)]
        keep_fallback = [c for c in top if c.tactic in fallback_tactics]
        return sorted(keep_model + keep_fallback + missing, key=lambda c: -c.logprob)
