"""`prover doctor` (what is and is not available, with fixes) and `prover setup` (build a Lean project).

Both only collect and print. The doctor's rows are `lean_env.project.probes.Probe`s: the Lean side's from
`lean_env.project.probes.run_doctor` (toolchain, project, Lean versions, REPL start and patches, validators), the
Python stack's from `prover.doctor.probe_python` (torch/GPU, model placement, vLLM, Ray, LeanDojo). Set-up's plan and
steps are `lean_env.project.lake_project`'s, the REPL revision `lean_env.project.repl_versions`'.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from prover.console import EXIT_NOT_PROVED, console, err_console, fail

EXIT_INTERRUPTED = 130  # README: 130 interrupted

if TYPE_CHECKING:
    from rich.console import Console

    from lean_env.project.probes import DoctorReport


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
    app.command("setup")(setup)


def _configured_project(lean_project: str | None, config: Path | None) -> tuple[Path, Path | None]:
    from prover.config import ConfigError, load_config

    try:
        cfg = load_config(config, {"lean": {"project": lean_project}})
    except ConfigError as exc:
        fail(str(exc))
    repl = Path(cfg.lean.repl_binary).expanduser() if cfg.lean.repl_binary else None
    return Path(cfg.lean.project).expanduser(), repl


def render_report(report: DoctorReport, out: Console) -> None:
    """The probes as a table (check, status, what was found), then one line per fix.

    Fixes are commands to copy: they are printed whole on their own lines (soft-wrapped by the terminal,
    never folded into a narrow column), so a URL never breaks one character a line in 80 columns. Checks
    that share a fix (elan provides lean and lake) share its line; fixes real proving needs come first, under
    "How to fix:", the optional ones after them. Paths inside the project (named in the title) are shown
    relative to it, so they fit the column instead of folding.
    """
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"prover doctor — Lean project {report.project}", expand=False)
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("found", overflow="fold", ratio=1)
    inside = f"{report.project}/"
    needed: dict[str, list[str]] = {}
    optional: dict[str, list[str]] = {}
    for probe in report.probes:
        if probe.ok:
            status = "[green]OK[/]"
        elif probe.required:
            status = f"[red]{probe.problem}[/]"
        else:
            status = "[yellow]optional[/]"
        if not probe.ok and probe.fix:
            (needed if probe.required else optional).setdefault(probe.fix, []).append(probe.name)
        table.add_row(probe.name, status, Text(probe.detail.replace(inside, "")))
    out.print(table)
    for title, fixes in (("How to fix:", needed), ("Optional (not needed for proving):", optional)):
        if fixes:
            out.print(title)
            for fix, probed in fixes.items():
                out.print(Text(f"  {', '.join(probed)}: ", style="bold") + Text(fix), soft_wrap=True)
    if report.ready:
        out.print("[green]Ready for real proving.[/]")
    else:
        names = ", ".join(c.name for c in report.missing_required)
        out.print(f"[red]Not ready for real proving[/] ({names}: see How to fix); replay backends still work.")


def doctor(
    lean_project: str | None = typer.Option(None, "--lean-project", help="Lake project to inspect (default: config)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="TOML config file."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when something needed for real proving is missing."),
    as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON."),
    no_python: bool = typer.Option(False, "--no-python", help="Skip the torch/GPU/vllm/flash-attn/Ray checks."),
) -> None:
    """Print what is and is not available (Lean, Lake, Mathlib, REPL, GPU, vllm, Ray) and how to fix it."""
    from lean_env.project.probes import run_doctor
    from prover.config import load_config
    from prover.doctor import probe_python

    project, repl_binary = _configured_project(lean_project, config)
    generator = load_config(config).generator  # already validated by _configured_project
    report = run_doctor(project, repl_binary, extra=() if no_python else probe_python(generator))
    if as_json:
        typer.echo(
            json.dumps(
                {"project": str(report.project), "ready": report.ready, "checks": [asdict(c) for c in report.probes]},
                indent=2,
            )
        )
    else:
        render_report(report, console)
    if strict and not report.ready:
        raise typer.Exit(EXIT_NOT_PROVED)


def setup(
    lean_project: Path = typer.Option(..., "--lean-project", help="Directory to create the Lake project in."),
    mathlib_rev: str | None = typer.Option(
        None, "--mathlib-rev", help="Mathlib release tag or commit to pin (default: v4.32.0)."
    ),
    repl_rev: str | None = typer.Option(
        None, "--repl-rev", help="REPL revision (default: the tag built for the project's Lean, fork first)."
    ),
    lean_toolchain: str | None = typer.Option(
        None,
        "--lean-toolchain",
        help="Toolchain, e.g. leanprover/lean4:v4.32.0 (needed when --mathlib-rev is a commit).",
    ),
    repl_tags: Path | None = typer.Option(
        None,
        "--repl-tags",
        help="Folder with TAGS.txt / TAGS-lean-interact-fork.txt (offline); default: git ls-remote.",
    ),
    validator: str | None = typer.Option(
        None,
        "--validator",
        help="Kernel-replay tool for --strict; comparator: also declare the lean_lib ProverValidate it builds with.",
    ),
) -> None:
    """Create a Lake project pinned to a Mathlib release, fetch Mathlib's cache and build the Lean REPL."""
    from lean_env.errors import SetupError
    from lean_env.project.lake_project import DEFAULT_MATHLIB_REV, SetupStep, check_setup_tools, plan_setup, run_setup
    from lean_env.project.repl_versions import ReplTags, fetch_repl_tags

    try:
        check_setup_tools()
        tags = ReplTags.from_dir(repl_tags) if repl_tags is not None else fetch_repl_tags()
        rev = mathlib_rev if mathlib_rev is not None else DEFAULT_MATHLIB_REV  # `--mathlib-rev ''` is refused
        plan = plan_setup(lean_project, rev, repl_rev, lean_toolchain, tags, validator)
    except SetupError as exc:
        fail(str(exc))
    if plan.repl_rev is not None:
        expected = f"REPL {plan.repl_rev} (--repl-rev)"
    else:
        expected = f"REPL {plan.repl.rev} ({plan.repl.source})" if plan.repl else "REPL pinned after Mathlib resolves"
    console.print(
        f"Setting up {plan.project}: Mathlib {plan.mathlib_rev}, {plan.toolchain}, {expected}", highlight=False
    )
    total = len(plan.steps)
    status = err_console.status("starting…")

    def on_step(index: int, step: SetupStep) -> None:
        if index:
            console.print("  [green]done[/]")
        console.print(f"[{index + 1}/{total}] {step.title}: [bold]{step.display}[/]", highlight=False)
        status.update(f"{step.display} (this can take a while)")

    try:
        with status:
            result = run_setup(plan, on_step=on_step, tags=tags)
    except SetupError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        # The lakefile is set-up's own, so running the same command again picks up where this one stopped.
        fail(f"interrupted; {plan.project} is not set up yet: run the same command again to finish", EXIT_INTERRUPTED)
    console.print("  [green]done[/]")
    console.print(f"[green]Lean project ready:[/] {result.project} ({result.toolchain})", highlight=False)
    if result.repl is not None:
        console.print(f"REPL: {result.repl.git} @ {result.repl.rev} ({result.repl.source})", highlight=False)
    if result.patches:
        console.print(f"REPL patched before building: {', '.join(result.patches)}", highlight=False)
    console.print(f"REPL binary: {result.repl_binary}", highlight=False)
    console.print(f"Use it with: prover prove FILE.lean --lean-project {result.project}", highlight=False)
