"""Ray actors of a sweep, written as plain classes (wrapped by `ray.remote` in the driver).

- `GeneratorServer` owns the model (on a GPU when asked). With an HF model, requests from many
  concurrent searches are queued and run as one model call: up to `max_batch` requests, or whatever
  arrived within `max_wait_ms` of the first one (dynamic batching); it records every batch size.
  With vLLM (a generator with an `agenerate` coroutine, `AsyncVLLMGenerator`), each request goes
  straight into vLLM's async engine, which batches continuously (requests join and leave between
  decoding steps): the recorded "batch" is the number of states in the engine when a request joins,
  and a "call" is a busy period of the engine (start, seconds, states served), so bench_sweep.py's
  mean batch and busy fraction and the sizing model read both kinds the same way.
- `ProverWorker` runs on CPU. It owns its Lean environment and verifier, and runs one attempt at a
  time with the ordinary search code; its tactic generator is an adapter that calls the server.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from benchmarks.sweep.attempt import (
    AttemptJob,
    AttemptOutcome,
    ChatCompleterSampler,
    CorrectionOptions,
    ProofCompleter,
    RepairOptions,
    run_correct_attempt,
    run_scripted_attempt,
    run_search_attempt,
    run_whole_attempt,
    whole_proof_extract,
)
from lean_env.checks.verdict import ProofVerifier
from lean_env.errors import BackendUnavailableError
from lean_env.types import Env
from prover.config import GeneratorConfig, LeanConfig
from prover.engine import Status
from prover.generators.whole_proof import Completion
from search.types import Candidate, GenRequest, SearchConfig, TacticGenerator

TACTICS = "tactics"
COMPLETIONS = "completions"
CHATS = "chats"  # conversations of the `correct` strategy, rendered by the model tokenizer's chat template


# ----------------------------------------------------------------------------- factories (picklable)


@dataclass(frozen=True)
class ConfigEnvFactory:
    """The configured Lean backend (`prover.backends.make_env`)."""

    lean: LeanConfig

    def __call__(self) -> Env:
        from prover.backends import make_env

        return make_env(self.lean)


@dataclass(frozen=True)
class ConfigVerifierFactory:
    lean: LeanConfig
    infotree: str | None = None  # each compile's info tree, for Kimina-Prover's correction turn

    def __call__(self) -> ProofVerifier:
        from prover.backends import make_verifier

        return make_verifier(self.lean) if self.infotree is None else make_verifier(self.lean, infotree=self.infotree)


@dataclass(frozen=True)
class ConfigGeneratorFactory:
    generator: GeneratorConfig

    def __call__(self) -> TacticGenerator:
        from prover.generators import make_generator
        from prover.offline import require_model

        # On the generator's own node (a cluster's driver cannot see its cache): one line, not a minute of retries.
        require_model(self.generator.kind, self.generator.model)
        if self.generator.kind == "vllm":
            # vLLM's async engine: each request goes straight in and joins its continuous batching.
            from prover.generators import apply_preset, resolve_template
            from prover.generators.vllm import AsyncVLLMGenerator

            template = resolve_template(self.generator)
            cfg = self.generator if self.generator.custom_prompt is not None else apply_preset(self.generator).config
            return AsyncVLLMGenerator.from_config(cfg, template)  # type: ignore[return-value]
        return make_generator(self.generator)


@dataclass(frozen=True)
class ConfigCompleterFactory:
    generator: GeneratorConfig

    def __call__(self) -> ProofCompleter:
        from benchmarks.sweep.completion import HFCompleter
        from prover.offline import require_model

        require_model(self.generator.kind, self.generator.model)
        return HFCompleter(self.generator)


# ----------------------------------------------------------------------------- generator actor


@dataclass
class _Pending:
    kind: str
    k: int
    item: Any
    future: asyncio.Future[Any]


class GeneratorServer:
    """Dynamic batching over one model. Ray runs it as an async actor; model calls run in one thread."""

    def __init__(
        self,
        tactic_factory: Callable[[], TacticGenerator] | None,
        completer_factory: Callable[[], ProofCompleter] | None,
        max_batch: int = 32,
        max_wait_ms: float = 5.0,
    ) -> None:
        # Built here, once per actor: the model loads on this actor's GPU and stays there.
        self._tactics = tactic_factory() if tactic_factory is not None else None
        self._completer = completer_factory() if completer_factory is not None else None
        self.max_batch = max_batch
        self.max_wait_s = max_wait_ms / 1000.0
        self._queue: asyncio.Queue[_Pending] | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._model_thread = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self._batch_sizes: list[int] = []
        # (unix start time, seconds, batch size) per model call: the generator's measured service curve,
        # read by `prover sweep --actors auto` (benchmarks.sizing) and bench_sweep.py (busy fraction).
        self._calls: list[tuple[float, float, int]] = []
        # vLLM's async engine: no queue here, the engine batches continuously.
        self._agenerate: Callable[..., Awaitable[list[list[Candidate]]]] | None = getattr(
            self._tactics, "agenerate", None
        )
        self._in_flight = 0
        self._period: tuple[float, float] | None = None  # (unix start, perf_counter start) of a busy period
        self._period_served = 0

    async def generate(self, requests: list[GenRequest], k: int) -> list[list[Candidate]]:
        """Candidates for each request; the requests join whatever batch is forming (or the engine's)."""
        if self._agenerate is not None:
            return await self._generate_async(self._agenerate, requests, k)
        return list(await asyncio.gather(*(self._submit(TACTICS, k, r) for r in requests)))

    async def _generate_async(
        self, agenerate: Callable[..., Awaitable[list[list[Candidate]]]], requests: list[GenRequest], k: int
    ) -> list[list[Candidate]]:
        if self._in_flight == 0:
            self._period = (time.time(), time.perf_counter())
            self._period_served = 0
        self._in_flight += len(requests)
        self._batch_sizes.append(self._in_flight)
        try:
            return list(await agenerate(list(requests), k))
        finally:
            self._in_flight -= len(requests)
            self._period_served += len(requests)
            if self._in_flight == 0 and self._period is not None:
                started, t0 = self._period
                self._calls.append((started, time.perf_counter() - t0, self._period_served))
                self._period = None

    async def complete(self, prompts: list[str]) -> list[str | Completion]:
        return list(await asyncio.gather(*(self._submit(COMPLETIONS, 0, p) for p in prompts)))

    async def chat(self, conversations: list[list[dict[str, str]]]) -> list[str | Completion]:
        """One reply per conversation; they join the batch forming like plain prompts do."""
        return list(await asyncio.gather(*(self._submit(CHATS, 0, c) for c in conversations)))

    def prompt_tokens(self, conversation: list[dict[str, str]]) -> int:
        if self._completer is None or not hasattr(self._completer, "prompt_tokens"):
            raise RuntimeError("this generator actor has no chat whole-proof model")
        return int(self._completer.prompt_tokens(conversation))

    def batch_sizes(self) -> list[int]:
        return list(self._batch_sizes)

    def call_stats(self) -> list[tuple[float, float, int]]:
        """(unix start time, seconds inside the model call, batch size) for every model call so far."""
        return list(self._calls)

    def reset_stats(self) -> None:
        self._batch_sizes.clear()
        self._calls.clear()

    def ping(self) -> str:
        return f"{socket.gethostname()}:{os.getpid()}"

    async def _submit(self, kind: str, k: int, item: Any) -> Any:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._consumer = asyncio.get_running_loop().create_task(self._consume())
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(kind, k, item, future))
        return await future

    async def _consume(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._gather_batch(loop)
            # One model call per (kind, k): a beam of 32 and a beam of 8 cannot share a call.
            groups: dict[tuple[str, int], list[_Pending]] = {}
            for p in batch:
                groups.setdefault((p.kind, p.k), []).append(p)
            for (kind, k), group in groups.items():
                await self._answer(loop, kind, k, group)

    async def _gather_batch(self, loop: asyncio.AbstractEventLoop) -> list[_Pending]:
        """The next request, and those that arrive within `max_wait_s` of it (at most `max_batch` in all)."""
        assert self._queue is not None
        batch = [await self._queue.get()]
        deadline = loop.time() + self.max_wait_s
        while len(batch) < self.max_batch:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _answer(self, loop: asyncio.AbstractEventLoop, kind: str, k: int, group: list[_Pending]) -> None:
        """One model call for `group`; each request gets its result, or the model's failure."""
        self._batch_sizes.append(len(group))
        started, t0 = time.time(), time.perf_counter()
        try:
            results = await loop.run_in_executor(self._model_thread, self._call, kind, k, [p.item for p in group])
        except Exception as exc:  # every request of the batch sees the model's failure
            for p in group:
                if not p.future.done():
                    p.future.set_exception(exc)
            return
        finally:
            self._calls.append((started, time.perf_counter() - t0, len(group)))
        for p, res in zip(group, results, strict=True):
            if not p.future.done():
                p.future.set_result(res)

    def _call(self, kind: str, k: int, items: Sequence[Any]) -> Sequence[Any]:
        if kind == TACTICS:
            if self._tactics is None:
                raise RuntimeError("this generator actor has no tactic generator")
            out: Sequence[Any] = self._tactics(list(items), k)
        else:
            if self._completer is None:
                raise RuntimeError("this generator actor has no whole-proof generator")
            chat = getattr(self._completer, "chat", None) if kind == CHATS else None
            if kind == CHATS and chat is None:
                raise RuntimeError("this generator actor's model does not take conversations")
            out = chat(list(items)) if chat is not None else self._completer(list(items))
        if len(out) != len(items):
            raise RuntimeError(f"generator returned {len(out)} results for {len(items)} requests")
        return out


class _ActorClient:
    """Calls a GeneratorServer given by its handle or by its actor name (looked up on first use)."""

    def __init__(self, actor: Any) -> None:
        self._actor = actor
        self.generates_tokens = True

    @property
    def handle(self) -> Any:
        if isinstance(self._actor, str):
            import ray

            self._actor = ray.get_actor(self._actor)
        return self._actor


class ActorTacticGenerator(_ActorClient):
    """A TacticGenerator that asks a GeneratorServer actor; the search calling it is unchanged code."""

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        import ray

        result: list[list[Candidate]] = ray.get(self.handle.generate.remote(list(requests), k))
        return result


class ActorCompleter(_ActorClient):
    """A ProofCompleter (and a chat completer, for `correct`) that asks a GeneratorServer actor."""

    def __call__(self, prompts: Sequence[str]) -> list[str | Completion]:
        import ray

        result: list[str | Completion] = ray.get(self.handle.complete.remote(list(prompts)))
        return result

    def chat(self, conversations: Sequence[list[dict[str, str]]]) -> list[str | Completion]:
        import ray

        result: list[str | Completion] = ray.get(self.handle.chat.remote(list(conversations)))
        return result

    def prompt_tokens(self, conversation: list[dict[str, str]]) -> int:
        import ray

        return int(ray.get(self.handle.prompt_tokens.remote(conversation)))


# ----------------------------------------------------------------------------- prover actor


class ProverWorker:
    """Runs attempts one at a time; the Lean environment is reused across attempts and rebuilt after a failure."""

    def __init__(
        self,
        generator: Any,  # a GeneratorServer handle or actor name
        search_config: SearchConfig,
        env_factory: Callable[[], Env],
        verifier_factory: Callable[[], ProofVerifier],
        generates_tokens: bool = True,
        scripted_outputs: str | None = None,
        repair: RepairOptions | None = None,
        correction: CorrectionOptions | None = None,
    ) -> None:
        self.search_config = search_config
        self.env_factory = env_factory
        self.verifier_factory = verifier_factory
        self.generator = ActorTacticGenerator(generator)
        # The model runs in the generator actor: whether its candidates are generated tokens (a fixed tactic
        # list's are not) is the configuration's to say (prover.engine.cost).
        self.generator.generates_tokens = generates_tokens
        # `--generator scripted`: outputs played back here, no model actor involved.
        self.scripted_outputs = scripted_outputs
        self._scripted: Any = None
        self.repair = repair
        self.correction = correction
        self.completer = ActorCompleter(generator)
        self._env: Env | None = None
        self._verifier: ProofVerifier | None = None
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    def ping(self) -> str:
        return self.name

    def run(self, job: AttemptJob) -> AttemptOutcome:
        before = _cpu_by_process()
        outcome = self._run(job)
        # CPU seconds of this actor and its Lean processes during the attempt: what `--actors auto` weighs
        # against the cluster's CPUs (a Lean call keeps a core busy; the actor waiting on it does not).
        # Per process, so a Lean process replaced meanwhile adds its new time and never subtracts its old.
        after, rss_mb = _cpu_by_process(), _resident_mb()
        cpu = sum(max(0.0, t - before.get(pid, 0.0)) for pid, t in after.items())
        return replace(outcome, stats={**outcome.stats, "cpu_s": round(cpu, 4), "rss_mb": round(rss_mb, 1)})

    def _run(self, job: AttemptJob) -> AttemptOutcome:
        try:
            if job.mode == "correct":
                outcome = self._correct(job)
            elif job.mode == "whole" and self.scripted_outputs is not None:
                outcome = run_scripted_attempt(job, self._get_scripted(), self._get_verifier())
            elif job.mode == "whole":
                env = self._get_env() if self.repair is not None else None
                outcome = run_whole_attempt(job, self.completer, self._get_verifier(), env, self.repair)
            else:
                outcome = run_search_attempt(
                    job, self._get_env(), self.generator, self._get_verifier(), self.search_config
                )
        except BackendUnavailableError as exc:  # the backend itself (e.g. lean_dojo): the driver stops the sweep
            self._reset()
            return AttemptOutcome(status=Status.BACKEND_UNAVAILABLE, error=str(exc), worker=self.name)
        except Exception as exc:  # building the backend failed, or something unforeseen: only this attempt fails
            self._reset()
            return AttemptOutcome(
                status=Status.CRASHED, error=f"{type(exc).__name__}: {exc}", retriable=True, worker=self.name
            )
        if outcome.retriable:
            self._reset()  # a crashed Lean process is replaced before the next attempt
        return _with_worker(outcome, self.name)

    def close(self) -> None:
        self._reset()

    def _correct(self, job: AttemptJob) -> AttemptOutcome:
        """`--strategy correct`: the played-back outputs (their recorded replies by round and prompt), or the
        generator actor's chat model."""
        if self.correction is None:
            raise RuntimeError("a correct attempt needs the sweep's correction settings")
        if self.scripted_outputs is not None:
            from prover.generators.scripted import ScriptedSampler

            sampler: Any = ScriptedSampler(self._get_scripted(), first=job.attempt)
            extract = sampler.extract
        else:
            sampler = ChatCompleterSampler(self.completer, self.correction.template)
            extract = whole_proof_extract
        return run_correct_attempt(job, sampler, extract, self._get_verifier(), self.correction.config)

    def _get_scripted(self) -> Any:
        if self._scripted is None:
            from prover.generators.scripted import ScriptedOutputs

            self._scripted = ScriptedOutputs.load(str(self.scripted_outputs))
        return self._scripted

    def _get_env(self) -> Env:
        if self._env is None:
            self._env = self.env_factory()
        return self._env

    def _get_verifier(self) -> ProofVerifier:
        if self._verifier is None:
            self._verifier = self.verifier_factory()
        return self._verifier

    def _reset(self) -> None:
        env, self._env = self._env, None
        verifier, self._verifier = self._verifier, None
        for resource in (env, verifier):
            close = getattr(resource, "close", None)
            if callable(close):
                with contextlib.suppress(Exception):  # closing a dead process may fail; it is being replaced
                    close()


def _with_worker(outcome: AttemptOutcome, worker: str) -> AttemptOutcome:
    return replace(outcome, worker=worker)


def _cpu_by_process() -> dict[int, float]:
    """User + system CPU seconds of this process and of each live descendant (the Lean processes), by pid."""
    import psutil

    proc = psutil.Process()
    out: dict[int, float] = {}
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a child that exited meanwhile
            times = p.cpu_times()
            out[p.pid] = times.user + times.system
    return out


def _resident_mb() -> float:
    """Resident memory of this process and its live descendants (the Lean processes), in MiB."""
    import psutil

    proc = psutil.Process()
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total / 2**20
