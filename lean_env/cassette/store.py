"""An in-memory cassette: read from and written to its JSONL file (`lean_env.cassette.format`), built up record
by record, and looked up as the replay backend asks: steps by (state, tactic) in their lookup form
(`lean_env.cassette.keys`), theorems by name, alias or statement, skeletons by theorem and skeleton key.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ValidationError

from lean_env.cassette.format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    HASH_FIELD,
    HASHED_FROM_VERSION,
    READABLE_VERSIONS,
    RECORD,
    CassetteError,
    CompileLine,
    HeaderLine,
    HolesLine,
    SourceInfo,
    StepLine,
    TheoremLine,
    content_hash,
    record_error,
    record_json,
)
from lean_env.cassette.keys import StepKey, normalize_statement, skeleton_key, statement_signature, step_key
from lean_env.types import (
    Theorem,
)

# The printer options under which a printed goal shows the types its numerals elaborated at.
TYPE_REVEALING_PP_OPTIONS = frozenset({"pp.numericTypes"})


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
    # Whole-proof compiles with Lean's messages: (theorem, proof with surrounding blank lines dropped) -> record.
    compiles: dict[tuple[str, str], CompileLine] = field(default_factory=dict)

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
            line, digest = _parse_record(raw, where)
            if cassette is None:
                cassette = cls(header=_checked_header(line, digest, where), path=source)
                continue
            _check_hash(line, digest, where, version=cassette.header.version)
            cassette._add_record(line, where, lineno, step_lines)
        if cassette is None:
            raise CassetteError(f"{source}:1: empty cassette (no header line)")
        return cassette

    def _add_record(
        self,
        line: HeaderLine | TheoremLine | StepLine | HolesLine | CompileLine,
        where: str,
        lineno: int,
        step_lines: dict[StepKey, int],
    ) -> None:
        """Add one line after the header; `step_lines` maps each step key to the line it was first read from."""
        if isinstance(line, HeaderLine):
            raise CassetteError(f"{where}: a second header line")
        if isinstance(line, HolesLine):
            try:
                self.add_holes(line)
            except CassetteError as exc:
                raise CassetteError(f"{where}: {exc}") from None
        elif isinstance(line, CompileLine):
            self.add_compile(line)
        elif isinstance(line, TheoremLine):
            if line.name in self.theorems:
                raise CassetteError(f"{where}: duplicate theorem {line.name!r}")
            self.theorems[line.name] = line
        else:
            self._add_step_line(line, where, lineno, step_lines)

    def _add_step_line(self, line: StepLine, where: str, lineno: int, step_lines: dict[StepKey, int]) -> None:
        # The same step under another theorem is one step recorded twice; a different result is a conflict.
        key = step_key(line.state, line.tactic)
        self.recorded_by.setdefault(key, set()).add(line.theorem)
        previous = self.steps.get(key)
        if previous is not None and previous.result != line.result:
            raise CassetteError(
                f"{where}: step conflicts with line {step_lines[key]}: same state and tactic "
                f"`{key[1]}`, different result"
            )
        if previous is None:
            self.steps[key] = line
            step_lines[key] = lineno

    # ---- writing

    def dumps(self) -> str:
        """The cassette as the current format writes it: every line with its content hash (`record_json`)."""
        lines = [record_json(self.header.model_copy(update={"version": FORMAT_VERSION}))]
        lines += [record_json(t) for t in self.theorems.values()]
        lines += [record_json(h) for h in self.holes.values()]
        lines += [record_json(c) for c in self.compiles.values()]
        lines += [record_json(s) for s in self._step_lines()]
        return "\n".join(lines) + "\n"

    def _step_lines(self) -> Iterator[StepLine]:
        """Every step line: a step recorded under several theorems is written once per theorem, since a step
        counts only under the theorems that recorded it (`lean_env.backends.replay.step_counts`)."""
        for key, step in self.steps.items():
            yield step
            others = self.recorded_by.get(key, set()) - {step.theorem}
            for name in sorted(others, key=lambda n: (n is not None, n or "")):
                yield step.model_copy(update={"theorem": name, "step": None})

    def restricted_to(self, names: Collection[str]) -> Cassette:
        """The records of the theorems `names` only: their theorem lines, skeletons, and the steps they recorded."""
        kept = Cassette(header=self.header, path=self.path)
        kept.theorems = {n: t for n, t in self.theorems.items() if n in names}
        kept.holes = {k: h for k, h in self.holes.items() if h.theorem in names}
        for key, step in self.steps.items():
            recorders = {n for n in self.recorders(*key) if n is not None and n in names}
            if not recorders:
                continue
            first = step if step.theorem in recorders else step.model_copy(update={"theorem": min(recorders)})
            kept.steps[key] = first
            kept.recorded_by[key] = set(recorders)
        return kept

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

    def add_compile(self, record: CompileLine) -> None:
        self.compiles[(record.theorem, _proof_key(record.proof))] = record

    def find_compile(self, name: str, proof: str) -> CompileLine | None:
        """The recorded compile of `proof` of the theorem recorded as `name`, if any."""
        return self.compiles.get((name, _proof_key(proof)))

    def merge(self, other: Cassette) -> None:
        for thm in other.theorems.values():
            self.add_theorem(thm)
        for compiled in other.compiles.values():
            self.add_compile(compiled)
        for record in other.holes.values():
            self.add_holes(record)
        for st in other._step_lines():  # every theorem that recorded a step, not only the first
            self.add_step(st)
        self.header = self.header.model_copy(update={"sources": self.header.sources + other.header.sources})

    # ---- lookups

    @property
    def shares_steps_across_theorems(self) -> bool:
        """Whether a step recorded under one theorem may answer for another of the same context.

        Only when the goals were printed so that equal text means equal goals: recorded live with every
        type-revealing printer option on. By default Lean prints `(2 : ℤ) - 3 + 3 = 2` and `(2 : ℕ) - 3 + 3 = 2`
        alike (`⊢ 2 - 3 + 3 = 2`); `pp.numericTypes` prints each numeral's type (lean4
        `src/Lean/PrettyPrinter/Delaborator/Options.lean`). Cassettes built from published datasets never share.
        """
        options = set(self.header.pp_options or ())
        return bool(self.header.recorded_live) and options >= TYPE_REVEALING_PP_OPTIONS

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
        """By name, then by an alias (the theorem's own `aliases`, or the record's),
        then by whitespace-normalised statement."""
        found = self.theorems.get(theorem.name)
        if found is not None:
            return found
        for alias in theorem.aliases:
            if alias in self.theorems:
                return self.theorems[alias]
        for candidate in self.theorems.values():
            if candidate.aliases and theorem.name in candidate.aliases:
                return candidate
        # The same statement with its declared name aside (a renamed copy states the same): `statement_signature`.
        if not normalize_statement(theorem.statement):
            return None
        wanted = statement_signature(theorem.statement)
        for candidate in self.theorems.values():
            if candidate.statement and statement_signature(candidate.statement) == wanted:
                return candidate
        return None

    def find_holes(self, theorem: Theorem, skeleton: str) -> HolesLine | None:
        """The record of `theorem` (found as `find_theorem` finds it) compiled with `skeleton`."""
        record = self.find_theorem(theorem)
        name = record.name if record is not None else theorem.name
        return self.holes.get((name, skeleton_key(skeleton)))

    def __len__(self) -> int:
        return len(self.steps)


def _proof_key(proof: str) -> str:
    """A proof as a compile record keys it: its lines, surrounding blank lines and trailing spaces dropped."""
    return "\n".join(line.rstrip() for line in proof.strip("\n").split("\n"))


def _parse_record(raw: str, where: str) -> tuple[HeaderLine | TheoremLine | StepLine | HolesLine | CompileLine, object]:
    """One cassette line as its record and the content hash it carried (None when it carried none)."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CassetteError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})") from None
    digest = data.pop(HASH_FIELD, None) if isinstance(data, dict) else None
    try:
        return RECORD.validate_python(data), digest
    except ValidationError as exc:
        raise CassetteError(f"{where}: {record_error(data, exc)}") from None


def _checked_header(line: BaseModel, digest: object, where: str) -> HeaderLine:
    """The first line, checked to be a header of a cassette format version this reader knows."""
    if not isinstance(line, HeaderLine):
        raise CassetteError(f"{where}: the first line must be the cassette header (kind 'header')")
    if line.format != FORMAT_NAME:
        raise CassetteError(f"{where}: not a cassette: format is {line.format!r}, expected {FORMAT_NAME!r}")
    if line.version not in READABLE_VERSIONS:
        known = ", ".join(map(str, READABLE_VERSIONS))
        raise CassetteError(f"{where}: unsupported cassette version {line.version} (this reader knows {known})")
    _check_hash(line, digest, where, version=line.version)
    return line


def _check_hash(record: BaseModel, digest: object, where: str, version: int) -> None:
    """A line's content hash must match the record; in a file of version 3 or later every line must carry one."""
    if digest is None:
        if version >= HASHED_FROM_VERSION:
            raise CassetteError(f"{where}: the record has no content hash ({HASH_FIELD!r}); version 3 lines carry one")
        return
    if digest != content_hash(record):
        raise CassetteError(
            f"{where}: the record does not match its content hash: it was edited after it was written "
            "(rebuild the cassette with `prover cassette build` or re-record it)"
        )


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
