"""Test doubles for searches, shared by the tests and the benchmarks (public API, never Lean).

Like httpx's `MockTransport`, these stand where the real seam is (`lean_env.types.Env`, the
`search.types.TacticGenerator` call) and answer only what the caller scripted:
- `DictEnv` answers `transitions[(state_pp, tactic)]`; anything unscripted is a `LeanError` saying so.
- `GrowingEnv` is an infinite tree (every tactic succeeds), so only a budget ends a search.
- `ReplayedEnv` / `ReplayedGenerator` answer precomputed results in call order at zero cost, so a
  benchmark measures the search's own overhead.
- `ScriptedGenerator` proposes scripted candidates per state and records each batch.
- `FakeClock` is advanced by the doubles, so time budgets are tested without sleeping.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from lean_env.errors import TheoremStartError
from lean_env.types import (
    ClosingContext,
    HoleTarget,
    LeanError,
    ProofFinished,
    ProofState,
    StateResult,
    TacticResult,
    Theorem,
)
from search.types import Candidate, GenRequest

FINISHED = "<finished>"


class FakeClock:
    """A clock the doubles advance, so time budgets are tested without sleeping."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class DictEnv(ClosingContext):
    """An Env whose answers come from `transitions[(state_pp, tactic)]`.

    A value is a state pp (str), FINISHED, or any TacticResult. Unscripted tactics are LeanErrors.
    `tactic_cost` advances `clock` per call, imitating Lean's latency.
    """

    root: str
    transitions: Mapping[tuple[str, str], str | TacticResult]
    clock: FakeClock | None = None
    tactic_cost: float = 0.0
    start_error: Exception | None = None
    raise_on: str | None = None  # a tactic whose run raises, like a crashed backend
    calls: list[tuple[str, str, float | None]] = field(default_factory=list)

    def start(self, theorem: Theorem) -> ProofState:
        if self.start_error is not None:
            raise self.start_error
        return ProofState.from_pp(self.root, handle="root")

    def start_hole(self, target: HoleTarget) -> ProofState:
        raise TheoremStartError(f"{type(self).__name__} starts only at a theorem's statement, not at a hole")

    def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> TacticResult:
        self.calls.append((state.pp, tactic, timeout))
        if self.clock is not None:
            self.clock.advance(self.tactic_cost)
        if tactic == self.raise_on:
            from lean_env.errors import LeanCrashError

            raise LeanCrashError("the Lean process died (exit code 137)")
        out = self.transitions.get((state.pp, tactic))
        if out is None:
            return LeanError(f"scripted env: no transition for `{tactic}`")
        if out == FINISHED:
            return ProofFinished()
        if isinstance(out, str):
            return StateResult(ProofState.from_pp(out, handle=len(self.calls)))
        return out

    def close(self) -> None:
        pass


@dataclass
class ScriptedGenerator:
    """Proposes `proposals[state_pp]` (tactic, logprob[, num_tokens]) for each state, best first.

    `default` is proposed for states without an entry. Records every call's batch size.
    """

    proposals: Mapping[str, Sequence[tuple[str, float] | tuple[str, float, int]]] = field(default_factory=dict)
    default: Sequence[tuple[str, float] | tuple[str, float, int]] = ()
    clock: FakeClock | None = None
    cost: float = 0.0
    batches: list[list[str]] = field(default_factory=list)

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        self.batches.append([r.state for r in requests])
        if self.clock is not None:
            self.clock.advance(self.cost)
        out = []
        for r in requests:
            props = self.proposals.get(r.state, self.default)
            out.append([Candidate(*p) for p in props][:k])
        return out


@dataclass
class GrowingEnv(ClosingContext):
    """An Env of an infinite tree: every tactic succeeds with the new state `<state>.<tactic>`.

    `finish_at` maps a state pp to the tactic that closes it. No state is ever revisited, so only a
    budget ends a search without a proof.
    """

    clock: FakeClock | None = None
    tactic_cost: float = 0.0
    finish_at: Mapping[str, str] = field(default_factory=dict)
    calls: list[tuple[str, str, float | None]] = field(default_factory=list)

    def start(self, theorem: Theorem) -> ProofState:
        return ProofState.from_pp("⊢ root", handle=0)

    def start_hole(self, target: HoleTarget) -> ProofState:
        raise TheoremStartError(f"{type(self).__name__} starts only at a theorem's statement, not at a hole")

    def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> TacticResult:
        self.calls.append((state.pp, tactic, timeout))
        if self.clock is not None:
            self.clock.advance(self.tactic_cost)
        if self.finish_at.get(state.pp) == tactic:
            return ProofFinished()
        return StateResult(ProofState.from_pp(f"{state.pp}.{tactic}", handle=len(self.calls)))

    def close(self) -> None:
        pass


class ReplayedEnv(ClosingContext):
    """Zero-latency Env: answers the precomputed results in order, whatever the tactic."""

    def __init__(self, results: Sequence[TacticResult], root: ProofState) -> None:
        self.results = results
        self.root = root
        self.next = 0

    def start(self, theorem: Theorem) -> ProofState:
        return self.root

    def start_hole(self, target: HoleTarget) -> ProofState:
        raise TheoremStartError(f"{type(self).__name__} starts only at a theorem's statement, not at a hole")

    def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> TacticResult:
        result = self.results[self.next]
        self.next += 1
        return result

    def close(self) -> None:
        pass


class ReplayedGenerator:
    """Zero-latency generator: the precomputed candidate lists, one per requested state, in order."""

    def __init__(self, candidates: Sequence[list[Candidate]]) -> None:
        self.candidates = candidates
        self.next = 0

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        out = [self.candidates[self.next + j] for j in range(len(requests))]
        self.next += len(requests)
        return out


def theorem(name: str = "t") -> Theorem:
    return Theorem(name=name, statement=f"theorem {name} : True")


def failing_generator(message: str) -> Callable[[Sequence[GenRequest], int], list[list[Candidate]]]:
    def gen(requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        raise RuntimeError(message)

    return gen
