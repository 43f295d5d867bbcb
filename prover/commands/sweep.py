"""`prover sweep`: evaluate a prover on miniF2F (or any benchmark JSONL) with Ray; `prover report`: its report."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from prover.commands.options import (
    BackendOption,
    CassetteOption,
    GeneratorOption,
    LeanProjectOption,
    ModelOption,
    TemplateOption,
    generator_overrides,
    lean_overrides,
)
from prover.commands.prove import path_option, strategy_option
from prover.console import console, err_console, fail

_PLAN = "Plan (--plan: no model, no Lean)"


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)
    app.command("report")(report)


def _names(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [n.strip() for n in value.split(",") if n.strip()]


def sweep(
    config: Path | None = typer.Option(
        None, "--config", "-c", help=r"TOML config: \[sweep], \[lean], \[search], \[generator]."
    ),
    preset: str | None = typer.Option(None, "--preset", help="llemma: 32 tactics/expansion, 100 expansions, 600 s."),
    benchmark: str | None = typer.Option(
        None, "--benchmark", help="Benchmark JSONL or LeanDojo .json split (default: miniF2F)."
    ),
    split: str | None = typer.Option(None, "--split", help="valid, test (default) or all."),
    statement: str | None = typer.Option(None, "--statement", help="primary (default), deepseek or llemma."),
    names: str | None = typer.Option(None, "--names", help="Comma-separated problem names (a subset)."),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N selected problems."),
    task: str | None = typer.Option(None, "--task", help="f2f (default) or i2f."),
    strategy: str | None = typer.Option(
        None,
        "--strategy",
        help="search (default: best-first tactic search), whole (whole-proof pass@N) or correct (whole proofs, "
        "then rounds of self-correction from Lean's errors).",
    ),
    mode: str | None = typer.Option(None, "--mode", help="Deprecated alias of --strategy."),
    attempts: int | None = typer.Option(None, "--attempts", "-n", help="Attempts (samples) per problem, for pass@k."),
    repair: bool = typer.Option(
        False, "--repair", help="Whole proofs: a rejected sample's failing blocks become holes the tactic search fills."
    ),
    correction_rounds: int | None = typer.Option(
        None, "--correction-rounds", help="--strategy correct: correction rounds after the first sample (default 1)."
    ),
    correction_samples: int | None = typer.Option(
        None, "--correction-samples", help="--strategy correct: corrections per failed sample and round (default 1)."
    ),
    few_shot: str | None = typer.Option(None, "--few-shot", help="Few-shot JSONL for --mode whole."),
    num_few_shot: int | None = typer.Option(None, "--num-few-shot", help="Few-shot examples per prompt."),
    actors: str | None = typer.Option(
        None, "--actors", help="Prover actors (CPU) per sweep, or auto: sized from the first attempts' costs."
    ),
    cpus_per_prover: float | None = typer.Option(None, "--cpus-per-prover", help="Ray CPUs reserved per prover actor."),
    generator_replicas: int | None = typer.Option(None, "--generator-replicas", help="Generator actors."),
    num_gpus: float | None = typer.Option(None, "--num-gpus", help="GPUs per generator actor."),
    max_batch: int | None = typer.Option(None, "--max-batch", help="Most requests per model call."),
    max_wait_ms: float | None = typer.Option(None, "--max-wait-ms", help="Longest wait for a batch to fill."),
    address: str | None = typer.Option(None, "--address", help="Existing Ray cluster (default: a local instance)."),
    output: str | None = typer.Option(None, "--output", "-o", help="Results JSONL (append-only)."),
    resume: bool | None = typer.Option(
        None, "--resume/--no-resume", help="Continue OUTPUT, skipping finished attempts."
    ),
    retries: int | None = typer.Option(None, "--retries", help="Re-runs of an attempt whose actor or Lean crashed."),
    attempt_timeout: float | None = typer.Option(None, "--attempt-timeout", help="Kill an attempt after this many s."),
    backend: BackendOption = None,
    strict: bool = typer.Option(
        False, "--strict", help=r"Also kernel-replay every proof with lean4checker or comparator; sets \[lean] strict."
    ),
    cassette: CassetteOption = None,
    lean_project: LeanProjectOption = None,
    generator: GeneratorOption = None,
    model: ModelOption = None,
    template: TemplateOption = None,
    outputs: Path | None = typer.Option(
        None, "--outputs", help="JSONL of model outputs the scripted generator plays back (--generator scripted)."
    ),
    num_tactics: int | None = typer.Option(None, "--num-tactics", "-k", help="Tactics asked per expansion."),
    max_expansions: int | None = typer.Option(None, "--max-expansions", help="Expansions per attempt."),
    time_limit: float | None = typer.Option(None, "--time-limit", help="Seconds of search per attempt."),
    write_report: bool = typer.Option(True, "--report/--no-report", help="Write report.md/html next to OUTPUT."),
    show_progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar (stderr)."),
    plan: bool = typer.Option(
        False,
        "--plan",
        help="Print expected wall time and GPU hours per actor count; run nothing.",
        rich_help_panel=_PLAN,
    ),
    plan_from: Path | None = typer.Option(
        None, "--from", help="Take the costs from an earlier results JSONL.", rich_help_panel=_PLAN
    ),
    gpus: float = typer.Option(1.0, "--gpus", help="GPUs of the cluster (one generator each).", rich_help_panel=_PLAN),
    cpus: float | None = typer.Option(
        None, "--cpus", help="CPU cores of the cluster (default: this machine's).", rich_help_panel=_PLAN
    ),
    memory_gb: float | None = typer.Option(
        None, "--memory-gb", help="Memory of the cluster (default: no limit).", rich_help_panel=_PLAN
    ),
    actor_memory_gb: float | None = typer.Option(
        None, "--actor-memory-gb", help="Memory of one prover actor (default 8, or measured).", rich_help_panel=_PLAN
    ),
    tactic_s: float | None = typer.Option(
        None, "--tactic-s", help="Mean seconds per Lean tactic (default 0.09).", rich_help_panel=_PLAN
    ),
    gen_call_s: float | None = typer.Option(
        None, "--gen-call-s", help="Seconds per generator call (default 1.0).", rich_help_panel=_PLAN
    ),
    gen_state_s: float | None = typer.Option(
        None, "--gen-state-s", help="Extra generator seconds per state in a call (default 0.1).", rich_help_panel=_PLAN
    ),
) -> None:
    """Evaluate the prover on a benchmark; the last line printed is `pass rate: P/N (X%)`.

    With --plan nothing runs: the expected wall time and GPU hours of this sweep on --gpus / --cpus
    are printed per number of prover actors, with the one `--actors auto` would choose.
    """
    overrides: dict[str, dict[str, Any]] = {
        "sweep": {
            "benchmark": benchmark,
            "split": split,
            "statement": statement,
            "names": _names(names),
            "limit": limit,
            "task": task,
            "mode": strategy_option(strategy, mode),
            "attempts": attempts,
            "repair": repair or None,
            "correction_rounds": correction_rounds,
            "correction_samples": correction_samples,
            "few_shot": few_shot,
            "num_few_shot": num_few_shot,
            "prover_actors": actors,
            "cpus_per_prover": cpus_per_prover,
            "generator_replicas": generator_replicas,
            "num_gpus": num_gpus,
            "max_batch": max_batch,
            "max_wait_ms": max_wait_ms,
            "address": address,
            "output": output,
            "resume": resume,
            "retries": retries,
            "attempt_timeout_s": attempt_timeout,
        },
        "lean": {**lean_overrides(backend, cassette, lean_project), "strict": strict or None},
        "generator": {**generator_overrides(generator, model, template), "outputs": path_option(outputs)},
        "search": {"num_tactics": num_tactics, "max_expansions": max_expansions, "time_s": time_limit},
    }
    plan_inputs = None
    if plan:
        from benchmarks.sweep.plan import PlanInputs

        machine_cpus = cpus if cpus is not None else float(os.cpu_count() or 1)
        plan_inputs = PlanInputs(
            gpus, machine_cpus, memory_gb, actor_memory_gb, tactic_s, gen_call_s, gen_state_s, plan_from
        )
    elif plan_from is not None:
        fail("--from goes with --plan (it plans from an earlier results file)")
    _sweep(SweepRequest(config, preset, overrides, plan_inputs, write_report, show_progress))


@dataclass(frozen=True)
class SweepRequest:
    """One `prover sweep` as the command line gave it: the config file and preset, the flags' overrides,
    the --plan inputs (None: run the sweep), whether to write the report and show progress."""

    config: Path | None
    preset: str | None
    overrides: dict[str, dict[str, Any]]
    plan: Any
    write_report: bool
    progress: bool


def _sweep(request: SweepRequest) -> None:
    from benchmarks.minif2f import BenchmarkError
    from benchmarks.results import ResultsError
    from benchmarks.sweep import SweepError, load_sweep_config, run_sweep
    from lean_env.errors import LeanEnvError
    from prover.config import ConfigError

    try:
        cfg = load_sweep_config(request.config, request.overrides, preset=request.preset)
        if request.plan is not None:
            _print_plan(cfg, request.plan)
            return
        _preflight(cfg)
        run = run_sweep(cfg, progress=request.progress)
    except (ConfigError, BenchmarkError, ResultsError, SweepError, LeanEnvError, ValueError) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        err_console.print("interrupted: finished attempts are in the results file; continue with --resume")
        raise typer.Exit(130) from None
    print_summary(run.summary)
    console.print(f"results: {run.output} ({run.new_records} new, {run.skipped} already finished)", highlight=False)
    if request.write_report:
        _write_report(run.output)
    print(run.summary.pass_rate_line(), flush=True)


def _preflight(cfg: Any) -> None:
    """What fails for every attempt fails here in one line, before Ray starts."""
    if cfg.lean.strict:  # no kernel-replay tool
        from lean_env.checks.validate import check_strict

        check_strict(cfg.lean.backend, cfg.lean.validator, Path(cfg.lean.project).expanduser())
    if cfg.lean.backend == "dojo":  # a broken lean_dojo import
        from lean_env.backends.dojo import require_lean_dojo

        require_lean_dojo()
    # A model that is not cached, without network: one line before Ray or any actor starts (each actor would
    # retry the hub for a minute and fail with a traceback). On a cluster (--address) the generator's node reads
    # the model from its own cache, which this machine cannot see.
    if cfg.sweep.address is None:
        from prover.offline import model_unreachable

        problem = model_unreachable(cfg.generator.kind, cfg.generator.model)
        if problem is not None:
            fail(problem)
    # An unwritable results path (the store opens it later).
    from prover.commands.outputs import output_problem

    problem = output_problem(Path(cfg.sweep.output), "--output")
    if problem is not None:
        fail(problem)


def _write_report(output: Path) -> None:
    from benchmarks.report import write_report as write
    from benchmarks.results import ResultsError

    try:
        rep = write(output)
        console.print(f"report: {rep.markdown} and {rep.html}", highlight=False)
    except (ResultsError, OSError) as exc:  # the results are on disk; the pass rate line still comes last
        err_console.print(f"report not written: {exc}", highlight=False, soft_wrap=True)


def _print_plan(cfg: Any, inputs: Any) -> None:
    """The --plan table: one row per actor count (per generator replica), the auto choice marked."""
    from rich.table import Table

    from benchmarks.sweep import select_problems
    from benchmarks.sweep.plan import format_duration, sweep_plan

    problems = select_problems(cfg)
    p = sweep_plan(cfg, inputs, len(problems))
    c = p.cluster
    console.print(
        f"plan: {p.problems} problems x {cfg.sweep.attempts} attempts = {p.attempts} attempts, "
        f"{p.sizing.costs.expansions_per_attempt:.3g} expansions each; cluster: {p.gpus:g} GPUs "
        f"({c.replicas} generator replicas), {c.cpus:g} CPUs"
        + (f", {c.memory_gb:g} GB" if c.memory_gb is not None else ""),
        highlight=False,
        soft_wrap=True,
    )
    for line in p.sources:
        console.print(f"  {line}", highlight=False, soft_wrap=True)
    # actors per generator replica, all actors, mean batch, generator busy fraction, expansions/s, CPUs in use
    table = Table(title="expected cost by prover actors per generator replica")
    for col in ("actors", "total", "batch", "busy", "exp/s", "CPUs", "wall", "GPU h", ""):
        table.add_column(col, justify="right")
    for row in p.rows:
        pr = row.prediction
        table.add_row(
            str(row.actors),
            str(row.total_actors),
            f"{pr.batch:.1f}",
            f"{pr.generator_busy:.2f}",
            f"{pr.expansions_per_s * c.replicas:.3g}",
            f"{pr.cpus_used * c.replicas:.3g}",
            format_duration(row.wall_s),
            f"{row.gpu_hours:.1f}",
            "auto" if row.chosen else ("over time budget" if row.over_time_budget else ""),
        )
    console.print(table)
    chosen = next(r for r in p.rows if r.chosen)
    console.print(
        f"auto: limited by {p.sizing.limited_by}" + "".join(f"; {n}" for n in p.sizing.notes), highlight=False
    )
    print(
        f"expected: {format_duration(chosen.wall_s)} wall, {chosen.gpu_hours:.1f} GPU hours "
        f"with --actors {chosen.actors} per replica ({chosen.total_actors} in all)",
        flush=True,
    )


def report(
    results: Path | None = typer.Argument(None, help="A results JSONL written by `prover sweep`."),
    out: Path | None = typer.Option(None, "--out", help="Folder for report.md and report.html (default: next to it)."),
    compare: tuple[Path, Path] | None = typer.Option(
        None,
        "--compare",
        help="Compare two results JSONLs: pass rates on their common problems, the budget each used, the problems "
        "only one solved, and McNemar's paired test.",
    ),
) -> None:
    """Regenerate report.md and report.html from a results file, or compare two (--compare A B)."""
    if compare is not None:
        _compare(*compare)
        return
    if results is None:
        fail("give a results file, or --compare A.jsonl B.jsonl")
    _report(results, out)


def _compare(a: Path, b: Path) -> None:
    from benchmarks.compare import compare_results, format_comparison
    from benchmarks.results import ResultsError

    try:
        comparison = compare_results(a, b)
    except ResultsError as exc:
        fail(str(exc))
    for line in format_comparison(comparison):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def _report(results: Path, out: Path | None) -> None:
    from benchmarks.report import write_report
    from benchmarks.results import ResultsError

    if results.is_dir():
        hint = sorted(results.glob("*.jsonl"))
        named = f" (it holds {', '.join(str(h) for h in hint[:3])})" if hint else ""
        fail(f"{results} is a folder, not a results file: give the sweep's --output JSONL{named}")
    if not results.is_file():
        fail(f"no such results file: {results}")
    if out is not None and out.exists() and not out.is_dir():
        fail(f"--out {out} is a file; give the folder for report.md and report.html")
    try:
        rep = write_report(results, out)  # writes nothing when it fails
    except ResultsError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write the report: {exc.strerror or exc}: {exc.filename or out or results.parent}")
    print_summary(rep.summary)
    console.print(f"report: {rep.markdown} and {rep.html}", highlight=False)
    print(rep.summary.pass_rate_line(), flush=True)


def print_summary(summary: Any) -> None:
    from rich.table import Table

    table = Table(title="by category")
    for col in ("category", "proved", "total", "rate"):
        table.add_column(col)
    for row in summary.categories:
        table.add_row(row.category, str(row.proved), str(row.total), f"{100 * row.rate:.1f}%")
    console.print(table)
    if summary.pass_at:
        console.print("  ".join(f"pass@{k}: {100 * v:.1f}%" for k, v in summary.pass_at.items()), highlight=False)
    t, e = summary.time_s, summary.expansions
    console.print(
        f"time/attempt: median {t.median:.2f}s, p90 {t.p90:.2f}s, max {t.max:.2f}s; "
        f"expansions/attempt: median {e.median:.0f}, p90 {e.p90:.0f}, max {e.max:.0f}",
        highlight=False,
    )
    if summary.missing:
        console.print(
            f"{len(summary.missing)} problem(s) have no finished attempt (counted as not proved)", highlight=False
        )
    if summary.checkers:  # a replay verdict is a check of recordings: say who checked, never fold it into Lean's
        console.print(summary.checker_line(), highlight=False)
