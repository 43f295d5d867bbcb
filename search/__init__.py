"""Explore proof states: best-first search, scoring, budgets, the proof tree. No torch, no Ray."""

from search.types import (
    Budget,
    Candidate,
    GenRequest,
    InformalContext,
    Scoring,
    SearchConfig,
    SearchResult,
    SearchStats,
    SearchStatus,
    TacticGenerator,
    ValueFunction,
)

__all__ = [
    "Budget",
    "Candidate",
    "GenRequest",
    "InformalContext",
    "Scoring",
    "SearchConfig",
    "SearchResult",
    "SearchStats",
    "SearchStatus",
    "TacticGenerator",
    "ValueFunction",
]
