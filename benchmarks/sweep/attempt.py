"""One attempt at one problem, inside a prover actor (or in-process): search or whole-proof, then verify.

Nothing here imports Ray: the actor is a thin shell around these functions, so they are tested
directly, and the same search code runs in `prover prove` and in a sweep.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from benchmarks.minif2f import NamedFewShot, Problem, few_shot_for
from lean_env.checks.verdict import ProofVerifier
from lean_env.types import ClosingContext, Env, HoleTarget, ProofState, TacticResult, Theorem
from prover.engine import Engine, Outcome, ProofTarget, SearchStrategy, Status, Strategy, WholeStrategy
from prover.engine.correct import ChatSampler, CorrectionConfig
from prover.engine.correction import ChatTurn
from prover.engine.strategies import Sample
from prover.generators.sanitize import drop_reasoning
from prover.generators.whole_proof import Completion, WholeProof, as_completion
from prover.templates import WHOLE_PROOF_STOP
from search.types import InformalContext, SearchConfig, TacticGenerator

if TYPE_CHECKING:
    from prover.generators.scripted import ScriptedOutputs


@runtime_checkable
class ProofCompleter(Protocol):
    """Whole-proof generation: one sampled completion per prompt (call again for more samples)."""

    def __call__(self, prompts: Sequence[str]) -> Sequence[str | Completion]: ...


class NoEnv(ClosingContext):
    """The Lean backend of a whole-proof attempt, which only the verifier compiles: never asked for a state."""

    def start(self, theorem: Theorem) -> ProofState:
        raise RuntimeError("a whole-proof attempt runs no tactic")

    def start_hole(self, target: HoleTarget) -> ProofState:
        raise RuntimeError("a whole-proof attempt runs no tactic")

    def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> TacticResult:
        raise RuntimeError("a whole-proof attempt runs no tactic")

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class AttemptJob:
    problem: Problem
    attempt: int
    task: str  # "f2f" | "i2f"
    mode: str  # "search" | "whole" | "correct"
    prompt: str | None = None  # whole-proof prompt, built by the driver


@dataclass(frozen=True)
class AttemptOutcome:
    """What an attempt found, as a sweep's results line carries it (from the engine's `Outcome`).

    `retriable` marks a failure of the machinery (crashed Lean, dead generator)."""

    status: Status
    proved: bool = False
    verdict: str | None = None
    checker: str | None = None
    verdict_reason: str | None = None
    proof: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    retriable: bool = False
    started_at: float = 0.0
    finished_at: float = 0.0
    worker: str = ""
    strategy: str = ""
    costs: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_outcome(cls, outcome: Outcome, started_at: float) -> AttemptOutcome:
        judged = outcome.proof is not None and outcome.status in (Status.PROVED, Status.REJECTED)
        verdict = None if outcome.verifier_failed or not judged else "verified" if outcome.proved else "rejected"
        failed = outcome.verifier_failed or not (judged or outcome.proved)
        return cls(
            status=outcome.status,
            proved=outcome.proved,
            verdict=verdict,
            checker=outcome.checker if verdict is not None else None,
            verdict_reason=outcome.reason,
            proof=outcome.proof,
            stats=dict(outcome.stats),
            error=(outcome.message or None) if failed else None,
            retriable=outcome.retriable,
            started_at=started_at,
            finished_at=time.time(),
            strategy=outcome.strategy,
            costs=outcome.cost_dicts(),
            attempts=[a.to_dict() for a in outcome.attempts],
        )


def informal_context(job: AttemptJob) -> InformalContext | None:
    """The informal statement and proof guide the prover only in the informal-to-formal task."""
    thm = job.problem.theorem
    if job.task != "i2f" or not (thm.informal_statement or thm.informal_proof):
        return None
    return InformalContext(statement=thm.informal_statement, proof=thm.informal_proof)


def _target(job: AttemptJob) -> ProofTarget:
    return ProofTarget(job.problem.name, job.problem.theorem, context=informal_context(job), prompt=job.prompt)


def run_search_attempt(
    job: AttemptJob, env: Env, generator: TacticGenerator, verifier: ProofVerifier, config: SearchConfig
) -> AttemptOutcome:
    """Best-first search from the formal statement (guided by the informal proof in i2f), then verify: the
    engine's `search` strategy, as `prover prove` runs it."""
    started = time.time()
    outcome = Engine(SearchStrategy(generator, config), env, verifier).prove(_target(job))
    return AttemptOutcome.from_outcome(outcome, started)


def whole_proof_request(
    problem: Problem,
    task: str,
    few_shot: Sequence[NamedFewShot],
    num_few_shot: int,
    template: str = "deepseek-v1.5",
) -> str:
    """The whole-proof prompt (or chat user message) for `problem` in `template`'s format
    (`prover.generators.whole_proof`); in i2f the informal statement and proof go where the template puts them."""
    from prover.generators.whole_proof import whole_proof_request as request

    thm = problem.theorem
    context = InformalContext(thm.informal_statement, thm.informal_proof) if task == "i2f" else None
    return request(thm, context, template, few_shot_for(problem.name, few_shot, num_few_shot))


def extract_whole_proof(completion: str, theorem_name: str | None = None) -> str:
    """The tactic block of a completion: a continuation is cut at the closing code fence (indentation kept);
    a completion with ```` ```lean4 ```` blocks (chat provers) gives the proof in its last block."""
    from prover.generators.whole_proof import extract_whole_proof as extract

    text = drop_reasoning(completion)
    if text is not None and re.search(r"^[ \t]*```[ \t]*lean4?[ \t]*$", text, re.MULTILINE):
        return extract(completion, theorem_name, continuation=False) or ""
    if text is None:
        return ""
    for stop in WHOLE_PROOF_STOP:
        pos = text.find(stop)
        if pos != -1:
            text = text[:pos]
    return text.rstrip()


@dataclass(frozen=True)
class CompleterSampler:
    """The engine's whole-proof sampler over a sweep's `ProofCompleter` (the generator actor): the driver's
    prompt, one completion per call."""

    completer: ProofCompleter

    def __call__(self, target: ProofTarget, n: int) -> list[Sample]:
        if target.prompt is None:
            raise ValueError("a whole-proof attempt needs its prompt")
        completions = [as_completion(c) for c in self.completer([target.prompt] * n)]
        return [Sample(c.text, hit_limit=c.hit_limit) for c in completions]


def whole_proof_extract(completion: str, theorem_name: str) -> WholeProof | None:
    """`extract_whole_proof`, with the helper lemmas a chat prover's block uses before the theorem."""
    from prover.generators.whole_proof import read_whole_proof

    text = drop_reasoning(completion)
    if text is not None and re.search(r"^[ \t]*```[ \t]*lean4?[ \t]*$", text, re.MULTILINE):
        return read_whole_proof(completion, theorem_name, continuation=False)
    proof = extract_whole_proof(completion, theorem_name)
    return WholeProof(proof) if proof else None


@dataclass(frozen=True)
class RepairOptions:
    """`sweep --repair`: a rejected sample's failing blocks become holes, searched from their goals with these
    automation tactics (`[generator] fixed_tactics`) under the sweep's search settings."""

    fixed_tactics: dict[str, float] | None
    search: SearchConfig


def run_whole_attempt(
    job: AttemptJob,
    completer: ProofCompleter,
    verifier: ProofVerifier,
    env: Env | None = None,
    repair: RepairOptions | None = None,
) -> AttemptOutcome:
    """One sampled whole proof, checked by the verifier (pass@N is N of these): the engine's `whole` strategy,
    or with `repair` (and the actor's Lean `env` to search holes in) its `repair` strategy over it."""
    if job.prompt is None:
        raise ValueError("a whole-proof attempt needs its prompt")
    started = time.time()
    # The results line keeps each attempt's helper lemmas with its proof, so the verifier may judge them.
    strategy: Strategy = WholeStrategy(CompleterSampler(completer), 1, whole_proof_extract, accept_helpers=True)
    if repair is not None and env is not None:
        from prover.engine.repair import RepairStrategy
        from prover.generators.fixed import FixedTacticGenerator

        filler = SearchStrategy(FixedTacticGenerator(repair.fixed_tactics), repair.search)
        strategy = RepairStrategy(strategy, filler)
    engine = Engine(strategy, env if env is not None and repair is not None else NoEnv(), verifier)
    return AttemptOutcome.from_outcome(engine.prove(_target(job)), started)


class ChatCompleter(Protocol):
    """The sweep's chat model (the generator actor): one reply per conversation (each a list of
    `{"role", "content"}` turns, rendered by the model tokenizer's own chat template where the model runs), and
    a conversation's prompt size in that tokenizer's tokens."""

    def chat(self, conversations: Sequence[list[dict[str, str]]]) -> Sequence[str | Completion]: ...

    def prompt_tokens(self, conversation: list[dict[str, str]]) -> int: ...


@dataclass(frozen=True)
class CorrectionOptions:
    """`sweep --strategy correct`: the rounds (`--correction-rounds`, `--correction-samples`) and the whole-proof
    template whose chat opens each attempt (its system turn, if any, then the driver's request)."""

    config: CorrectionConfig
    template: str


@dataclass(frozen=True)
class ChatCompleterSampler:
    """The engine's chat sampler (`prover.engine.correct.ChatSampler`) over the sweep's chat model."""

    completer: ChatCompleter
    template: str

    def opening(self, target: ProofTarget) -> list[ChatTurn]:
        from prover.templates import get_whole_template

        if target.prompt is None:
            raise ValueError("a whole-proof attempt needs its prompt")
        return [ChatTurn(m["role"], m["content"]) for m in get_whole_template(self.template).messages(target.prompt)]

    def chat(self, target: ProofTarget, turns: Sequence[ChatTurn], round_number: int, n: int) -> list[Sample]:
        conversation = [t.to_json() for t in turns]
        completions = [as_completion(c) for c in self.completer.chat([conversation] * n)]
        return [Sample(c.text, hit_limit=c.hit_limit) for c in completions]

    def prompt_tokens(self, turns: Sequence[ChatTurn]) -> int:
        return self.completer.prompt_tokens([t.to_json() for t in turns])


def run_correct_attempt(
    job: AttemptJob, sampler: ChatSampler, extract: Any, verifier: ProofVerifier, config: CorrectionConfig
) -> AttemptOutcome:
    """One whole proof, then `config.rounds` rounds of self-correction from Lean's errors: the engine's `correct`
    strategy, as `prover prove --strategy correct` runs it; every round's attempts and costs are recorded."""
    from prover.engine.correct import CorrectStrategy

    started = time.time()
    strategy = CorrectStrategy(sampler, config, extract)
    return AttemptOutcome.from_outcome(Engine(strategy, NoEnv(), verifier).prove(_target(job)), started)


def run_scripted_attempt(job: AttemptJob, outputs: ScriptedOutputs, verifier: ProofVerifier) -> AttemptOutcome:
    """Attempt I of a problem is sample I of the played-back outputs (`prover.generators.scripted`), verified
    like any model's proof: published results re-verified."""
    from prover.generators.scripted import ScriptedSampler

    started = time.time()
    sampler = ScriptedSampler(outputs, first=job.attempt)
    strategy = WholeStrategy(sampler, 1, sampler.extract)
    return AttemptOutcome.from_outcome(Engine(strategy, NoEnv(), verifier).prove(_target(job)), started)
