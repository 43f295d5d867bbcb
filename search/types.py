"""The seams of the search: what it asks a tactic generator, how it is configured, what it returns.

Pure Python: nothing here imports torch or Ray.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import networkx as nx


@dataclass(frozen=True)
class InformalContext:
    """Natural-language guidance for informal-to-formal proving."""

    statement: str | None = None
    proof: str | None = None


@dataclass(frozen=True)
class GenRequest:
    """One proof state for which tactics are wanted.

    `state` is the pretty-printed goal list (`ProofState.pp`). `prefix` is a tactic
    prefix every candidate must start with (Lean Copilot's `prefix`). `proof_before` holds the
    tactics from the theorem's start to this state, in order (prompts with a proof-so-far field).
    """

    state: str
    context: InformalContext | None = None
    theorem_name: str | None = None
    prefix: str = ""
    proof_before: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """A proposed tactic with its sequence log-probability (higher is better)."""

    tactic: str
    logprob: float
    num_tokens: int = 1


@runtime_checkable
class TacticGenerator(Protocol):
    """Maps a batch of states to ranked, unique candidates (best first), one list per request."""

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]: ...


class Scoring(str, enum.Enum):  # noqa: UP042 - StrEnum would change str() and format() of members
    """How a frontier node's priority is computed from the tactics on its path."""

    SUM_LOGPROB = "sum_logprob"  # ReProver
    LENGTH_NORMALIZED = "length_normalized"  # Llemma formal2formal, BFS-Prover


@runtime_checkable
class ValueFunction(Protocol):
    """Optional critic: a score added to a node's priority (higher is better)."""

    def __call__(self, states: Sequence[str]) -> list[float]: ...


@dataclass(frozen=True)
class Budget:
    """Limits for one theorem. `None` means unlimited."""

    time_s: float | None = 600.0
    tactic_timeout_s: float = 5.0
    max_expansions: int | None = 100
    max_lean_calls: int | None = None


@dataclass(frozen=True)
class SearchConfig:
    num_tactics: int = 32
    scoring: Scoring = Scoring.LENGTH_NORMALIZED
    expansion_batch: int = 1
    budget: Budget = field(default_factory=Budget)
    value_weight: float = 0.0


class SearchStatus(str, enum.Enum):  # noqa: UP042 - StrEnum would change str() and format() of members
    PROVED = "proved"
    FAILED_EXHAUSTED = "failed_exhausted"
    FAILED_TIME = "failed_time"
    FAILED_EXPANSIONS = "failed_expansions"
    FAILED_LEAN_CALLS = "failed_lean_calls"
    FAILED_START = "failed_start"
    FAILED_ERROR = "failed_error"

    @property
    def proved(self) -> bool:
        return self is SearchStatus.PROVED


@dataclass(frozen=True)
class ProgressEvent:
    """A snapshot sent to `BestFirstSearch(on_progress=...)` after every expansion round."""

    theorem_name: str
    expansions: int
    nodes: int
    lean_calls: int
    frontier: int
    max_depth: int
    elapsed_s: float


@dataclass(frozen=True)
class SearchStats:
    expansions: int = 0
    nodes: int = 0
    lean_calls: int = 0
    model_time_s: float = 0.0
    lean_time_s: float = 0.0
    search_time_s: float = 0.0
    total_time_s: float = 0.0
    max_depth: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


_UNBUILT = object()


@dataclass(frozen=True)
class SearchResult:
    """Outcome of one search. `proof` is an indented tactic script, `tactics` the same steps flat.

    A PROVED search result is a claim, not a verdict: only the verifier (`lean_env.checks.verifier`) decides.
    `tree` (a networkx DiGraph, see `search.tree`) is built by `tree_builder` from the search's compact
    records the first time it is read, then kept: a sweep, which never reads it, never pays for it.
    """

    theorem_name: str
    status: SearchStatus
    proof: str | None
    tactics: tuple[str, ...]
    stats: SearchStats
    message: str = ""
    tree_builder: Callable[[], nx.DiGraph] | None = field(default=None, repr=False, compare=False)
    # The exception that ended a failed start or a failed search (None otherwise): callers tell a backend
    # failure from a theorem's by its type, not by the words of `message`.
    cause: BaseException | None = field(default=None, repr=False, compare=False)

    @property
    def tree(self) -> nx.DiGraph | None:
        built = self.__dict__.get("_tree", _UNBUILT)
        if built is _UNBUILT:
            built = self.tree_builder() if self.tree_builder is not None else None
            object.__setattr__(self, "_tree", built)  # a cache on a frozen record: set once, never changed
        return built

    def to_dict(self) -> dict[str, Any]:
        return {
            "theorem": self.theorem_name,
            "status": self.status.value,
            "proof": self.proof,
            "tactics": list(self.tactics),
            "stats": self.stats.to_dict(),
            "message": self.message,
        }
