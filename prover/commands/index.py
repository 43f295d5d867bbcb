"""`prover index`: the premise index of a Lean project (declarations dumped through the REPL, embedded)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from prover.commands.options import DeviceOption
from prover.console import err_console, fail

if TYPE_CHECKING:
    from prover.premises.dump import ModuleDump

DEFAULT_RETRIEVER = "kaiyuy/leandojo-lean4-retriever-byt5-small"


def register(app: typer.Typer) -> None:
    app.command("index")(index)


def index(
    lean_project: Path = typer.Option(..., "--lean-project", help="The Lean project to index."),
    dump: Path | None = typer.Option(None, "--dump", help="A recorded dump (JSONL of REPL answers) instead of Lean."),
    modules: list[str] = typer.Option(
        [], "--modules", help="Embed modules under this prefix (repeatable), e.g. Mathlib; default: your own on CPU."
    ),
    device: DeviceOption = None,
    retriever: str = typer.Option(DEFAULT_RETRIEVER, "--retriever", help="Encoder model for the embeddings."),
    cache: Path | None = typer.Option(None, "--cache", help="Cache folder (default ~/.cache/lean-prover/premises)."),
    revision: str | None = typer.Option(None, "--revision", help="Project revision (default: its git commit)."),
) -> None:
    """Dump, store and embed the project's accessible declarations; unchanged modules are reused."""
    from prover.premises.dump import DumpError, project_modules, read_recorded_dump
    from prover.premises.index import DEFAULT_CACHE, PremiseIndex
    from prover.premises.query import PremiseQueryError, lean_version, project_revision

    if device not in (None, "auto", "cpu", "cuda"):
        fail(f"--device must be auto, cpu or cuda, got {device!r}")
    project = lean_project.expanduser()
    if not project.is_dir():
        fail(f"--lean-project {project} is not a folder")
    try:
        version = lean_version(project)
    except PremiseQueryError as exc:
        fail(str(exc))
    own = set(project_modules(project))
    try:
        dumps = read_recorded_dump(dump) if dump is not None else _dump_through_lean(project, sorted(own))
    except (DumpError, OSError) as exc:
        fail(str(exc))
    rev = revision or project_revision(project)
    store = PremiseIndex(cache or DEFAULT_CACHE, version)
    manifest = store.store(rev, dumps)

    from prover.generators.seq2seq import available_cpus, cuda_available

    chosen = device or "auto"
    on_gpu = chosen == "cuda" or (chosen == "auto" and cuda_available())
    if modules:
        prefixes = tuple(modules)
        plan = store.plan(manifest, lambda m: any(m == p or m.startswith(p + ".") for p in prefixes))
    elif on_gpu:
        plan = store.plan(manifest, lambda m: True)
    else:
        # ByT5's encoder on a laptop CPU: only the user's own modules (Mathlib's ~200k would take a day).
        plan = store.plan(manifest, lambda m: m in own)
    threads = available_cpus().cpus
    err_console.print(
        f"{len(manifest)} modules for Lean {version} at {rev}; {plan.estimate('cuda' if on_gpu else 'cpu', threads)}",
        highlight=False,
        soft_wrap=True,
    )
    if not plan.to_embed:
        err_console.print("nothing to embed: the index is up to date", highlight=False)
        return
    from prover.premises.index import RetrieverEncoder

    try:
        encoder = RetrieverEncoder.from_pretrained(retriever, device="cuda" if on_gpu else "cpu")
    except RuntimeError as exc:
        fail(str(exc))

    def progress(module: str, count: int) -> None:
        err_console.print(f"embedded {module} ({count} premises)", highlight=False, soft_wrap=True)

    done = store.embed(manifest, plan, encoder, progress=progress)
    err_console.print(f"index ready: {done} premises embedded", highlight=False)


def _dump_through_lean(project: Path, own: list[str]) -> list[ModuleDump]:
    """Dump every module the project's own modules import (and those) through `lake env <repl>`."""
    import shutil

    from lean_env.backends.repl_process import ReplProcess
    from lean_env.project.lake_project import default_repl_binary
    from prover.premises.dump import dump_with_repl

    lake = shutil.which("lake")
    repl_binary = default_repl_binary(project)
    if lake is None or not repl_binary.exists():
        raise OSError(f"no Lean here (lake on PATH and {repl_binary}); pass a recorded dump with --dump")
    proc = ReplProcess([lake, "env", str(repl_binary)], project)
    proc.start()
    try:
        return list(dump_with_repl(proc, own))
    finally:
        proc.close()
