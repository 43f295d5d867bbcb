"""`prover parse FILE.lean [--json]`: the header, imports and every theorem/lemma/example of a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from prover.console import console, fail

if TYPE_CHECKING:
    from lean_env.parse import Hole


def register(app: typer.Typer) -> None:
    app.command("parse")(parse)


def _first_line(text: str, width: int = 80) -> str:
    line = " ".join(text.split("\n", 1)[0].split())
    more = "\n" in text
    if len(line) > width:
        return line[: width - 1] + "…"
    return line + (" …" if more else "")


def _holes(holes: tuple[Hole, ...]) -> str:
    """`2 (1 tactic, 1 term)`, or `-` when there is none."""
    if not holes:
        return "-"
    tactic = sum(h.position == "tactic" for h in holes)
    parts = [f"{tactic} tactic"] if tactic else []
    parts += [f"{len(holes) - tactic} term"] if tactic < len(holes) else []
    return f"{len(holes)} ({', '.join(parts)})"


def parse(
    file: Path = typer.Argument(..., help="The .lean file to read."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON (all fields and positions)."),
) -> None:
    """List the header/imports and every theorem, lemma and example with its `sorry` positions and holes.

    A hole is a `sorry` of a proof (the places `prover prove` fills), tactic or term position; a `sorry`
    inside a statement (formal-conjectures' `answer(sorry)`) is listed under "sorry at" but is no hole.
    """
    from rich.table import Table

    from lean_env.errors import LeanParseError
    from lean_env.parse import parse_lean_file

    if not file.exists():
        fail(f"no such file: {file}")
    if not file.is_file():
        fail(f"not a file: {file}")
    try:
        lean_file = parse_lean_file(file)
    except LeanParseError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")

    if as_json:
        # Plain print: rich would wrap long lines and break the JSON.
        typer.echo(json.dumps(lean_file.to_json(), ensure_ascii=False, indent=2))
        return

    console.print(f"[bold]{file}[/]: {len(lean_file.theorems)} theorem(s)", highlight=False)
    console.print(f"imports: {', '.join(lean_file.imports) or '(none)'}", highlight=False)
    header_lines = [ln for ln in lean_file.header.strip().splitlines() if ln.strip()]
    if header_lines:
        console.print("header:", highlight=False)
        for ln in header_lines:
            console.print(f"  {ln}", highlight=False, markup=False)
    table = Table(show_lines=False)
    table.add_column("name", overflow="fold")
    table.add_column("kind")
    table.add_column("line", justify="right")
    table.add_column("sorries", justify="right")
    table.add_column("sorry at")
    table.add_column("holes")
    table.add_column("statement", overflow="fold")
    for thm in lean_file.theorems:
        table.add_row(
            thm.name,
            thm.kind,
            str(thm.line),
            str(len(thm.sorries)),
            ", ".join(f"{p.line}:{p.column}" for p in thm.sorries),
            _holes(thm.holes),
            _first_line(thm.statement),
        )
    console.print(table)
    others = [d for d in lean_file.declarations if not d.is_target]
    if others:
        console.print(
            "other declarations: " + ", ".join(f"{d.kind} {d.name or '(anonymous)'} (line {d.line})" for d in others),
            highlight=False,
            markup=False,
        )
