"""The proof engine: prove targets (theorems or holes) with one strategy, `jobs` at a time, and verify.

`prover prove` runs it over the targets of a file, a sweep's prover actor over one problem at a time; both
get `Outcome`s in the one status vocabulary (`prover.engine.status.Status`) with their cost per round.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lean_env.checks.verdict import ProofVerifier, Rejected, Verdict
from lean_env.types import Env, Theorem
from prover.engine.cost import Meter
from prover.engine.outcome import Outcome
from prover.engine.strategies import Context, SearchStrategy, Strategy
from prover.engine.target import ProofTarget
from search.types import ProgressEvent, SearchResult


@dataclass(frozen=True)
class EngineConfig:
    """How many targets run at once (each on its own Lean process of a pool; also the holes of one repaired
    target) and where search trees go."""

    jobs: int = 1
    tree_dir: Path | None = None


class _Serialised:
    """The verifier behind a lock: a Lean verifier owns one process, shared by every job."""

    def __init__(self, inner: ProofVerifier) -> None:
        self.inner, self.lock = inner, threading.Lock()

    def verify(self, theorem: Theorem, proof: str) -> Verdict:
        with self.lock:
            return self.inner.verify(theorem, proof)

    def __getattr__(self, name: str) -> Any:
        """The inner verifier's other checks (`verify_holes`, `verify_file`), under the same lock."""
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                return attr(*args, **kwargs)

        return locked


class SearchOnly:
    """The verifier of an engine that only searches (`Engine.search`): its caller checks what the search found
    (suggest replays the tactics into its session and writes through its own verifier), so nothing is judged
    proved here."""

    def verify(self, theorem: Theorem, proof: str) -> Verdict:
        return Rejected("this engine only searches; its caller checks the proof")


class Engine:
    """One strategy over a Lean backend and an independent verifier."""

    def __init__(self, strategy: Strategy, env: Env, verifier: ProofVerifier, config: EngineConfig = EngineConfig()):
        self.strategy, self.env, self.verifier, self.config = strategy, env, verifier, config

    def prove(self, target: ProofTarget, on_progress: Callable[[ProgressEvent], None] | None = None) -> Outcome:
        """One target, on the calling thread."""
        ctx = Context(self.env, self.verifier, on_progress, self.config.tree_dir, self.config.jobs)
        return self.strategy.prove(target, ctx)

    def search(self, target: ProofTarget, on_progress: Callable[[ProgressEvent], None] | None = None) -> SearchResult:
        """The `search` strategy's tactic search alone, on the calling thread, with no verdict: for a caller
        that continues from the search's tactics (a suggest session from its current state)."""
        if not isinstance(self.strategy, SearchStrategy):
            raise TypeError(f"Engine.search needs the search strategy, not {self.strategy.name!r}")
        ctx = Context(self.env, self.verifier, on_progress, self.config.tree_dir, self.config.jobs)
        return self.strategy.search(target, ctx, Meter())

    def prove_all(
        self,
        targets: Sequence[ProofTarget],
        on_progress: Callable[[str, ProgressEvent], None] | None = None,
        on_done: Callable[[Outcome], None] | None = None,
    ) -> list[Outcome]:
        """Every target, `config.jobs` at a time; outcomes in target order.

        With more than one job the env must be usable from several threads (ReplPool, ReplayEnv) and the
        strategy's model is shared in batches (`Strategy.shared`); the verifier is called under a lock.
        """
        verifier = _Serialised(self.verifier)

        def one(target: ProofTarget, strategy: Strategy) -> Outcome:
            progress = None if on_progress is None else (lambda event: on_progress(target.name, event))
            ctx = Context(self.env, verifier, progress, self.config.tree_dir, self.config.jobs)
            outcome = strategy.prove(target, ctx)
            if on_done is not None:
                on_done(outcome)
            return outcome

        if self.config.jobs <= 1 or len(targets) <= 1:
            return [one(t, self.strategy) for t in targets]
        with self.strategy.shared() as shared, ThreadPoolExecutor(max_workers=self.config.jobs) as pool:
            futures = [pool.submit(one, t, shared) for t in targets]
            return [f.result() for f in futures]
