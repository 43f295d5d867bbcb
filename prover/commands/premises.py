"""`prover premises FILE --theorem T`: the premises accessible at T (or at --line) ranked for its goal."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from prover.commands.options import DeviceOption
from prover.console import console, err_console, fail


def register(app: typer.Typer) -> None:
    app.command("premises")(premises)


def premises(
    file: Path = typer.Argument(..., help="The .lean file."),
    theorem: str = typer.Option(..., "--theorem", "-t", help="The theorem whose goal is the query."),
    line: int | None = typer.Option(None, "--line", "-l", help="Only declarations before this line (default: T's)."),
    k: int = typer.Option(10, "-k", "--num-premises", help="How many premises."),
    goal: str | None = typer.Option(None, "--goal", help="Query with this goal instead of T's statement."),
    lean_project: Path | None = typer.Option(None, "--lean-project", help="The indexed project (default: FILE's)."),
    device: DeviceOption = None,
    retriever: str = typer.Option(
        "kaiyuy/leandojo-lean4-retriever-byt5-small", "--retriever", help="The encoder the index was built with."
    ),
    cache: Path | None = typer.Option(None, "--cache", help="Cache folder (default ~/.cache/lean-prover/premises)."),
    revision: str | None = typer.Option(None, "--revision", help="Project revision (default: its git commit)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Rank the declarations accessible from FILE at the theorem (its imports, transitively, and FILE's earlier
    declarations) for the theorem's goal, with the index `prover index` built."""
    from prover.premises.index import DEFAULT_CACHE, PremiseIndex, PremiseIndexError, RetrieverEncoder
    from prover.premises.query import (
        PremiseQueryError,
        best_premises,
        file_query,
        lean_version,
        project_revision,
    )

    if k < 1:
        fail("-k must be at least 1")
    if device not in (None, "auto", "cpu", "cuda"):
        fail(f"--device must be auto, cpu or cuda, got {device!r}")
    project = (lean_project or _project_of(file)).expanduser()
    try:
        query = file_query(project, file, theorem, line, goal)
        store = PremiseIndex(cache or DEFAULT_CACHE, lean_version(project))
        rev = revision or project_revision(project)
        store.manifest(rev)  # a missing index fails before the encoder loads
        encoder = RetrieverEncoder.from_pretrained(retriever, device=device or "cpu")
        hits, skipped = best_premises(store, rev, query, encoder, k)
    except (PremiseQueryError, PremiseIndexError, RuntimeError) as exc:
        fail(str(exc))
    if skipped:
        err_console.print(
            f"note: {len(skipped)} accessible module(s) have no embeddings yet (e.g. {skipped[0]}); "
            "`prover index --modules PREFIX` builds them",
            highlight=False,
            soft_wrap=True,
        )
    if as_json:
        rows = [{"name": h.declaration.name, "module": h.declaration.module, "score": h.score} for h in hits]
        print(json.dumps({"theorem": theorem, "premises": rows}, ensure_ascii=False))
        return
    for hit in hits:
        console.print(f"{hit.score:7.3f}  {hit.declaration.name}  ({hit.declaration.module})", highlight=False)


def _project_of(file: Path) -> Path:
    """The nearest folder above FILE holding a lean-toolchain."""
    for folder in file.resolve().parents:
        if (folder / "lean-toolchain").exists():
            return folder
    return file.resolve().parent
