"""Explore proof states: best-first search, scoring, budgets, the proof tree. No torch, no Ray."""

from search.best_first import BestFirstSearch
from search.proof_script import ProofStep, flat_script, proof_script
from search.rates import proved_rate, status_counts
from search.scoring import candidate_score
from search.types import (
    Budget,
    Candidate,
    GenRequest,
    InformalContext,
    ProgressEvent,
    Scoring,
    SearchConfig,
    SearchResult,
    SearchStats,
    SearchStatus,
    TacticGenerator,
    ValueFunction,
)

__all__ = [
    "BestFirstSearch",
    "Budget",
    "Candidate",
    "GenRequest",
    "InformalContext",
    "ProgressEvent",
    "ProofStep",
    "Scoring",
    "SearchConfig",
    "SearchResult",
    "SearchStats",
    "SearchStatus",
    "TacticGenerator",
    "ValueFunction",
    "candidate_score",
    "flat_script",
    "proof_script",
    "proved_rate",
    "status_counts",
]
