"""Benchmark problems: miniF2F rows (or any JSONL of the same shape, or LeanDojo theorem rows) -> `Problem`.

A `Problem` carries the `Theorem` to prove (with its informal statement and proof for
informal-to-formal), its category, and where its statement came from (repository and commit),
so that every result line can name the exact statement it was scored on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lean_env.jsonl import read_json_objects
from lean_env.types import DojoSource, Theorem
from prover.templates import DEEPSEEK_HEADER, FewShotExample

Split = Literal["valid", "test", "all"]
StatementField = Literal["primary", "deepseek", "llemma"]

# Which row keys hold the statement, its header and its provenance, per statement version.
_STATEMENT_KEYS: dict[str, tuple[str, str | None, str]] = {
    "primary": ("formal_statement", "header", "formal_statement"),
    "deepseek": ("formal_statement_deepseek", "header_deepseek", "formal_statement_deepseek"),
    "llemma": ("formal_statement_llemma", "header", "formal_statement_llemma"),
}

# Order matters: the first matching prefix wins (mathd_numbertheory before numbertheory, aimeI before aime).
_CATEGORY_PREFIXES: tuple[tuple[str, str], ...] = (
    ("mathd_algebra", "algebra"),
    ("mathd_numbertheory", "number theory"),
    ("algebra", "algebra"),
    ("numbertheory", "number theory"),
    ("induction", "induction"),
    ("amc", "AMC"),
    ("aime", "AIME"),
    ("imosl", "IMO"),
    ("imo", "IMO"),
)

_SOURCE_RE = re.compile(r"^(?P<repo>[^@\s]+)@(?P<commit>[0-9a-fA-F]{7,40})(?::(?P<path>\S+))?")


class BenchmarkError(ValueError):
    """A benchmark file is missing or malformed; the message is one line."""


def category(name: str) -> str:
    """The miniF2F category of a problem, from its name prefix ("other" when none matches)."""
    lowered = name.lower()
    for prefix, label in _CATEGORY_PREFIXES:
        if lowered.startswith(prefix):
            return label
    return "other"


@dataclass(frozen=True)
class StatementSource:
    """Where a statement came from: `repo@commit:path` as recorded in the benchmark row."""

    text: str = ""
    repo: str = ""
    commit: str = ""
    path: str = ""

    @classmethod
    def parse(cls, text: str) -> StatementSource:
        m = _SOURCE_RE.match(text.strip())
        if not m:
            return cls(text=text)
        return cls(text=text, repo=m["repo"], commit=m["commit"], path=m["path"] or "")


@dataclass(frozen=True)
class Problem:
    name: str
    split: str
    theorem: Theorem
    category: str
    statement_field: str
    source: StatementSource
    # Other names of the problem in other miniF2F versions (the shared rows' `aliases`: LeanDojo's copy
    # spells `numbertheory_notequiv2i2jasqbsqdiv8` what ours spells `numbertheory_notEquiv…`).
    aliases: tuple[str, ...] = ()


def strip_proof(statement: str) -> str:
    """A statement up to (not including) `:=`: drops `:= by sorry`, `:= by` and trailing whitespace."""
    text = statement.rstrip()
    for ending in (":= by sorry", ":= by", ":= sorry", ":="):
        if text.endswith(ending):
            return text[: -len(ending)].rstrip()
    return text


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file, or of a `.json` file holding one JSON list (LeanDojo Benchmark 4's split files,
    `{random,novel_premises}/{train,val,test}.json`: a list of theorems with url/commit/file_path/full_name)."""
    if path.is_dir():
        raise BenchmarkError(f"{path} is a folder, not a benchmark file (a JSONL of problems)")
    if not path.is_file():
        raise BenchmarkError(f"benchmark file not found: {path}")
    if path.suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BenchmarkError(f"{path}: not a JSON file: {' '.join(str(exc).split())}") from None
        if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
            raise BenchmarkError(f"{path}: a .json benchmark is a JSON list of objects (LeanDojo Benchmark 4)")
        return data
    return [row for _, row in read_json_objects(path, BenchmarkError)]


def _minif2f_problem(row: dict[str, Any], where: str, statement: StatementField) -> Problem:
    stmt_key, header_key, source_key = _STATEMENT_KEYS[statement]
    name = row.get("name")
    text = row.get(stmt_key)
    if not isinstance(name, str) or not name:
        raise BenchmarkError(f"{where}: missing 'name'")
    if not isinstance(text, str) or not text.strip():
        raise BenchmarkError(f"{where}: problem {name} has no '{stmt_key}'")
    header = row.get(header_key or "", "") or row.get("header", "") or DEEPSEEK_HEADER
    sources = row.get("source") or {}
    source = StatementSource.parse(str(sources.get(source_key, ""))) if isinstance(sources, dict) else StatementSource()
    split = str(row.get("split", ""))
    aliases = tuple(a for a in row.get("aliases") or () if isinstance(a, str) and a and a != name)
    theorem = Theorem(
        name=name,
        statement=strip_proof(text),
        header=str(header),
        informal_statement=row.get("informal_statement"),
        informal_proof=row.get("informal_proof"),
        aliases=aliases,
    )
    return Problem(name, split, theorem, category(name), stmt_key, source, aliases)


def _dojo_problem(row: dict[str, Any], where: str) -> Problem:
    """A LeanDojo benchmark row (`url`, `commit`, `file_path`, `full_name`): proved through the dojo backend."""
    try:
        dojo = DojoSource(
            url=str(row["url"]),
            commit=str(row["commit"]),
            file_path=str(row["file_path"]),
            full_name=str(row["full_name"]),
        )
    except KeyError as exc:
        raise BenchmarkError(f"{where}: LeanDojo row lacks {exc.args[0]!r}") from None
    theorem = Theorem(
        name=dojo.full_name,
        statement=str(row.get("statement", "")),
        informal_statement=row.get("informal_statement"),
        informal_proof=row.get("informal_proof"),
        dojo=dojo,
    )
    source = StatementSource(
        text=f"{dojo.url}@{dojo.commit}:{dojo.file_path}", repo=dojo.url, commit=dojo.commit, path=dojo.file_path
    )
    return Problem(dojo.full_name, str(row.get("split", "")), theorem, category(dojo.full_name), "leandojo", source)


def load_problems(
    path: str | Path,
    split: Split = "all",
    statement: StatementField = "primary",
    names: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[Problem]:
    """Problems of `path` in file order, filtered by split and names (unknown names are an error)."""
    p = Path(path).expanduser()
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, row in enumerate(_read_jsonl(p), 1):
        where = f"{p}:{i}"
        problem = (
            _dojo_problem(row, where)
            if "full_name" in row and "url" in row
            else _minif2f_problem(row, where, statement)
        )
        if problem.name in seen:
            raise BenchmarkError(f"{where}: duplicate problem name {problem.name}")
        seen.add(problem.name)
        problems.append(problem)
    every = problems
    if split != "all":
        problems = [pr for pr in problems if pr.split == split]
    if names:
        # A name of another miniF2F version selects the same problem (its canonical name is kept).
        by_name = {alias: pr for pr in problems for alias in pr.aliases}
        by_name.update({pr.name: pr for pr in problems})
        missing = [n for n in names if n not in by_name]
        if missing:
            elsewhere = next((pr for pr in every if missing[0] in (pr.name, *pr.aliases)), None)
            if elsewhere is not None:  # the right name in the wrong split: say which split has it
                raise BenchmarkError(
                    f"problem {missing[0]!r} is in split {elsewhere.split}, not {split}, of {p}; "
                    f"pass --split {elsewhere.split} (or --split all)"
                )
            raise BenchmarkError(f"unknown problem {missing[0]!r} in {p} (split {split})")
        problems = list({by_name[n].name: by_name[n] for n in names}.values())
    if limit is not None:
        problems = problems[:limit]
    if not problems:
        raise BenchmarkError(f"no problems selected from {p} (split {split})")
    return problems


@dataclass(frozen=True)
class NamedFewShot:
    name: str
    example: FewShotExample


def load_few_shot(path: str | Path) -> list[NamedFewShot]:
    """DeepSeek-style few-shot rows: `name`, `informal_prefix`, `formal_statement`, `formal_proof`."""
    p = Path(path).expanduser()
    out: list[NamedFewShot] = []
    for i, row in enumerate(_read_jsonl(p), 1):
        try:
            example = FewShotExample(
                informal_prefix=str(row["informal_prefix"]),
                formal_statement=str(row["formal_statement"]),
                formal_proof=str(row["formal_proof"]),
            )
        except KeyError as exc:
            raise BenchmarkError(f"{p}:{i}: few-shot row lacks {exc.args[0]!r}") from None
        out.append(NamedFewShot(str(row.get("name", "")), example))
    return out


def few_shot_for(problem_name: str, pool: Iterable[NamedFewShot], count: int) -> list[FewShotExample]:
    """The first `count` examples of `pool` other than the problem itself (never its own solution)."""
    chosen = [ex.example for ex in pool if ex.name != problem_name]
    return chosen[:count]
