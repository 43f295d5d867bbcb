"""Cassettes built from LeanDojo Benchmark 4 traced tactics, and when a traced first state is the theorem's goal."""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lean_env.cassette.build import SKIP_DUPLICATE, SKIP_NO_RESULT, BuildReport, display_path
from lean_env.cassette.format import CassetteError, DojoLine, SourceInfo, StepLine, TheoremLine, outcome_from_pp
from lean_env.cassette.store import new_cassette
from lean_env.errors import LeanEnvError
from lean_env.source.lexer import LexError, TokenKind, tokenize


def _lean_pos(value: Any) -> tuple[int, int] | None:
    """LeanDojo's `Pos` as JSON (`[line, column]`, both 1-based, as `lean_dojo.data_extraction.lean.Pos`)."""
    if isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return int(value[0]), int(value[1])
    return None


def _has_by_token(text: str) -> bool:
    try:
        return any(t.kind is TokenKind.IDENT and t.text == "by" for t in tokenize(text, keep_comments=False))
    except LexError:
        return True  # unknown: assume the worst


def leandojo_initial_state(
    theorem: Mapping[str, Any], traced: Sequence[Mapping[str, Any]], source_root: Path | None = None
) -> str | None:
    """The theorem's initial state from its first traced tactic, or None when that is not certain.

    LeanDojo traces every tactic block of a theorem in preorder (`TracedTheorem.get_traced_tactics`,
    lean-dojo `src/lean_dojo/data_extraction/traced_data.py`): a `by` inside the statement (an
    auto-param) or inside a term-mode proof is traced too, and its goal is a side goal, not the
    theorem. The first tactic's `state_before` is the theorem's goal only when that tactic opens the
    proof's top-level `by` block. That is established from either
    (a) positions: the traced tactic's `start` (`[line, column]`, 1-based) is the first token after the
        top-level `by` of the declaration at the theorem's `start`, in `source_root / file_path`; or
    (b) `theorem_statement`, which LeanDojo's benchmark exporter writes only when
        `thm.has_tactic_proof()` (the proof is one `by` block), with no `by` in the statement itself.
    Otherwise (LeanDojo Benchmark 4 files as published carry neither) the state is unknown: None.
    """
    if not traced or not isinstance(traced[0].get("state_before"), str):
        return None
    first = traced[0]
    state = str(first["state_before"])
    tactic_start = _lean_pos(first.get("start"))
    theorem_start = _lean_pos(theorem.get("start"))
    file_path = theorem.get("file_path")
    if tactic_start and theorem_start and source_root is not None and isinstance(file_path, str):
        return state if _opens_top_level_by(source_root / file_path, theorem_start, tactic_start) else None
    statement = theorem.get("theorem_statement")
    if isinstance(statement, str) and statement.strip() and not _has_by_token(statement):
        return state
    return None


def _opens_top_level_by(path: Path, theorem_start: tuple[int, int], tactic_start: tuple[int, int]) -> bool:
    from lean_env.source.declarations import parse_lean_source

    try:
        parsed = parse_lean_source(path.read_text(encoding="utf-8"), str(path))
    except (OSError, LeanEnvError):
        return False
    decl = next(
        (d for d in parsed.theorems if d.decl_span.start_line <= theorem_start[0] <= d.statement_span.start_line),
        None,
    )
    if decl is None or decl.proof_span is None or decl.assign_span is None:
        return False
    proof = tokenize(parsed.source[decl.proof_span.start : decl.proof_span.end], keep_comments=False)
    if len(proof) < 2 or proof[0].text != "by":
        return False
    # The proof's tokens are positioned relative to the proof text; shift them back into the file.
    line = decl.proof_span.start_line + proof[1].line - 1
    column = proof[1].column + (decl.proof_span.start_column - 1 if proof[1].line == 1 else 0)
    return (line, column) == tactic_start


def build_from_leandojo_benchmark(
    path: str | Path, relative_to: Path | None = None, source_root: Path | None = None
) -> BuildReport:
    """Convert a LeanDojo Benchmark 4 split file (a JSON list of theorems with `traced_tactics`).

    A theorem's `initial_state` is recorded only when `leandojo_initial_state` can establish it
    (tactic positions with the traced repository checked out at `source_root`, or LeanDojo's
    `theorem_statement`); otherwise it stays unknown and replay cannot start or verify that theorem.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CassetteError(f"{p}: cannot read LeanDojo benchmark JSON: {exc}") from None
    if not isinstance(data, list):
        raise CassetteError(f"{p}: a LeanDojo benchmark file is a JSON list of theorems")
    report = BuildReport(
        cassette=new_cassette("built from LeanDojo Benchmark traced tactics", created_by="prover cassette build")
    )
    commits: set[str] = set()
    for i, thm in enumerate(data):
        if not isinstance(thm, dict) or "full_name" not in thm:
            raise CassetteError(f"{p}: theorem #{i}: expected an object with full_name and traced_tactics")
        traced = thm.get("traced_tactics") or []
        if isinstance(traced, str):  # some copies store the list as a Python repr
            try:
                traced = ast.literal_eval(traced)
            except (ValueError, SyntaxError):
                raise CassetteError(f"{p}: theorem {thm['full_name']}: unreadable traced_tactics") from None
        name = str(thm["full_name"])
        dojo = None
        if all(isinstance(thm.get(k), str) for k in ("url", "commit", "file_path")):
            dojo = DojoLine(url=thm["url"], commit=thm["commit"], file_path=thm["file_path"], full_name=name)
            commits.add(f"{thm['url']}@{thm['commit']}")
        rows = [t for t in traced if isinstance(t, dict)]
        initial = leandojo_initial_state(thm, rows, source_root) if len(rows) == len(traced) else None
        report.cassette.add_theorem(
            TheoremLine(
                kind="theorem", name=name, initial_state=initial, dojo=dojo, source=display_path(p, relative_to)
            )
        )
        for step_no, tac in enumerate(traced):
            report.rows += 1
            if not isinstance(tac, dict) or not isinstance(tac.get("tactic"), str):
                raise CassetteError(f"{p}: theorem {name} step {step_no}: expected tactic/state_before/state_after")
            if tac.get("state_after") is None:
                report.skipped[SKIP_NO_RESULT] += 1
                continue
            added = report.cassette.add_step(
                StepLine(
                    kind="step",
                    state=str(tac["state_before"]),
                    tactic=tac["tactic"],
                    result=outcome_from_pp(str(tac["state_after"])),
                    theorem=name,
                    step=step_no,
                )
            )
            if not added:
                report.skipped[SKIP_DUPLICATE] += 1
    upstream = "; ".join(sorted(commits)) or None
    report.cassette.header = report.cassette.header.model_copy(
        update={"sources": (SourceInfo(path=display_path(p, relative_to), upstream=upstream, rows=report.rows),)}
    )
    return report
