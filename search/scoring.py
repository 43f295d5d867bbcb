"""How a tactic candidate contributes to the priority of the node it leads to.

A node's path score is the sum of its edges' candidate scores; the frontier pops the highest
priority first (priority = path score + value_weight * value, when a critic is given).
"""

from __future__ import annotations

import math

from search.types import Candidate, Scoring


def candidate_score(candidate: Candidate, scoring: Scoring) -> float:
    """The score one tactic adds to its path.

    SUM_LOGPROB (ReProver): the sequence log-probability. LENGTH_NORMALIZED (Llemma, BFS-Prover):
    log-probability per generated token, so long tactics are not penalised for their length.
    A NaN from a broken model ranks last instead of poisoning the heap's ordering.
    """
    logprob = float(candidate.logprob)
    if math.isnan(logprob):
        return -math.inf
    if scoring is Scoring.SUM_LOGPROB:
        return logprob
    return logprob / max(int(candidate.num_tokens), 1)
