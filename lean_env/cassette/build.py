"""Cassettes built from published recordings: proofsteps rows (with skeleton records from their traces), and
what every builder shares (the build report, source paths written relative to the shared folder)."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lean_env.cassette.format import (
    CassetteError,
    DojoLine,
    HolesLine,
    SourceInfo,
    StepLine,
    TheoremLine,
    outcome_from_pp,
)
from lean_env.cassette.keys import normalize_state
from lean_env.cassette.store import Cassette, new_cassette
from lean_env.jsonl import read_json_objects
from lean_env.types import (
    NO_GOALS,
    Theorem,
)

LEAN_WORKBOOK_HEADER = (
    "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 400000\n\nopen BigOperators Real Nat Topology Rat\n"
)


@dataclass
class BuildReport:
    """What a builder made and what it left out (reason -> row count)."""

    cassette: Cassette
    rows: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def num_skipped(self) -> int:
        return sum(self.skipped.values())

    def merge(self, other: BuildReport) -> None:
        self.cassette.merge(other.cassette)
        self.rows += other.rows
        self.skipped.update(other.skipped)

    def summary(self) -> str:
        skipped = ", ".join(f"{n} {why}" for why, n in self.skipped.most_common()) or "none"
        return (
            f"{len(self.cassette.theorems)} theorems, {len(self.cassette.steps)} steps, "
            f"{len(self.cassette.holes)} skeletons from {self.rows} rows; skipped: {skipped}"
        )


SKIP_NO_RESULT = "rows with state_after null (no recorded result)"
SKIP_DUPLICATE = "duplicate steps (same state and tactic)"


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    return read_json_objects(path, CassetteError)


def _upstream_of(source: str | None) -> str | None:
    """`source` fields in the shared data read "… github.com/OWNER/REPO@COMMIT:PATH …"."""
    if not source:
        return None
    found = re.findall(r"github\.com/[\w.-]+/[\w.-]+@[0-9a-f]{7,40}(?::[^\s;()]+)?", source)
    return "; ".join(found) if found else source


def synthetic_name(prefix: str, state_before: str) -> str:
    """A stable name for a row without a theorem name: derived from its state, not its position."""
    digest = hashlib.sha1(normalize_state(state_before).encode("utf-8")).hexdigest()[:12]
    return f"{prefix}_{digest}"


def statement_of(formal_statement: str | None) -> str:
    if not formal_statement:
        return ""
    head, sep, _ = formal_statement.partition(":=")
    return head.strip() if sep else formal_statement.strip()


# The repository and commit a LeanDojo row was traced from ("traced from https://github.com/leanprover/lean4@…",
# or mathlib4): with the row's `file`, the theorem's traced source.
_TRACED_AT = re.compile(r"(https://github\.com/[\w.-]+/[\w.-]+)@([0-9a-f]{40})")


def build_from_proofsteps(paths: Iterable[str | Path], relative_to: Path | None = None) -> BuildReport:
    """Convert proofsteps JSONL files (fields in shared/data/proofsteps/SOURCE.md) into one cassette.

    Rows whose `state_after` is null are skipped (nothing was recorded). A theorem's initial state is
    the `state_before` of its step 0; files whose first recorded step is later (Lean Workbook) leave it null.

    Known limit (the flaw `leandojo_initial_state` fixes for LeanDojo's own files): rows converted from
    LeanDojo traces (`leandojo_benchmark4_random_test_sample100.jsonl`, `leanstar_leandojo_state_tactic.jsonl`)
    carry neither the tactics' positions nor `theorem_statement`, so nothing here can tell whether step 0
    opens the theorem's top-level `by` (its `state_before` is then the theorem's goal) or a `by` nested in a
    term-mode proof or in the statement (a side goal). Such records also have no statement, so the replay
    verifier matches them by name (or by traced declaration, when the theorem names one). Leaving their
    initial states unknown would be sound but would stop replay from starting any of them, which the shared
    fixtures rely on; a replayed "proved" for such a theorem is only as good as that assumption. The same holds
    for the skeleton (`holes`) records `_add_skeletons` builds from those traces: `by` + the traced prefix +
    `sorry` has the traced goals only if the trace is of the top-level `by` block.
    """
    report = BuildReport(cassette=new_cassette("built from proofsteps rows", created_by="prover cassette build"))
    for raw_path in paths:
        path = Path(raw_path)
        rows = 0
        sources: set[str] = set()
        traces: dict[str, list[dict[str, Any]]] = {}
        for lineno, row in read_jsonl(path):
            rows += 1
            _add_proofstep_row(report, path, lineno, row, sources, relative_to)
            if isinstance(row.get("theorem"), str) and isinstance(row.get("step"), int):
                traces.setdefault(row["theorem"], []).append(row)
        for name, trace in traces.items():
            _add_skeletons(report, name, trace, display_path(path, relative_to))
        report.rows += rows
        upstream = "; ".join(sorted({u for u in (_upstream_of(s) for s in sources) if u})) or None
        report.cassette.header = report.cassette.header.model_copy(
            update={
                "sources": report.cassette.header.sources
                + (SourceInfo(path=display_path(path, relative_to), upstream=upstream, rows=rows),)
            }
        )
    return report


def _add_proofstep_row(
    report: BuildReport, path: Path, lineno: int, row: dict[str, Any], sources: set[str], relative_to: Path | None
) -> None:
    where = f"{path}:{lineno}"
    state_before, tactic = row.get("state_before"), row.get("tactic")
    if not isinstance(state_before, str) or not isinstance(tactic, str):
        raise CassetteError(f"{where}: a proofsteps row needs string fields state_before and tactic")
    if isinstance(row.get("source"), str):
        sources.add(row["source"])
    state_after = row.get("state_after")
    if state_after is None:
        report.skipped[SKIP_NO_RESULT] += 1
        return
    if not isinstance(state_after, str):
        raise CassetteError(f"{where}: state_after must be a string or null")
    name = row.get("theorem") or synthetic_name(path.stem, state_before)
    step = row.get("step")
    step_no = step if isinstance(step, int) else None
    dojo = None
    file_path = row.get("file")
    commit = _TRACED_AT.search(row.get("source") or "")
    if isinstance(file_path, str) and commit and row.get("theorem"):
        dojo = DojoLine(url=commit.group(1), commit=commit.group(2), file_path=file_path, full_name=name)
    header = LEAN_WORKBOOK_HEADER if "lean_workbook" in path.stem else ""
    report.cassette.add_theorem(
        TheoremLine(
            kind="theorem",
            name=name,
            statement=statement_of(row.get("formal_statement")),
            header=header,
            initial_state=state_before if step_no == 0 else None,
            informal_statement=row.get("informal_statement"),
            dojo=dojo,
            source=display_path(path, relative_to),
        )
    )
    added = report.cassette.add_step(
        StepLine(
            kind="step",
            state=state_before,
            tactic=tactic,
            result=outcome_from_pp(state_after),
            theorem=name,
            step=step_no,
        )
    )
    if not added:
        report.skipped[SKIP_DUPLICATE] += 1


def _add_skeletons(report: BuildReport, name: str, trace: list[dict[str, Any]], source: str) -> None:
    """Hole records from one theorem's trace: a recorded proof with its tail replaced by `sorry`.

    For each prefix t0..t(k-1) of the trace (steps 0..k-1 recorded, each `state_before` equal to the
    previous `state_after`, so running the prefix in Lean reaches exactly the recorded state S) the
    skeleton is the prefix followed by `sorry` when S has one goal, or by one `· sorry` per goal when it
    has several: `·` focuses the main goal and `sorry` closes it, so hole i's goal is S's goal i
    (Lean 4 `Lean.Elab.Tactic.evalSorry`/`cdot`: lean4 src/Lean/Elab/Tactic/BuiltinTactic.lean).
    """
    steps = sorted(trace, key=lambda r: int(r["step"]))
    if [r["step"] for r in steps] != list(range(len(steps))):
        return
    prefix: list[str] = []
    for k, row in enumerate(steps):
        after = row.get("state_after")
        tactic = row.get("tactic")
        if not isinstance(after, str) or not isinstance(tactic, str) or "sorry" in tactic:
            return
        if k > 0 and normalize_state(steps[k - 1]["state_after"]) != normalize_state(row["state_before"]):
            return
        prefix.append("  " + tactic.strip().replace("\n", "\n  "))
        goals = [g for g in normalize_state(after).split("\n\n") if g.strip()]
        if normalize_state(after) == NO_GOALS or not goals:
            return
        holes = ["  sorry"] if len(goals) == 1 else ["  · sorry"] * len(goals)
        skeleton = "\n".join(["by", *prefix, *holes])
        report.cassette.add_holes(
            HolesLine(kind="holes", theorem=name, skeleton=skeleton, goals=tuple(goals), source=source)
        )


def display_path(path: Path, relative_to: Path | None) -> str:
    """Paths under `relative_to` (the shared folder) are written as `shared/...`: no machine paths in cassettes."""
    if relative_to is not None:
        try:
            return "shared/" + path.resolve().relative_to(relative_to.resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def state_traced_theorems(cassette: Cassette, declarations: Iterable[Theorem], source: str) -> list[str]:
    """Give the cassette's statement-less theorem records (LeanDojo traces carry no statement text) the statement
    and header of the declaration of the same full name in `declarations`, the theorems of the Lean file `source`.

    The builder states, by naming `source`, that these declarations are the ones the traces were recorded from
    (for example a copy of the traced file's declaration); the cassette's header lists `source` among its
    sources. Without a statement a record vouches only for the traced declaration itself
    (`lean_env.backends.replay.same_theorem`). Returns the names that gained a statement, in cassette order.
    Records that already state a statement are left as they are.
    """
    by_name = {theorem.name: theorem for theorem in declarations}
    stated: list[str] = []
    for name, record in cassette.theorems.items():
        declared = by_name.get(name)
        if record.statement.strip() or declared is None:
            continue
        cassette.theorems[name] = record.model_copy(
            update={"statement": declared.statement, "header": declared.header}
        )
        stated.append(name)
    if stated:
        note = "statements of " + ", ".join(stated) + ": the declarations these traces were recorded from"
        cassette.header = cassette.header.model_copy(
            update={"sources": (*cassette.header.sources, SourceInfo(path=source, note=note))}
        )
    return stated
