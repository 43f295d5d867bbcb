"""Cassettes: recorded real-Lean interactions, replayed by `lean_env.backends.replay`.

A cassette is a versioned JSONL file (documented in docs/lean_env_replay.md):

- line 1, the header: ``{"kind": "header", "format": "lean-prover-cassette", "version": 1, "sources": [...]}``;
- theorem lines: ``{"kind": "theorem", "name", "statement", "header", "initial_state", ...}``;
- step lines: ``{"kind": "step", "state", "tactic", "result": {"kind": "state"|"finished"|"error"|"given_up"|"timeout", ...}}``;
- hole lines (version 2): ``{"kind": "holes", "theorem", "skeleton", "goals": [...]}``: what Lean answers when the
  declaration is compiled with that proof skeleton: one goal per `sorry`, in source order.

Steps are keyed by (state pp, `normalize_tactic(tactic)`: Lean's layout kept). Every record must come from real Lean
output; builders here convert published recordings (proofsteps rows, LeanDojo traced tactics,
miniF2F proofs that compiled) and say what they skipped.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from lean_env.errors import LeanEnvError
from lean_env.jsonl import read_json_objects
from lean_env.source.lexer import LexError, TokenKind, tokenize
from lean_env.types import (
    NO_GOALS,
    DojoSource,
    LeanError,
    ProofFinished,
    ProofGivenUp,
    ProofState,
    StateResult,
    TacticResult,
    TacticTimeout,
    Theorem,
)

FORMAT_NAME = "lean-prover-cassette"
FORMAT_VERSION = 2
# Version 2 added hole lines; a version 1 file is a version 2 file without them, so both are read.
# Version 2 also keys steps by Lean's layout (`normalize_tactic`: newlines and indentation kept) instead
# of collapsing whitespace; keys are computed on load, so the files are unchanged, only lookups stricter.
READABLE_VERSIONS = (1, 2)

# Lean Workbook problems are stated against this header (InternLM Lean-Workbook); rows do not carry it.
LEAN_WORKBOOK_HEADER = (
    "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 400000\n\nopen BigOperators Real Nat Topology Rat\n"
)


class CassetteError(LeanEnvError):
    """A cassette (or a builder's input) is malformed; the message is one line naming file and line."""


def normalize_tactic(tactic: str) -> str:
    """The lookup form of a tactic: what Lean distinguishes stays distinct, layout included.

    Lean's tactic blocks are whitespace-sensitive: a newline separates tactics, and a line's column
    decides which block it belongs to (`·` bullets, `case`, `induction ... with` alternatives, `calc`
    steps, nested `by`): in leanprover/lean4 `src/Lean/Parser/Term.lean` (`Term/Basic.lean` in newer
    trees) `Tactic.tacticSeq1Indented` is `sepBy1IndentSemicolon tacticParser`, items separated by `;`
    or a newline and position-checked (`checkColGe`), and tabs are an error ("tabs are not allowed"). So `constructor\n· simp\n· ring` and its run-on form
    `constructor · simp · ring` (an error in Lean) must not share a key. Kept: newlines, the
    indentation of every line after the first (a tactic text is parsed with its first token at column
    0, by the REPL's tactic mode and by LeanDojo's `lean_dojo_repl`), tabs, and string literals.
    Dropped, because Lean ignores them: trailing spaces, blank lines, the first line's indentation and
    runs of spaces inside a line (one space and several separate tokens alike). One layout freedom is
    Lean's own: when every continuation line is an alternative (`| zero => …` of `induction … with`,
    `cases`, `match`, `first`), their common indentation is dropped, since alternatives are only
    checked to sit at or right of the first one (`inductionAlts` = `withPosition((colGe inductionAlt)+)`
    in `src/Init/Tactics.lean`; `matchAlts` uses `many1Indent`, i.e. `checkColGe`). So LeanDojo's
    `induction m with\n| zero => …` and the same arms indented under it share a key.
    """
    lines = [line.rstrip(" \r") for line in tactic.split("\n")]
    lines = [line for line in lines if line.strip(" ")]
    if not lines:
        return ""
    rest = lines[1:]
    if rest and all(_ALTERNATIVE.match(line.lstrip(" ")) for line in rest):
        common = min(len(line) - len(line.lstrip(" ")) for line in rest)
        lines = [lines[0], *(line[common:] for line in rest)]
    out = []
    for number, line in enumerate(lines):
        body = line.lstrip(" ")
        indent = "" if number == 0 else line[: len(line) - len(body)]
        out.append(indent + (_collapse_spaces(body) if "  " in body else body))
    return "\n".join(out)


# A line that is one alternative of `with`/`match`/`first` (`| pat => tac`), not `|>.`, `||` or `|-`.
_ALTERNATIVE = re.compile(r"\|(?![>|\-])")


def normalize_statement(statement: str) -> str:
    """The lookup form of a statement: a term's layout does not matter to Lean, so whitespace runs
    (newlines included) become one space; a statement holding a `by` block keeps its layout
    (`normalize_tactic`), since that block's tactics are layout-sensitive."""
    if re.search(r"(?<![\w.'])by(?![\w'!?])", statement):
        return normalize_tactic(statement)
    return " ".join(statement.split())


def _collapse_spaces(text: str) -> str:
    """Runs of spaces -> one space, except inside string literals (`"a  b"` is another string)."""
    if '"' not in text:
        return re.sub(" {2,}", " ", text)
    parts = re.split(r'("(?:[^"\\]|\\.)*"?)', text)  # odd indices are string literals
    return "".join(part if i % 2 else re.sub(" {2,}", " ", part) for i, part in enumerate(parts))


def normalize_state(pp: str) -> str:
    return pp.strip()


# --------------------------------------------------------------------------- on-disk records


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceInfo(_Line):
    """Where a cassette's records came from: a file, its upstream (repo@commit:path) and licence note."""

    path: str
    upstream: str | None = None
    rows: int | None = None
    note: str | None = None


class HeaderLine(_Line):
    kind: Literal["header"]
    format: str
    version: int
    description: str = ""
    sources: tuple[SourceInfo, ...] = ()
    created_by: str = ""


class DojoLine(_Line):
    url: str
    commit: str
    file_path: str
    full_name: str


class TheoremLine(_Line):
    """A theorem. `initial_state` is null when the recording lacks the state before its first tactic."""

    kind: Literal["theorem"]
    name: str
    statement: str = ""
    header: str = ""
    initial_state: str | None = None
    informal_statement: str | None = None
    informal_proof: str | None = None
    recorded_proof: str | None = None
    dojo: DojoLine | None = None
    source: str | None = None
    # Other names of this theorem (miniF2F versions spell some names differently: the shared rows'
    # `aliases`); `Cassette.find_theorem` accepts them.
    aliases: tuple[str, ...] | None = None

    def to_theorem(self) -> Theorem:
        dojo = DojoSource(**self.dojo.model_dump()) if self.dojo else None
        meta: list[tuple[str, str]] = [("cassette", "true")]
        if self.source:
            meta.append(("source", self.source))
        return Theorem(
            name=self.name,
            statement=self.statement,
            header=self.header,
            informal_statement=self.informal_statement,
            informal_proof=self.informal_proof,
            dojo=dojo,
            metadata=tuple(meta),
        )


class HolesLine(_Line):
    """A declaration compiled with a proof skeleton: the goal of each `sorry`, in source order.

    `skeleton` is the proof after `:=` (for example `by\n  constructor\n  · sorry\n  · sorry`); it is
    looked up by `skeleton_key`, so re-indenting it does not matter. As with every record, the goals
    must be what Lean printed (the REPL's `sorries`), or follow from recorded states by Lean's rules
    (`build_from_proofsteps` says which).
    """

    kind: Literal["holes"]
    theorem: str
    skeleton: str
    goals: tuple[str, ...]
    source: str | None = None


class StateOutcome(_Line):
    kind: Literal["state"]
    pp: str


class FinishedOutcome(_Line):
    kind: Literal["finished"]


class ErrorOutcome(_Line):
    kind: Literal["error"]
    message: str


class GivenUpOutcome(_Line):
    kind: Literal["given_up"]
    message: str = "proof contains `sorry`"


class TimeoutOutcome(_Line):
    kind: Literal["timeout"]
    seconds: float = 0.0


Outcome = Annotated[
    StateOutcome | FinishedOutcome | ErrorOutcome | GivenUpOutcome | TimeoutOutcome, Field(discriminator="kind")
]


class StepLine(_Line):
    kind: Literal["step"]
    state: str
    tactic: str
    result: Outcome
    theorem: str | None = None
    step: int | None = None


_ANY_LINE: TypeAdapter[HeaderLine | TheoremLine | StepLine | HolesLine] = TypeAdapter(
    Annotated[HeaderLine | TheoremLine | StepLine | HolesLine, Field(discriminator="kind")]
)


def skeleton_key(skeleton: str) -> str:
    """The lookup form of a proof skeleton: blank lines and trailing spaces dropped, lines after the first
    dedented by their common indentation (a skeleton means the same at any indentation of its declaration)."""
    lines = [ln.rstrip() for ln in skeleton.replace("\r\n", "\n").strip().split("\n") if ln.strip()]
    if not lines:
        return ""
    rest = lines[1:]
    common = min((len(ln) - len(ln.lstrip(" ")) for ln in rest), default=0)
    return "\n".join([lines[0], *(ln[common:] for ln in rest)])


def outcome_from_pp(state_after: str) -> StateOutcome | FinishedOutcome:
    """LeanDojo convention: a state of `no goals` means the proof is finished."""
    if normalize_state(state_after) == NO_GOALS:
        return FinishedOutcome(kind="finished")
    return StateOutcome(kind="state", pp=state_after)


def outcome_to_result(outcome: Outcome, handle: int | str | None = None) -> TacticResult:
    if isinstance(outcome, StateOutcome):
        return StateResult(ProofState.from_pp(outcome.pp, handle=handle))
    if isinstance(outcome, FinishedOutcome):
        return ProofFinished(handle=handle)
    if isinstance(outcome, ErrorOutcome):
        return LeanError(outcome.message)
    if isinstance(outcome, GivenUpOutcome):
        return ProofGivenUp(outcome.message)
    return TacticTimeout(outcome.seconds)


def result_to_outcome(result: TacticResult) -> Outcome:
    """The inverse of `outcome_to_result`, for recording results a live backend produced."""
    if isinstance(result, StateResult):
        return StateOutcome(kind="state", pp=result.state.pp)
    if isinstance(result, ProofFinished):
        return FinishedOutcome(kind="finished")
    if isinstance(result, LeanError):
        return ErrorOutcome(kind="error", message=result.message)
    if isinstance(result, ProofGivenUp):
        return GivenUpOutcome(kind="given_up", message=result.message)
    return TimeoutOutcome(kind="timeout", seconds=result.seconds)


# --------------------------------------------------------------------------- the cassette


StepKey = tuple[str, str]


def step_key(state_pp: str, tactic: str) -> StepKey:
    return (normalize_state(state_pp), normalize_tactic(tactic))


@dataclass
class Cassette:
    """An in-memory cassette: header, theorems by name, steps by (state, tactic)."""

    header: HeaderLine = field(
        default_factory=lambda: HeaderLine(kind="header", format=FORMAT_NAME, version=FORMAT_VERSION)
    )
    theorems: dict[str, TheoremLine] = field(default_factory=dict)
    steps: dict[StepKey, StepLine] = field(default_factory=dict)
    path: str = "<memory>"
    holes: dict[tuple[str, str], HolesLine] = field(default_factory=dict)  # (theorem, skeleton_key) -> record
    # Every theorem each step was recorded under (None: a step line without `theorem`). A duplicate step line
    # keeps only its first record in `steps`, but the replay verifier needs all of them: a step shows what
    # Lean does only in the context (header) of a theorem that recorded it.
    recorded_by: dict[StepKey, set[str | None]] = field(default_factory=dict)

    # ---- reading

    @classmethod
    def load(cls, path: str | Path) -> Cassette:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CassetteError(f"cassette not found: {p}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CassetteError(f"cannot read cassette {p}: {exc}") from None
        return cls.loads(text, source=str(p))

    @classmethod
    def loads(cls, text: str, source: str = "<string>") -> Cassette:
        cassette: Cassette | None = None
        step_lines: dict[StepKey, int] = {}
        for lineno, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            where = f"{source}:{lineno}"
            try:
                data = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise CassetteError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})") from None
            try:
                line = _ANY_LINE.validate_python(data)
            except ValidationError as exc:
                raise CassetteError(f"{where}: {_record_error(data, exc)}") from None
            if cassette is None:
                if not isinstance(line, HeaderLine):
                    raise CassetteError(f"{where}: the first line must be the cassette header (kind 'header')")
                if line.format != FORMAT_NAME:
                    raise CassetteError(f"{where}: not a cassette: format is {line.format!r}, expected {FORMAT_NAME!r}")
                if line.version not in READABLE_VERSIONS:
                    known = ", ".join(map(str, READABLE_VERSIONS))
                    raise CassetteError(
                        f"{where}: unsupported cassette version {line.version} (this reader knows {known})"
                    )
                cassette = cls(header=line, path=source)
            elif isinstance(line, HeaderLine):
                raise CassetteError(f"{where}: a second header line")
            elif isinstance(line, HolesLine):
                try:
                    cassette.add_holes(line)
                except CassetteError as exc:
                    raise CassetteError(f"{where}: {exc}") from None
            elif isinstance(line, TheoremLine):
                if line.name in cassette.theorems:
                    raise CassetteError(f"{where}: duplicate theorem {line.name!r}")
                cassette.theorems[line.name] = line
            else:
                key = step_key(line.state, line.tactic)
                cassette.recorded_by.setdefault(key, set()).add(line.theorem)
                previous = cassette.steps.get(key)
                if previous is not None and previous.result != line.result:
                    raise CassetteError(
                        f"{where}: step conflicts with line {step_lines[key]}: same state and tactic "
                        f"`{key[1]}`, different result"
                    )
                if previous is None:
                    cassette.steps[key] = line
                    step_lines[key] = lineno
        if cassette is None:
            raise CassetteError(f"{source}:1: empty cassette (no header line)")
        return cassette

    # ---- writing

    def dumps(self) -> str:
        lines = [self.header.model_dump_json(exclude_none=True)]
        lines += [t.model_dump_json(exclude_none=True) for t in self.theorems.values()]
        lines += [h.model_dump_json(exclude_none=True) for h in self.holes.values()]
        lines += [s.model_dump_json(exclude_none=True) for s in self.steps.values()]
        return "\n".join(lines) + "\n"

    def save(self, path: str | Path) -> None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(self.dumps(), encoding="utf-8")
        tmp.replace(p)

    # ---- building

    def add_theorem(self, theorem: TheoremLine) -> bool:
        """Add a theorem unless one of that name exists; fill a missing initial state. True if added."""
        existing = self.theorems.get(theorem.name)
        if existing is None:
            self.theorems[theorem.name] = theorem
            return True
        if existing.initial_state is None and theorem.initial_state is not None:
            self.theorems[theorem.name] = existing.model_copy(update={"initial_state": theorem.initial_state})
        return False

    def add_step(self, step: StepLine) -> bool:
        """Add a step. False if the same step exists; CassetteError if it conflicts with a recorded one."""
        key = step_key(step.state, step.tactic)
        previous = self.steps.get(key)
        if previous is not None and previous.result != step.result:
            raise CassetteError(f"conflicting recordings for tactic `{key[1]}` in the same state")
        self.recorded_by.setdefault(key, set()).add(step.theorem)
        if previous is None:
            self.steps[key] = step
            return True
        return False

    def add_holes(self, record: HolesLine) -> bool:
        """Add a skeleton record. False if the same one exists; CassetteError if it conflicts."""
        key = (record.theorem, skeleton_key(record.skeleton))
        previous = self.holes.get(key)
        if previous is None:
            self.holes[key] = record
            return True
        if previous.goals != record.goals:
            raise CassetteError(f"conflicting hole records for {record.theorem!r} with the same skeleton")
        return False

    def merge(self, other: Cassette) -> None:
        for thm in other.theorems.values():
            self.add_theorem(thm)
        for record in other.holes.values():
            self.add_holes(record)
        for st in other.steps.values():
            self.add_step(st)
        self.header = self.header.model_copy(update={"sources": self.header.sources + other.header.sources})

    # ---- lookups

    def lookup(self, state_pp: str, tactic: str) -> StepLine | None:
        return self.steps.get(step_key(state_pp, tactic))

    def recorders(self, state_pp: str, tactic: str) -> frozenset[str | None]:
        """The theorems the step (state, tactic) was recorded under; None stands for a line without `theorem`."""
        key = step_key(state_pp, tactic)
        found = self.recorded_by.get(key)
        if found is None:
            step = self.steps.get(key)
            return frozenset() if step is None else frozenset({step.theorem})
        return frozenset(found)

    def find_theorem(self, theorem: Theorem) -> TheoremLine | None:
        """By name, then by an alias (the theorem's own, from its `aliases` metadata, or the record's),
        then by whitespace-normalised statement."""
        found = self.theorems.get(theorem.name)
        if found is not None:
            return found
        own_aliases = [a for key, value in theorem.metadata if key == "aliases" for a in value.split(",") if a]
        for alias in own_aliases:
            if alias in self.theorems:
                return self.theorems[alias]
        for candidate in self.theorems.values():
            if candidate.aliases and theorem.name in candidate.aliases:
                return candidate
        wanted = normalize_statement(theorem.statement)
        if not wanted:
            return None
        for candidate in self.theorems.values():
            if candidate.statement and normalize_statement(candidate.statement) == wanted:
                return candidate
        return None

    def find_holes(self, theorem: Theorem, skeleton: str) -> HolesLine | None:
        """The record of `theorem` (found as `find_theorem` finds it) compiled with `skeleton`."""
        record = self.find_theorem(theorem)
        name = record.name if record is not None else theorem.name
        return self.holes.get((name, skeleton_key(skeleton)))

    def __len__(self) -> int:
        return len(self.steps)


_KINDS = ("header", "theorem", "step", "holes")


def _record_error(data: object, exc: ValidationError) -> str:
    """What is wrong with a JSON line that is no valid record, in the cassette's terms (not pydantic's):
    `not a cassette record (no "kind")`, `theorem record: no "name"`, `step record: result.pp: ...`."""
    if not isinstance(data, dict):
        return f'not a cassette record (a JSON {type(data).__name__}, expected an object with a "kind")'
    kind = data.get("kind")
    if kind is None:
        return 'not a cassette record (no "kind")'
    if kind not in _KINDS:
        return f"not a cassette record (kind {kind!r}; expected one of {', '.join(_KINDS)})"
    first = exc.errors()[0]
    # loc is (kind, field, ...); a nested union adds its tag (step -> result -> state -> pp): drop tags.
    loc = [str(p) for p in first["loc"][1:] if p not in ("state", "finished", "error", "given_up", "timeout")]
    field_name = ".".join(loc)
    if first["type"] == "missing":
        return f'{kind} record: no "{field_name}"'
    if first["type"] == "extra_forbidden":
        return f'{kind} record: unknown field "{field_name}"'
    if first["type"] == "union_tag_not_found":
        return f'{kind} record: {field_name} has no "kind"'
    return f"{kind} record: {field_name}: {first['msg']}" if field_name else f"{kind} record: {first['msg']}"


def new_cassette(description: str, sources: Sequence[SourceInfo] = (), created_by: str = "") -> Cassette:
    header = HeaderLine(
        kind="header",
        format=FORMAT_NAME,
        version=FORMAT_VERSION,
        description=description,
        sources=tuple(sources),
        created_by=created_by,
    )
    return Cassette(header=header)


# --------------------------------------------------------------------------- builders


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


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
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


def _statement_of(formal_statement: str | None) -> str:
    if not formal_statement:
        return ""
    head, sep, _ = formal_statement.partition(":=")
    return head.strip() if sep else formal_statement.strip()


_MATHLIB_COMMIT = re.compile(r"(https://github\.com/leanprover-community/mathlib4)@([0-9a-f]{40})")


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
        for lineno, row in _read_jsonl(path):
            rows += 1
            _add_proofstep_row(report, path, lineno, row, sources, relative_to)
            if isinstance(row.get("theorem"), str) and isinstance(row.get("step"), int):
                traces.setdefault(row["theorem"], []).append(row)
        for name, trace in traces.items():
            _add_skeletons(report, name, trace, _display_path(path, relative_to))
        report.rows += rows
        upstream = "; ".join(sorted({u for u in (_upstream_of(s) for s in sources) if u})) or None
        report.cassette.header = report.cassette.header.model_copy(
            update={
                "sources": report.cassette.header.sources
                + (SourceInfo(path=_display_path(path, relative_to), upstream=upstream, rows=rows),)
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
    commit = _MATHLIB_COMMIT.search(row.get("source") or "")
    if isinstance(file_path, str) and commit and row.get("theorem"):
        dojo = DojoLine(url=commit.group(1), commit=commit.group(2), file_path=file_path, full_name=name)
    header = LEAN_WORKBOOK_HEADER if "lean_workbook" in path.stem else ""
    report.cassette.add_theorem(
        TheoremLine(
            kind="theorem",
            name=name,
            statement=_statement_of(row.get("formal_statement")),
            header=header,
            initial_state=state_before if step_no == 0 else None,
            informal_statement=row.get("informal_statement"),
            dojo=dojo,
            source=_display_path(path, relative_to),
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
    from lean_env.source.parse import parse_lean_source

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
                kind="theorem", name=name, initial_state=initial, dojo=dojo, source=_display_path(p, relative_to)
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
        update={"sources": (SourceInfo(path=_display_path(p, relative_to), upstream=upstream, rows=report.rows),)}
    )
    return report


# Whole-proof lines that are only comments or blank.
_BLOCK_COMMENT = re.compile(r"/-.*?-/", re.DOTALL)
_LINE_COMMENT = re.compile(r"--[^\n]*")


def strip_comments(proof: str) -> str:
    return _LINE_COMMENT.sub("", _BLOCK_COMMENT.sub("", proof))


MINIF2F_FEWSHOT_UPSTREAM = "github.com/deepseek-ai/DeepSeek-Prover-V1.5@2c4ba9119eef74d0d611f494261b2c5bae98c69a:datasets/minif2f_valid_few_shot.jsonl"


def build_from_minif2f_fewshot(
    fewshot_path: str | Path,
    minif2f_path: str | Path,
    proved: Sequence[str],
    unproved: Sequence[str] = (),
    relative_to: Path | None = None,
) -> BuildReport:
    """A cassette for miniF2F problems from DeepSeek-Prover's verified few-shot proofs.

    Each name in `proved` must have a few-shot proof that is a single tactic once comments are
    stripped; that whole proof compiled in Lean, so the tactic run on the problem's initial goal
    (`initial_goal_deepseek`) finishes the proof. Names in `unproved` get their theorem and initial
    state only, so nothing can prove them from the cassette.
    """
    fewshot = {row["name"]: row for _, row in _read_jsonl(Path(fewshot_path))}
    problems = {row["name"]: row for _, row in _read_jsonl(Path(minif2f_path))}
    report = BuildReport(
        cassette=new_cassette(
            "miniF2F problems whose DeepSeek-Prover few-shot proof is one tactic (that proof compiled in Lean); "
            "initial goals from DeepSeek-Prover's initial_goal",
            sources=(
                SourceInfo(path=_display_path(Path(fewshot_path), relative_to), upstream=MINIF2F_FEWSHOT_UPSTREAM),
                SourceInfo(
                    path=_display_path(Path(minif2f_path), relative_to),
                    upstream="github.com/deepseek-ai/DeepSeek-Prover-V1.5@2c4ba9119eef74d0d611f494261b2c5bae98c69a "
                    "(formal_statement_deepseek, header_deepseek, initial_goal_deepseek)",
                ),
            ),
            created_by="prover cassette build --from-minif2f-fewshot",
        )
    )
    for name in [*proved, *unproved]:
        if name not in problems:
            raise CassetteError(f"unknown miniF2F problem: {name}")
        problem = problems[name]
        report.rows += 1
        recorded: str | None = None
        shot = fewshot.get(name)
        if name in proved:
            if shot is None:
                raise CassetteError(f"{name} has no DeepSeek few-shot proof to record")
            tactics = [ln.strip() for ln in strip_comments(shot["formal_proof"]).splitlines() if ln.strip()]
            if len(tactics) != 1:
                raise CassetteError(f"{name}: its few-shot proof is {len(tactics)} lines, not a single tactic")
            recorded = tactics[0]
        # The few-shot statement is the one whose proof compiled; for the rest, DeepSeek's version of it.
        statement = shot["formal_statement"] if shot is not None and recorded else problem["formal_statement_deepseek"]
        initial = problem["initial_goal_deepseek"]
        report.cassette.add_theorem(
            TheoremLine(
                kind="theorem",
                name=name,
                statement=_statement_of(statement),
                header=problem["header_deepseek"],
                initial_state=initial,
                informal_statement=problem.get("informal_statement"),
                informal_proof=problem.get("informal_proof"),
                recorded_proof=recorded,
                source="minif2f (DeepSeek-Prover-V1.5 statement)",
                aliases=tuple(problem.get("aliases") or ()) or None,
            )
        )
        if recorded is not None:
            report.cassette.add_step(
                StepLine(
                    kind="step",
                    state=initial,
                    tactic=recorded,
                    result=FinishedOutcome(kind="finished"),
                    theorem=name,
                    step=0,
                )
            )
    return report


@dataclass(frozen=True)
class SorryFile:
    """A .lean file of cassette theorems with `sorry` proofs: `source`, how many it states, and the theorems
    left out because the cassette cannot start them (no recorded initial state, or no statement)."""

    source: str
    stated: int
    left_out: tuple[str, ...]


def lean_source_with_sorry(cassette: Cassette, comment: str = "") -> SorryFile:
    """A .lean file stating every cassette theorem the replay backend can start, with `sorry` proofs.

    Only theorems with a statement and a recorded initial state are stated: `ReplayEnv.start` refuses the
    others ("no recorded initial state"), so `prover prove` on the file would fail them all. Raises
    CassetteError when no theorem qualifies or the stated theorems do not share one header.
    """
    theorems = [t for t in cassette.theorems.values() if t.statement and t.initial_state is not None]
    left_out = tuple(t.name for t in cassette.theorems.values() if not (t.statement and t.initial_state is not None))
    if not theorems:
        raise CassetteError(
            f"none of the cassette's {len(cassette.theorems)} theorems has a statement and a recorded initial "
            "state (the replay backend could not start them)"
        )
    headers = {t.header.strip() for t in theorems}
    if len(headers) != 1:
        raise CassetteError(
            f"the cassette's theorems do not share one header ({len(headers)} headers); cannot write them as one file"
        )
    parts = [headers.pop(), ""]
    if comment:
        parts += [f"/-! {comment} -/", ""]
    for thm in theorems:
        parts += [f"{thm.statement} := by", "  sorry", ""]
    return SorryFile("\n".join(parts), len(theorems), left_out)


def _display_path(path: Path, relative_to: Path | None) -> str:
    """Paths under `relative_to` (the shared folder) are written as `shared/...`: no machine paths in cassettes."""
    if relative_to is not None:
        try:
            return "shared/" + path.resolve().relative_to(relative_to.resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()
