"""`prover parse FILE.lean [--json]`: the header, imports and every theorem/lemma/example of a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from prover.console import console, fail

if TYPE_CHECKING:
    from lean_env.source.document import Hole, LeanFile


def register(app: typer.Typer) -> None:
    app.command("parse")(parse)


def _one_line(text: str, width: int = 80) -> str:
    """`text` with its whitespace and line breaks collapsed, cut to `width` characters with `…`."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


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
    inside a statement (formal-conjectures' `answer(sorry)`) is listed with the sorries but is no hole.
    """
    from lean_env.errors import LeanParseError
    from lean_env.source.declarations import parse_lean_file

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
    _print_listing(file, lean_file)


def _print_listing(file: Path, lean_file: LeanFile) -> None:
    """The text listing: header and imports, then each target declaration with its sorries and statement."""
    # Plain lines, not a table: names and statements of real files (formal-conjectures, Mathlib) are long, and
    # a 7-column table folds them to a few characters a line in 80 columns. soft_wrap: the terminal wraps.
    say = {"highlight": False, "markup": False, "soft_wrap": True}
    console.print(f"{file}: {len(lean_file.theorems)} theorem(s)", **say)  # type: ignore[arg-type]
    console.print(f"imports: {', '.join(lean_file.imports) or '(none)'}", **say)  # type: ignore[arg-type]
    header = lean_file.header.strip("\n").rstrip()
    if header.strip():
        console.print("header:", **say)  # type: ignore[arg-type]
        for ln in header.splitlines():  # blank lines kept: they separate the header's paragraphs
            console.print(f"  {ln}" if ln.strip() else "", **say)  # type: ignore[arg-type]
    if lean_file.theorems:
        console.print("declarations (line, kind, name, sorries; the statement below):", **say)  # type: ignore[arg-type]
    pad = max((len(str(t.line)) for t in lean_file.theorems), default=1)
    for thm in lean_file.theorems:
        if thm.sorries:
            where = ", ".join(f"{p.line}:{p.column}" for p in thm.sorries)
            n = len(thm.sorries)
            sorries = f"{n} {'sorry' if n == 1 else 'sorries'} at {where}; holes {_holes(thm.holes)}"
        else:
            sorries = "no sorry"
        console.print(f"{thm.line:>{pad}}  {thm.kind} {thm.name}  ({sorries})", **say)  # type: ignore[arg-type]
        indent = " " * (pad + 4)
        statement = _one_line(thm.statement, width=max(20, console.width - len(indent) - 1))
        console.print(f"{indent}{statement}", **say)  # type: ignore[arg-type]
    others = [d for d in lean_file.declarations if not d.is_target]
    if others:
        console.print(
            "other declarations: " + ", ".join(f"{d.kind} {d.name or '(anonymous)'} (line {d.line})" for d in others),
            **say,  # type: ignore[arg-type]
        )
