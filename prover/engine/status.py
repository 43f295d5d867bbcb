"""The one status vocabulary of a proof target's outcome, shared by `prove` reports and sweep results."""

from __future__ import annotations

from enum import StrEnum

from search.types import SearchStatus


class Status(StrEnum):
    """How proving one target (a theorem, or one hole of a skeleton) ended.

    Only `PROVED` is a proof, and only after the independent verifier said so. `FOUND` is a hole's script
    waiting for its declaration's whole check (never a final status of a theorem). `PARTIAL` is a sketch with
    fewer holes than the original, never counted as proved.
    """

    PROVED = "proved"
    PARTIAL = "partial"
    FOUND = "found"
    EXHAUSTED = "exhausted"  # the budget (expansions, Lean calls, samples) or the search space ran out
    TRUNCATED = "truncated"  # every sample without a proof was cut off by the model's token limit
    TIMED_OUT = "timed_out"  # the wall-clock budget ran out
    REJECTED = "rejected"  # a candidate proof existed; the verifier refused it (or could not run)
    FAILED_START = "failed_start"  # the target's statement or hole could not be entered
    CRASHED = "crashed"  # Lean, the model or the actor failed mid-way
    BACKEND_UNAVAILABLE = "backend_unavailable"  # the backend cannot work at all: no target's result

    @property
    def proved(self) -> bool:
        return self is Status.PROVED

    @classmethod
    def from_search(cls, status: SearchStatus) -> Status:
        """The search's reason for stopping, as an outcome status."""
        return _FROM_SEARCH[status]

    @classmethod
    def from_legacy(cls, value: str, *, proved: bool = False) -> Status:
        """A status string of a schema-1 results line or prove report (or of this enum) as a `Status`.

        Raises ValueError for a string no version ever wrote."""
        if proved:
            return cls.PROVED
        try:
            return cls(value)
        except ValueError:
            pass
        if value in _LEGACY:
            return _LEGACY[value]
        raise ValueError(f"unknown outcome status {value!r}")


_FROM_SEARCH = {
    SearchStatus.PROVED: Status.FOUND,  # a search's proof is a claim until the verifier has seen it
    SearchStatus.FAILED_EXHAUSTED: Status.EXHAUSTED,
    SearchStatus.FAILED_EXPANSIONS: Status.EXHAUSTED,
    SearchStatus.FAILED_LEAN_CALLS: Status.EXHAUSTED,
    SearchStatus.FAILED_TIME: Status.TIMED_OUT,
    SearchStatus.FAILED_START: Status.FAILED_START,
    SearchStatus.FAILED_ERROR: Status.CRASHED,
}

# What schema 1 wrote: SearchStatus values, "no_proof" for an empty whole-proof completion, "crashed".
_LEGACY = {
    **{s.value: status for s, status in _FROM_SEARCH.items() if s is not SearchStatus.PROVED},
    "no_proof": Status.EXHAUSTED,
}
