"""The cassette's on-disk format: a versioned JSONL file (documented in docs/lean_env_replay.md), one record a line:

- line 1, the header: ``{"kind": "header", "format": "lean-prover-cassette", "version": 1, "sources": [...]}``;
- theorem lines: ``{"kind": "theorem", "name", "statement", "header", "initial_state", ...}``;
- step lines: ``{"kind": "step", "state", "tactic", "result": {"kind": "state"|"finished"|"error"|"given_up"|"timeout", ...}}``;
- hole lines (version 2): ``{"kind": "holes", "theorem", "skeleton", "goals": [...]}``: what Lean answers when the
  declaration is compiled with that proof skeleton: one goal per `sorry`, in source order;
- compile lines: ``{"kind": "compile", "theorem", "proof", "messages": [...], "infotree"?: [...]}``: Lean's messages
  (and its info tree, where the compile asked for one) when the whole proof was compiled (older readers never see
  them: a file without them is unchanged).

Every record must come from real Lean output. This module holds the records (pydantic models, read and written
as they are); a step's recorded outcome is a `TacticResult` as JSON (`to_result`, `result_to_outcome`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from lean_env.cassette.keys import normalize_state
from lean_env.errors import LeanEnvError
from lean_env.types import (
    NO_GOALS,
    DojoSource,
    LeanError,
    ProofFinished,
    ProofGivenUp,
    ProofState,
    ResultKind,
    StateResult,
    TacticResult,
    TacticTimeout,
    Theorem,
)

FORMAT_NAME = "lean-prover-cassette"
FORMAT_VERSION = 3
# Version 2 added hole lines; a version 1 file is a version 2 file without them, so both are read.
# Version 2 also keys steps by Lean's layout (`normalize_tactic`: newlines and indentation kept) instead
# of collapsing whitespace; keys are computed on load, so the files are unchanged, only lookups stricter.
# Version 3 gives every line a content hash (`sha256`, see `content_hash`), required and checked on load; older
# files are read without it (and written as version 3).
READABLE_VERSIONS = (1, 2, 3)
HASHED_FROM_VERSION = 3
HASH_FIELD = "sha256"


class CassetteError(LeanEnvError):
    """A cassette (or a builder's input) is malformed; the message is one line naming file and line."""


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
    # Set only by a live recording run (`RecordingEnv`): the steps are Lean's answers as they happened, and
    # `pp_options` are the pretty-printer options its goals were printed with. Builders from published datasets
    # never set them. Absent (None) is written as nothing, so older files are read unchanged.
    recorded_live: bool | None = None
    pp_options: tuple[str, ...] | None = None


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
        return Theorem(
            name=self.name,
            statement=self.statement,
            header=self.header,
            informal_statement=self.informal_statement,
            informal_proof=self.informal_proof,
            dojo=dojo,
            aliases=self.aliases or (),
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
    # As for compile lines: built by hand in the shape of the named release transcript (never by a recording).
    constructed: bool | None = None
    shape: str | None = None


class CompileLine(_Line):
    """A whole-proof compile: `proof` of `theorem` compiled as the verifier builds the check (header, statement,
    proof, `#print axioms`), and Lean's messages in the REPL's shape (`severity`, `pos`, `endPos`, `data`),
    positions in that text. Replayed by the replay verifier as the REPL verifier judges an answer; a compile
    record only ever rejects (a proof is verified by its recorded steps). `constructed` marks a record built by
    hand in the shape of the release transcript named in `shape` (a `.expected.out` of ../shared/lean_fixtures),
    for a demonstration where no recording exists."""

    kind: Literal["compile"]
    theorem: str
    proof: str
    messages: tuple[dict[str, object], ...]
    # The REPL's info tree of the compile where it was asked for (`"infotree": "original"`), as it answered.
    infotree: tuple[dict[str, object], ...] | None = None
    constructed: bool | None = None
    shape: str | None = None
    source: str | None = None


class StateOutcome(_Line):
    kind: Literal[ResultKind.STATE]
    pp: str

    def to_result(self, handle: int | str | None = None) -> StateResult:
        return StateResult(ProofState.from_pp(self.pp, handle=handle))


class FinishedOutcome(_Line):
    kind: Literal[ResultKind.FINISHED]

    def to_result(self, handle: int | str | None = None) -> ProofFinished:
        return ProofFinished(handle=handle)


class ErrorOutcome(_Line):
    kind: Literal[ResultKind.ERROR]
    message: str

    def to_result(self, handle: int | str | None = None) -> LeanError:
        return LeanError(self.message)


class GivenUpOutcome(_Line):
    kind: Literal[ResultKind.GIVEN_UP]
    message: str = "proof contains `sorry`"

    def to_result(self, handle: int | str | None = None) -> ProofGivenUp:
        return ProofGivenUp(self.message)


class TimeoutOutcome(_Line):
    kind: Literal[ResultKind.TIMEOUT]
    seconds: float = 0.0

    def to_result(self, handle: int | str | None = None) -> TacticTimeout:
        return TacticTimeout(self.seconds)


# A step's recorded result: a `TacticResult` as JSON, told apart by the same `ResultKind` (`result.kind`).
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


# Any one line of a cassette, told apart by its `kind`.
RECORD: TypeAdapter[HeaderLine | TheoremLine | StepLine | HolesLine | CompileLine] = TypeAdapter(
    Annotated[HeaderLine | TheoremLine | StepLine | HolesLine | CompileLine, Field(discriminator="kind")]
)


def outcome_from_pp(state_after: str) -> StateOutcome | FinishedOutcome:
    """LeanDojo convention: a state of `no goals` means the proof is finished."""
    if normalize_state(state_after) == NO_GOALS:
        return FinishedOutcome(kind=ResultKind.FINISHED)
    return StateOutcome(kind=ResultKind.STATE, pp=state_after)


def result_to_outcome(result: TacticResult) -> Outcome:
    """The record of a result a live backend produced: its kind and what the cassette keeps of it (a state as its
    pretty-printed text; a backend's handle and a suggestion's replacement are not recorded)."""
    if isinstance(result, StateResult):
        return StateOutcome(kind=result.kind, pp=result.state.pp)
    if isinstance(result, ProofFinished):
        return FinishedOutcome(kind=result.kind)
    if isinstance(result, LeanError):
        return ErrorOutcome(kind=result.kind, message=result.message)
    if isinstance(result, ProofGivenUp):
        return GivenUpOutcome(kind=result.kind, message=result.message)
    return TimeoutOutcome(kind=result.kind, seconds=result.seconds)


_KINDS = ("header", "theorem", "step", "holes")


def record_error(data: object, exc: ValidationError) -> str:
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
    loc = [str(p) for p in first["loc"][1:] if p not in set(ResultKind)]
    field_name = ".".join(loc)
    if first["type"] == "missing":
        return f'{kind} record: no "{field_name}"'
    if first["type"] == "extra_forbidden":
        return f'{kind} record: unknown field "{field_name}"'
    if first["type"] == "union_tag_not_found":
        return f'{kind} record: {field_name} has no "kind"'
    if first["type"] == "union_tag_invalid":
        tags = ", ".join(repr(str(k)) for k in ResultKind if k is not ResultKind.REFUSED)
        return f"{kind} record: {field_name}: unknown kind {first['ctx']['tag']!r} (expected one of {tags})"
    return f"{kind} record: {field_name}: {first['msg']}" if field_name else f"{kind} record: {first['msg']}"


def content_hash(record: BaseModel) -> str:
    """The hash a cassette line carries: sha256 of the record's fields as JSON (keys sorted, absent fields left
    out), the hash itself excluded. It catches accidental edits (a hand-tweaked result or statement, a merge
    gone wrong); anyone can recompute it, so it is no signature."""
    fields = record.model_dump(mode="json", exclude_none=True)
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def record_json(record: BaseModel) -> str:
    """One cassette line: the record as JSON, then its content hash."""
    body = record.model_dump_json(exclude_none=True)
    return f'{body[:-1]},"{HASH_FIELD}":"{content_hash(record)}"}}'
