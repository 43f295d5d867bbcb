"""The sweep driver: feeds (problem, attempt) jobs to prover actors, retries crashed attempts once,
and appends each finished attempt to the results file the moment it arrives.

The driver is the only writer of the results file, so a line is never written twice; on resume,
finished (problem, attempt) keys are skipped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.minif2f import Problem, load_few_shot, load_problems
from benchmarks.results import (
    AttemptRecord,
    ResultsError,
    ResultsStore,
    finished_keys,
    read_manifest,
    write_manifest,
)
from benchmarks.summary import Summary, summarize
from benchmarks.sweep.actors import (
    ConfigCompleterFactory,
    ConfigEnvFactory,
    ConfigGeneratorFactory,
    ConfigVerifierFactory,
    GeneratorServer,
    ProverWorker,
)
from benchmarks.sweep.attempt import (
    AttemptJob,
    AttemptOutcome,
    CorrectionOptions,
    ProofCompleter,
    RepairOptions,
    whole_proof_request,
)
from benchmarks.sweep.autosize import AutoChoice, AutoSizer
from benchmarks.sweep.config import SweepConfig
from benchmarks.sweep.plan import write_generator_calls
from lean_env.checks.verdict import ProofVerifier
from lean_env.types import Env
from prover.config import ConfigError
from prover.engine import Status
from prover.paths import REPO_ROOT
from search.types import TacticGenerator

ACTOR_START_TIMEOUT_S = 600.0


class SweepError(RuntimeError):
    """The sweep cannot run (cluster, resources, results file); the message is one line."""


@dataclass
class Components:
    """What actors are built from; by default the configured backends. Tests and benchmarks swap them."""

    env_factory: Callable[[], Env] | None = None
    verifier_factory: Callable[[], ProofVerifier] | None = None
    tactic_factory: Callable[[], TacticGenerator] | None = None
    completer_factory: Callable[[], ProofCompleter] | None = None


@dataclass
class SweepRun:
    summary: Summary
    output: Path
    new_records: int
    skipped: int
    batch_sizes: list[int] = field(default_factory=list)
    wall_s: float = 0.0
    # (unix start, seconds, batch size) of every generator call, from the generator actors' call_stats
    generator_calls: list[tuple[float, float, int]] = field(default_factory=list)
    auto: AutoChoice | None = None  # what --actors auto chose (None for a fixed count)

    @property
    def mean_batch_size(self) -> float:
        return sum(self.batch_sizes) / len(self.batch_sizes) if self.batch_sizes else 0.0


@dataclass
class _InFlight:
    job: AttemptJob
    worker: Any
    slot: int
    tries: int
    deadline: float
    submitted_at: float = field(default_factory=time.time)
    timed_out: bool = False


def select_problems(cfg: SweepConfig) -> list[Problem]:
    s = cfg.sweep
    return load_problems(s.benchmark_path(), split=s.split, statement=s.statement, names=s.names or None, limit=s.limit)


def make_record(
    cfg: SweepConfig, job: AttemptJob, outcome: AttemptOutcome, retries: int, config_hash: str
) -> AttemptRecord:
    p = job.problem
    return AttemptRecord(
        problem=p.name,
        attempt=job.attempt,
        split=p.split,
        category=p.category,
        task=job.task,
        mode=job.mode,
        strategy=outcome.strategy or job.mode,
        status=outcome.status.value,
        proved=outcome.proved and outcome.verdict == "verified",
        verdict=outcome.verdict,
        checker=outcome.checker,
        verdict_reason=outcome.verdict_reason,
        proof=outcome.proof,
        stats=outcome.stats,
        costs=outcome.costs,
        attempts=outcome.attempts,
        error=outcome.error,
        retries=retries,
        config_hash=config_hash,
        model=cfg.model_name(),
        statement_field=p.statement_field,
        statement_source=p.source.text,
        statement_repo=p.source.repo,
        statement_commit=p.source.commit,
        worker=outcome.worker,
        started_at=outcome.started_at,
        finished_at=outcome.finished_at or time.time(),
    )


def ensure_ray(address: str | None) -> bool:
    """Connect to `address`, or start a local Ray instance. True when this call started it."""
    import ray

    if ray.is_initialized():
        return False
    path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    try:
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
            runtime_env={"env_vars": {"PYTHONPATH": path}},
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise SweepError(
            f"cannot start or reach {where}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
    return True


def _cluster() -> dict[str, float]:
    import ray

    resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    return resources


def _resources(cfg: SweepConfig, actors: int, per: float) -> float:
    """GPUs per generator actor, after checking that `actors` prover actors x `per` CPUs fit the cluster."""
    resources = _cluster()
    s = cfg.sweep
    available = float(resources.get("CPU", 0.0))
    if per * actors > available + 1e-9:
        raise SweepError(
            f"{actors} prover actors x {per:g} CPUs need {per * actors:g} CPUs but the cluster "
            f"has {available:g}; lower sweep.cpus_per_prover (fractions are fine: the work waits on Lean and the model)"
        )
    gpus = float(resources.get("GPU", 0.0))
    gpu_per = s.num_gpus
    if gpu_per is None:  # auto: a model gets a whole GPU per replica when the cluster has them
        gpu_per = 1.0 if cfg.generator.kind != "fixed" and gpus >= s.generator_replicas else 0.0
    if gpu_per * s.generator_replicas > gpus + 1e-9:
        raise SweepError(
            f"{s.generator_replicas} generator actors x {gpu_per:g} GPUs need "
            f"{gpu_per * s.generator_replicas:g} GPUs but the cluster has {gpus:g}"
        )
    return gpu_per


def _open_store(
    cfg: SweepConfig, config_hash: str, problems: Sequence[Problem]
) -> tuple[ResultsStore, list[AttemptRecord], str]:
    """The results store, the records already in it, and the config hash its lines carry."""
    output = Path(cfg.sweep.output).expanduser()
    store = ResultsStore(output)
    store.lock()  # first: a second sweep on this file is told another one is writing it, whatever else differs
    try:
        return _open_locked(cfg, config_hash, problems, store, output)
    except BaseException:
        store.close()
        raise


def _open_locked(
    cfg: SweepConfig, config_hash: str, problems: Sequence[Problem], store: ResultsStore, output: Path
) -> tuple[ResultsStore, list[AttemptRecord], str]:
    if not cfg.sweep.resume and output.exists() and output.stat().st_size > 0:
        raise SweepError(
            f"results file {output} already exists; pass --resume to continue it or choose another --output"
        )
    recorded = cfg.model_dump(mode="json")
    manifest = None
    if cfg.sweep.resume:
        manifest = read_manifest(output)
        if manifest is not None and isinstance(manifest.get("config"), dict):
            # The recorded settings decide, not their hash: a setting added since (at its default) or one that
            # never decides results keeps it the same sweep. Its hash and recording stay for the next resume.
            changed = cfg.differences(manifest["config"])
            if changed:
                raise SweepError(
                    f"{output} was written with another config ({', '.join(changed[:5])} differ); "
                    "resume with the same settings or choose another --output"
                )
            config_hash, recorded = str(manifest.get("config_hash") or config_hash), manifest["config"]
        elif manifest is not None and manifest.get("config_hash") not in (None, config_hash):
            raise SweepError(
                f"{output} was written with config {manifest.get('config_hash')}, this run is {config_hash}; "
                "resume with the same settings or choose another --output"
            )
    loaded = store.open_for_append()
    others = sorted({r.config_hash for r in loaded.records if r.config_hash and r.config_hash != config_hash})
    if others:
        store.close()
        raise SweepError(
            f"{output} holds results of config {others[0]}, this run is {config_hash}; choose another --output"
        )
    planned = [p.name for p in problems]
    if cfg.sweep.resume and manifest is not None and isinstance(manifest.get("problems"), list):
        # A resume on a subset (`--names`) keeps every problem planned before in the denominator.
        earlier = [str(name) for name in manifest["problems"]]
        planned = earlier + [name for name in planned if name not in set(earlier)]
    write_manifest(
        output,
        {
            "config": recorded,
            "config_hash": config_hash,
            "model": cfg.model_name(),
            "benchmark": str(cfg.sweep.benchmark_path()),
            "problems": planned,
            "attempts": cfg.sweep.attempts,
        },
    )
    return store, loaded.records, config_hash


def _whole_template(cfg: SweepConfig) -> str:
    """The whole-proof template of the configured model (DeepSeek-Prover-V1.5's for models without one)."""
    if cfg.generator.kind in ("fixed", "scripted"):  # scripted: the prompt is not compared
        return "deepseek-v1.5"
    from prover.generators.whole_proof import whole_template_for

    return whole_template_for(cfg.generator, strict=False).name


def _correction(cfg: SweepConfig) -> CorrectionOptions:
    """`--strategy correct`'s rounds, one sample per attempt (pass@N is N attempts), within the model's context."""
    from prover.engine.build import turn_format
    from prover.engine.correct import CorrectionConfig, TurnFormat

    s = cfg.sweep
    context = cfg.generator.max_model_len or CorrectionConfig().context_tokens
    turns = turn_format(cfg.generator) if cfg.generator.kind not in ("fixed", "scripted") else TurnFormat.GOEDEL
    config = CorrectionConfig(1, s.correction_rounds, s.correction_samples, context, turns)
    return CorrectionOptions(config, _whole_template(cfg))


def _scripted_mode(cfg: SweepConfig) -> None:
    """`--generator scripted` plays back whole proofs: the strategy is `whole`, and its outputs file must load."""
    if cfg.generator.kind != "scripted":
        return
    if cfg.sweep.mode == "search" and "mode" in cfg.sweep.model_fields_set:
        raise ConfigError("the scripted generator plays back whole proofs: use --strategy whole or correct")
    if cfg.generator.outputs is None:
        raise ConfigError("the scripted generator needs its outputs file: --outputs FILE.jsonl")
    from prover.generators.scripted import ScriptedOutputError, ScriptedOutputs

    try:
        ScriptedOutputs.load(cfg.generator.outputs)
    except ScriptedOutputError as exc:
        raise ConfigError(str(exc)) from None
    if cfg.sweep.mode != "correct":
        cfg.sweep.mode = "whole"


def build_jobs(cfg: SweepConfig, problems: Sequence[Problem], done: set[tuple[str, int]]) -> list[AttemptJob]:
    s = cfg.sweep
    whole = s.mode in ("whole", "correct")  # whole proofs from the driver's prompt, corrected or not
    few_shot = load_few_shot(s.few_shot_path()) if whole and s.num_few_shot > 0 else []
    jobs: list[AttemptJob] = []
    # The whole-proof prompt format is the model's preset.
    template = _whole_template(cfg) if whole else "deepseek-v1.5"
    for problem in problems:
        prompt = whole_proof_request(problem, s.task, few_shot, s.num_few_shot, template) if whole else None
        for attempt in range(s.attempts):
            if (problem.name, attempt) not in done:
                jobs.append(AttemptJob(problem, attempt, s.task, s.mode, prompt))
    return jobs


def run_sweep(
    cfg: SweepConfig,
    problems: Sequence[Problem] | None = None,
    components: Components | None = None,
    progress: bool = True,
) -> SweepRun:
    """Run (or resume) a sweep; every finished attempt is on disk before the next is collected."""
    t0 = time.perf_counter()
    comp = components or Components()
    _scripted_mode(cfg)
    if cfg.sweep.mode in ("whole", "correct") and comp.completer_factory is None and cfg.generator.kind == "fixed":
        raise ConfigError("sweep.mode 'whole' needs a model that writes whole proofs: set generator.kind = 'hf'")
    if cfg.sweep.mode == "search" and comp.tactic_factory is None and cfg.generator.kind != "fixed":
        # A whole-proof model (Kimina-Prover, DeepSeek-Prover-V2, ...) cannot propose tactics: say so before Ray.
        from prover.generators.presets import apply_preset, require_mode

        try:
            require_mode(apply_preset(cfg.generator), "step", "sweep --mode search")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    problems = list(problems) if problems is not None else select_problems(cfg)
    config_hash = cfg.config_hash()
    store, existing, config_hash = _open_store(cfg, config_hash, problems)
    names = {p.name for p in problems}
    done = finished_keys(r for r in existing if r.problem in names)
    new_records: list[AttemptRecord] = []
    stats = _GeneratorStats()
    try:  # the store's lock is released whatever happens from here
        jobs = build_jobs(cfg, problems, done)
        if jobs:
            _run_jobs(cfg, jobs, comp, config_hash, store, new_records, progress, stats)
            if stats.calls:  # what the generator cost, for `prover sweep --plan --from RESULTS.jsonl`
                write_generator_calls(store.path, stats.calls)
    finally:
        store.close()
    records = [r for r in existing if r.problem in names] + new_records
    summary = summarize(records, expected=[p.name for p in problems])
    return SweepRun(
        summary,
        store.path,
        len(new_records),
        len(done),
        stats.batch_sizes,
        time.perf_counter() - t0,
        stats.calls,
        stats.auto,
    )


@dataclass
class _GeneratorStats:
    batch_sizes: list[int] = field(default_factory=list)
    calls: list[tuple[float, float, int]] = field(default_factory=list)
    auto: AutoChoice | None = None


def _call_stats(ray: Any, generators: Sequence[Any]) -> list[tuple[float, float, int]]:
    """Every generator call so far, over all generator actors (empty if an actor cannot say)."""
    try:
        per_actor = ray.get([g.call_stats.remote() for g in generators])
    except Exception:  # a generator actor without call_stats, or gone: sizing then falls back
        return []
    return sorted((float(t), float(sec), int(n)) for calls in per_actor for t, sec, n in calls)


def _run_jobs(
    cfg: SweepConfig,
    jobs: list[AttemptJob],
    comp: Components,
    config_hash: str,
    store: ResultsStore,
    sink: list[AttemptRecord],
    progress: bool,
    stats: _GeneratorStats,
) -> None:
    import ray
    from ray.exceptions import GetTimeoutError, RayActorError, RayError

    s = cfg.sweep
    started_here = ensure_ray(s.address)
    generators: list[Any] = []
    workers: list[Any] = []
    try:
        auto: AutoSizer | None = None
        if s.prover_actors == "auto":
            resources = _cluster()
            memory = resources.get("memory")
            auto = AutoSizer(cfg, float(resources.get("CPU", 0.0)), memory / 2**30 if memory else None, len(jobs))
            actors, cpus = auto.start_total, auto.start_reservation()
        else:
            actors, cpus = s.prover_actors, s.cpus_per_prover
        gpus = _resources(cfg, actors, cpus)
        whole = s.mode in ("whole", "correct")
        tactic_factory = None if whole else (comp.tactic_factory or ConfigGeneratorFactory(cfg.generator))
        completer_factory = (comp.completer_factory or ConfigCompleterFactory(cfg.generator)) if whole else None
        if cfg.generator.kind == "scripted":  # the prover actors play the outputs back: no model to serve
            completer_factory = None
        # Prover actors find their generator by name: a handle passed as a constructor argument would
        # live in the object store, which Ray cannot guarantee across actor restarts.
        run_id = uuid.uuid4().hex[:12]
        gen_names = [f"sweep-{run_id}-generator-{i}" for i in range(s.generator_replicas)]
        generators = [
            ray.remote(GeneratorServer)
            .options(name=name, num_cpus=0, num_gpus=gpus, max_restarts=-1, max_task_retries=1, max_concurrency=1000)
            .remote(tactic_factory, completer_factory, s.max_batch, s.max_wait_ms)
            for name in gen_names
        ]
        env_factory = comp.env_factory or ConfigEnvFactory(cfg.lean)
        from prover.engine.build import needs_infotree

        infotree = needs_infotree(s.mode, cfg.generator)
        verifier_factory = comp.verifier_factory or ConfigVerifierFactory(cfg.lean, infotree)
        # No automatic restarts: the scheduler replaces a dead prover actor with a fresh one, whose
        # calls queue until it is up (a restarting actor would refuse them instead).
        worker_cls = ray.remote(ProverWorker)
        search_config = cfg.search.to_search_config()
        generates_tokens = cfg.generator.kind != "fixed"
        scripted_outputs = cfg.generator.outputs if cfg.generator.kind == "scripted" else None
        repair = RepairOptions(cfg.generator.fixed_tactics, search_config) if s.repair and whole else None
        correction = _correction(cfg) if s.mode == "correct" else None
        reservation = [cpus]  # Ray CPUs of the next actor spawned (auto sizing changes it)

        def spawn(slot: int) -> Any:
            options = worker_cls.options(num_cpus=reservation[0], max_restarts=0, max_task_retries=0)
            worker = options.remote(
                gen_names[slot % len(gen_names)],
                search_config,
                env_factory,
                verifier_factory,
                generates_tokens,
                scripted_outputs,
                repair,
                correction,
            )
            workers.append(worker)
            return worker

        for slot in range(actors):
            spawn(slot)
        try:
            ray.get(
                [g.ping.remote() for g in generators] + [w.ping.remote() for w in workers],
                timeout=ACTOR_START_TIMEOUT_S,
            )
        except GetTimeoutError:
            raise SweepError(
                f"actors did not start within {ACTOR_START_TIMEOUT_S:.0f}s (not enough resources?)"
            ) from None
        except RayError as exc:
            raise SweepError(f"an actor failed to start: {_first_line(exc)}") from None
        resize = None
        if auto is not None:
            from prover.console import err_console

            err_console.print(
                f"actors auto: starting {len(workers)} actors; sized after {auto.calibration} measured attempts",
                highlight=False,
                soft_wrap=True,
            )
            resize = _auto_resize(auto, ray, generators, reservation, len(workers), s.mode)
        pool = _ActorPool(ray, spawn, RayActorError, RayError, resize)
        _schedule(cfg, jobs, list(workers), pool, _Recording(config_hash, store, sink), progress)
        if auto is not None and auto.choice is None and s.mode == "search" and auto.calibration != 1 << 30:
            # The sweep ended before sizing: the choice was to keep the starting actors, and the user is told so.
            err_console.print(
                f"actors auto: kept {len(workers)} actors (the sweep finished before {auto.calibration} attempts "
                "were measured)",
                highlight=False,
                soft_wrap=True,
            )
        stats.batch_sizes = [n for g in generators for n in ray.get(g.batch_sizes.remote())]
        stats.calls = _call_stats(ray, generators)
        stats.auto = auto.choice if auto is not None else None
    finally:
        for actor in workers + generators:
            _kill(ray, actor)
        if started_here:
            ray.shutdown()


def _auto_resize(
    auto: AutoSizer, ray: Any, generators: Sequence[Any], reservation: list[float], started: int, mode: str
) -> Callable[[Sequence[AttemptRecord]], int | None]:
    """The scheduler's hook for --actors auto: after the first attempts, the new number of actors (else None)."""
    from prover.console import err_console

    if mode != "search":
        err_console.print(
            f"actors auto: sizing needs search attempts; --mode {mode} keeps {started} actors", soft_wrap=True
        )
        return lambda finished: None

    def resize(finished: Sequence[AttemptRecord]) -> int | None:
        if not auto.ready(finished):
            return None
        try:
            choice = auto.decide(finished, _call_stats(ray, generators))
        except ValueError as exc:
            err_console.print(f"actors auto: keeping {started} actors ({exc})", highlight=False, soft_wrap=True)
            auto.choice = None
            auto.calibration = 1 << 30  # never ask again
            return None
        err_console.print(choice.describe(), highlight=False, soft_wrap=True)
        total = choice.sizing.total_actors
        if total > started:
            reservation[0] = auto.added_reservation(total - started)
        return total

    return resize


def _kill(ray: Any, actor: Any) -> None:
    with contextlib.suppress(Exception):  # already gone
        ray.kill(actor, no_restart=True)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CAUSE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b.*")


def _first_line(exc: BaseException) -> str:
    """One plain line saying why: Ray's text of an actor's failure starts with where it happened (`The actor
    died because of an error raised in its creation task, ray::GeneratorServer.__init__() (pid=…)`) and ends
    with the cause (`OSError: We couldn't connect to 'https://huggingface.co' …`), in terminal colours; the
    cause is the line a user can act on, without the colour codes."""
    lines = [ln.strip() for ln in _ANSI.sub("", str(exc)).splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    cause = next((ln for ln in reversed(lines) if _CAUSE.match(ln)), None)
    return cause if cause is not None else lines[0]


@dataclass(frozen=True)
class _ActorPool:
    """How the scheduler reaches Ray and its prover actors: `spawn(slot)` starts a fresh actor for a slot, the two
    error types are Ray's (imported where Ray is), `resize` is the --actors auto hook (None: a fixed number)."""

    ray: Any
    spawn: Callable[[int], Any]
    actor_error: type[Exception]
    ray_error: type[Exception]
    resize: Callable[[Sequence[AttemptRecord]], int | None] | None = None


@dataclass(frozen=True)
class _Recording:
    """Where finished attempts go: the results store (on disk) and the in-memory list, under the config's hash."""

    config_hash: str
    store: ResultsStore
    sink: list[AttemptRecord]


def _schedule(
    cfg: SweepConfig,
    jobs: list[AttemptJob],
    workers: list[Any],
    pool: _ActorPool,
    recording: _Recording,
    progress: bool,
) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from prover.console import err_console

    queue: deque[tuple[AttemptJob, int]] = deque((job, 0) for job in jobs)
    idle = list(enumerate(workers))  # (slot, actor)
    target = len(workers)  # actors wanted (auto sizing may change it); slots above it are retired when idle
    in_flight: dict[Any, _InFlight] = {}
    timeout_s = cfg.attempt_timeout()
    proved = 0
    bar = Progress(
        TextColumn("[bold]sweep[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("proved {task.fields[proved]}"),
        TimeElapsedColumn(),
        console=err_console,
        disable=not progress,
    )
    with bar:
        task_id = bar.add_task("sweep", total=len(jobs), proved=0)
        while queue or in_flight:
            while queue and idle:
                job, tries = queue.popleft()
                slot, worker = idle.pop()
                ref = worker.run.remote(job)
                in_flight[ref] = _InFlight(job, worker, slot, tries, time.monotonic() + timeout_s)
            next_deadline = min(f.deadline for f in in_flight.values())
            wait_s = max(0.05, min(1.0, next_deadline - time.monotonic()))
            ready, _ = pool.ray.wait(list(in_flight), num_returns=1, timeout=wait_s)
            for ref in ready:
                flight = in_flight.pop(ref)
                outcome, actor_died = _collect(pool.ray, ref, flight, timeout_s, pool.actor_error, pool.ray_error)
                if outcome.status is Status.BACKEND_UNAVAILABLE:  # no problem's result: stop, nothing recorded
                    raise SweepError(f"the {cfg.lean.backend} backend is unusable: {outcome.error}")
                _release_slot(pool, flight, actor_died, idle, target)
                if outcome.retriable and flight.tries < cfg.sweep.retries:
                    queue.appendleft((flight.job, flight.tries + 1))  # its own retry, before new work
                    continue
                record = make_record(cfg, flight.job, outcome, flight.tries, recording.config_hash)
                recording.store.append(record)
                recording.sink.append(record)
                proved += int(record.proved)
                bar.update(task_id, advance=1, proved=proved)
                wanted = pool.resize(recording.sink) if pool.resize is not None else None
                if wanted is not None:
                    _resize_slots(pool, idle, target, wanted)
                    target = wanted
            _kill_overdue(pool.ray, in_flight)


def _release_slot(
    pool: _ActorPool, flight: _InFlight, actor_died: bool, idle: list[tuple[int, Any]], target: int
) -> None:
    """Give a finished attempt's slot back: a dead actor is replaced by a fresh one, a slot at or above `target`
    (retired by auto sizing) is closed."""
    if actor_died:
        _kill(pool.ray, flight.worker)
        if flight.slot < target:
            idle.append((flight.slot, pool.spawn(flight.slot)))
    elif flight.slot < target:
        idle.append((flight.slot, flight.worker))
    else:
        _kill(pool.ray, flight.worker)  # retired by auto sizing


def _resize_slots(pool: _ActorPool, idle: list[tuple[int, Any]], target: int, wanted: int) -> None:
    """Grow from `target` to `wanted` actors now; to shrink, idle slots >= wanted close now, busy ones once idle."""
    for slot in range(target, wanted):
        idle.append((slot, pool.spawn(slot)))
    for slot, worker in [(sl, w) for sl, w in idle if sl >= wanted]:
        idle.remove((slot, worker))
        _kill(pool.ray, worker)


def _kill_overdue(ray: Any, in_flight: dict[Any, _InFlight]) -> None:
    """A hung attempt: kill its actor; the attempt then fails (and is retried on a fresh actor)."""
    now = time.monotonic()
    for flight in in_flight.values():
        if now > flight.deadline and not flight.timed_out:
            flight.timed_out = True
            _kill(ray, flight.worker)


def _collect(
    ray: Any, ref: Any, flight: _InFlight, timeout_s: float, actor_error: type[Exception], ray_error: type[Exception]
) -> tuple[AttemptOutcome, bool]:
    """The attempt's outcome, and whether its prover actor died (it is then replaced)."""
    try:
        outcome: AttemptOutcome = ray.get(ref)
        return outcome, False
    except actor_error as exc:
        if flight.timed_out:
            reason = f"attempt ran past {timeout_s:g}s; its prover actor was killed"
        else:
            reason = f"prover actor crashed: {_first_line(exc)}"
        died = AttemptOutcome(
            status=Status.CRASHED, error=reason, retriable=True, started_at=flight.submitted_at, finished_at=time.time()
        )
        return died, True
    except ray_error as exc:
        failed = AttemptOutcome(
            status=Status.CRASHED,
            error=_first_line(exc),
            retriable=True,
            started_at=flight.submitted_at,
            finished_at=time.time(),
        )
        return failed, False


__all__ = [
    "Components",
    "ResultsError",
    "SweepError",
    "SweepRun",
    "build_jobs",
    "ensure_ray",
    "make_record",
    "run_sweep",
    "select_problems",
]
