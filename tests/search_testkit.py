"""Test doubles for the search tests: a scripted Env over a dict of transitions, scripted generators,
a fake clock, and a cassette built from real LeanDojo proofsteps.

None of these is Lean: the dict Env answers only the transitions a test wrote down (anything else is
a LeanError saying so), and the replay pieces are lean_env's own replay backend over real recordings.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from lean_env.types import (
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
class DictEnv:
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

    def __enter__(self) -> DictEnv:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


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


def theorem(name: str = "t") -> Theorem:
    return Theorem(name=name, statement=f"theorem {name} : True")


def failing_generator(message: str) -> Callable[[Sequence[GenRequest], int], list[list[Candidate]]]:
    def gen(requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        raise RuntimeError(message)

    return gen


# ------------------------------------------------------------------ real recordings (LeanDojo Benchmark 4)

LEANDOJO_FILE = "leandojo_benchmark4_random_test_sample100.jsonl"


def leandojo_rows(shared: Path) -> list[dict[str, object]]:
    path = shared / "data" / "proofsteps" / LEANDOJO_FILE
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def chained_proofs(rows: Iterable[dict[str, object]]) -> dict[str, list[dict[str, object]]]:
    """Theorems whose recorded steps chain state_before -> state_after from step 0 to "no goals"."""
    by_theorem: dict[str, list[dict[str, object]]] = defaultdict(list)
    for row in rows:
        by_theorem[str(row["theorem"])].append(row)
    chained = {}
    for name, steps in by_theorem.items():
        steps.sort(key=lambda r: int(r["step"]))  # type: ignore[call-overload]
        links = all(a["state_after"] == b["state_before"] for a, b in zip(steps, steps[1:], strict=False))
        if links and steps[0]["step"] == 0 and steps[-1]["state_after"] == "no goals":
            chained[name] = steps
    return chained


@functools.cache
def leandojo_cassette(shared: Path):  # type: ignore[no-untyped-def]
    from lean_env.cassette.store import build_from_proofsteps

    return build_from_proofsteps([shared / "data" / "proofsteps" / LEANDOJO_FILE]).cassette


@dataclass
class GrowingEnv:
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

    def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> TacticResult:
        self.calls.append((state.pp, tactic, timeout))
        if self.clock is not None:
            self.clock.advance(self.tactic_cost)
        if self.finish_at.get(state.pp) == tactic:
            return ProofFinished()
        return StateResult(ProofState.from_pp(f"{state.pp}.{tactic}", handle=len(self.calls)))

    def close(self) -> None:
        pass

    def __enter__(self) -> GrowingEnv:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
