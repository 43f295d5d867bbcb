"""The typed seam between Lean and everything else, in LeanDojo's vocabulary.

Every backend (repl, dojo, replay) produces these types; search, prover and
benchmarks consume only these.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from types import TracebackType
from typing import ClassVar, Protocol, Self, runtime_checkable

NO_GOALS = "no goals"


@dataclass(frozen=True)
class Hypothesis:
    """One line of a goal's local context: `a b : ℕ` gives names ("a", "b")."""

    names: tuple[str, ...]
    type: str


@dataclass(frozen=True)
class Goal:
    """One parsed goal: optional case tag, hypotheses, and the target after `⊢`."""

    hypotheses: tuple[Hypothesis, ...]
    conclusion: str
    case: str | None = None

    @classmethod
    def from_pp(cls, pp: str) -> Goal:
        lines = pp.split("\n")
        case: str | None = None
        if lines and lines[0].startswith("case "):
            case = lines[0][len("case ") :].strip()
            lines = lines[1:]
        text = "\n".join(lines)
        context, sep, target = text.partition("⊢")
        if not sep:
            return cls(hypotheses=(), conclusion=text.strip(), case=case)
        return cls(hypotheses=_parse_context(context), conclusion=target.strip(), case=case)


# A hypothesis starts at a line beginning with identifiers followed by ` : `;
# continuation lines of a long type are indented.
_HYP_START = re.compile(r"^(?P<names>[^\s:][^:]*?) : ", re.MULTILINE)


def _parse_context(context: str) -> tuple[Hypothesis, ...]:
    starts = list(_HYP_START.finditer(context))
    hyps: list[Hypothesis] = []
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(context)
        hyp_type = context[m.end() : end].strip()
        hyps.append(Hypothesis(names=tuple(m["names"].split()), type=hyp_type))
    return tuple(hyps)


def split_goals(pp: str) -> tuple[str, ...]:
    """Split a LeanDojo-style pretty-printed goal list (goals separated by blank lines).

    LeanDojo's traces print a goal with a case tag and an empty context as `case zero\n\n⊢ P` (a blank line
    after the tag; the live `Meta.ppGoal` prints `case zero\n⊢ P`), so a lone `case …` line is the head of the
    goal after it, not a goal of its own.
    """
    if pp.strip() in ("", NO_GOALS):
        return ()
    goals: list[str] = []
    pending_case: str | None = None
    for chunk in pp.split("\n\n"):
        if not chunk.strip():
            continue
        if pending_case is not None:
            chunk, pending_case = f"{pending_case}\n\n{chunk}", None
        elif "\n" not in chunk.strip() and chunk.strip().startswith("case ") and "⊢" not in chunk:
            pending_case = chunk
            continue
        goals.append(chunk)
    if pending_case is not None:
        goals.append(pending_case)
    return tuple(goals)


def parse_goals(pp: str) -> tuple[Goal, ...]:
    return tuple(Goal.from_pp(g) for g in split_goals(pp))


# Names Lean's pretty printer builds from a process-unique `_uniq.N` id, so N depends on the process's
# history (what was elaborated before), not on the goal. Upstream (leanprover/lean4, v4.9 .. v4.2x):
# src/Lean/PrettyPrinter/Delaborator/Builtins.lean `delabMVar`/`delabMVarAux` print an anonymous
# metavariable as `?m.N` (`replacePrefix `_uniq `m`) and `delabFVar` a loose free variable as `_fvar.N`;
# src/Lean/Level.lean `PP.toResult` prints a universe metavariable as `?u.N` (older releases) or
# `?_mvar.N` (newer ones, when no index is assigned); a raw `_uniq.N` / `?_uniq.N` shows up where a name
# is printed without delaboration (messages, `trace`).
_UNIQ_NAME = re.compile(r"(?<![\w.?'])(\?m|\?u|\?_mvar|\?_uniq|_fvar|_uniq)\.(\d+)(?![\d\w])")


def normalize_mvars(pp: str) -> str:
    """`pp` with process-dependent numbers renamed canonically: the k-th distinct `?m.N` becomes `?m.k`.

    Each prefix (`?m`, `?u`, `?_mvar`, `?_uniq`, `_fvar`, `_uniq`) is renumbered 1, 2, ... in order of first
    appearance, so two states are equal after normalisation exactly when one is the other with its
    numbers renamed one-to-one (a state with `?m.1 = ?m.1` never matches one with `?m.1 = ?m.2`).
    Everything else, including hygienic `x✝¹` names (fixed by the goal, not the process), is kept.
    """
    numbering: dict[tuple[str, str], int] = {}
    per_prefix: dict[str, int] = {}

    def rename(m: re.Match[str]) -> str:
        key = (m.group(1), m.group(2))
        if key not in numbering:
            per_prefix[key[0]] = numbering[key] = per_prefix.get(key[0], 0) + 1
        return f"{key[0]}.{numbering[key]}"

    return _UNIQ_NAME.sub(rename, pp)


def same_state_modulo_mvars(a: str, b: str) -> bool:
    """Whether two pretty-printed states are equal up to metavariable/unique-id numbering (`normalize_mvars`)."""
    return a == b or normalize_mvars(a) == normalize_mvars(b)


@dataclass(frozen=True, eq=False)
class ProofState:
    """A proof state. Equality and hash use only `pp`, as LeanDojo's TacticState does.

    `handle` is the backend's own id for the state (a REPL proofState, a Dojo sid,
    a replay key); it is meaningful only to the backend that produced it.
    """

    pp: str
    goals: tuple[Goal, ...] = ()
    handle: int | str | None = None

    @classmethod
    def from_pp(cls, pp: str, handle: int | str | None = None) -> ProofState:
        return cls(pp=pp, goals=parse_goals(pp), handle=handle)

    @classmethod
    def from_goal_strings(cls, goals: list[str] | tuple[str, ...], handle: int | str | None = None) -> ProofState:
        return cls.from_pp("\n\n".join(goals) if goals else NO_GOALS, handle)

    @property
    def num_goals(self) -> int:
        return len(self.goals)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ProofState) and other.pp == self.pp

    def __hash__(self) -> int:
        return hash(self.pp)


class ResultKind(enum.StrEnum):
    """What running one tactic did: the one name for each outcome, used by every result, record and report.

    The values are what cassette step records store on disk (`result.kind`), what search trees write on their
    edges (`result`) and what `prover suggest --json` prints. Each `TacticResult` type carries its
    kind as `kind`; `REFUSED` has no result type because no backend returns it: the tactic filter refused
    the tactic before Lean saw it.
    """

    STATE = "state"  # the tactic succeeded and goals remain
    FINISHED = "finished"  # the tactic closed every goal
    ERROR = "error"  # Lean rejected the tactic
    GIVEN_UP = "given_up"  # the tactic used `sorry`/`admit`: never progress
    TIMEOUT = "timeout"  # the tactic ran past its wall-clock limit
    REFUSED = "refused"  # the tactic filter refused it before Lean saw it


@dataclass(frozen=True)
class StateResult:
    """The tactic succeeded and goals remain. `replacement`: the stable form Lean suggested for a tactic that
    asks for one (`exact?` -> `exact foo`, `lean_env.try_this`), which a written proof holds instead."""

    kind: ClassVar[ResultKind] = ResultKind.STATE
    state: ProofState
    replacement: str | None = None


@dataclass(frozen=True)
class ProofFinished:
    """The tactic closed every goal. `replacement`: as for `StateResult`."""

    kind: ClassVar[ResultKind] = ResultKind.FINISHED
    handle: int | str | None = None
    replacement: str | None = None


@dataclass(frozen=True)
class LeanError:
    """Lean rejected the tactic (or the tactic filter refused it before Lean saw it)."""

    kind: ClassVar[ResultKind] = ResultKind.ERROR
    message: str


@dataclass(frozen=True)
class ProofGivenUp:
    """The tactic used `sorry`/`admit`: never a proof."""

    kind: ClassVar[ResultKind] = ResultKind.GIVEN_UP
    message: str = "proof contains `sorry`"


@dataclass(frozen=True)
class TacticTimeout:
    """The tactic ran past its wall-clock limit; the backend has recovered."""

    kind: ClassVar[ResultKind] = ResultKind.TIMEOUT
    seconds: float


TacticResult = StateResult | ProofFinished | LeanError | ProofGivenUp | TacticTimeout


@dataclass(frozen=True)
class DojoSource:
    """Where a theorem lives in a LeanDojo-traced git repository."""

    url: str
    commit: str
    file_path: str
    full_name: str


@dataclass(frozen=True)
class Theorem:
    """A theorem to prove.

    `statement` is the declaration up to (not including) `:=`, for example
    `theorem foo (n : ℕ) : n + 0 = n`. `header` is what must precede it:
    imports, `open`s, `set_option`s and any earlier declarations it uses. Where a theorem came from
    (a parsed declaration's kind and line, a benchmark problem's split) stays on the record it was made
    from (`TheoremDecl`, `benchmarks.minif2f.Problem`, `TheoremLine`).
    """

    name: str
    statement: str
    header: str = ""
    informal_statement: str | None = None
    informal_proof: str | None = None
    dojo: DojoSource | None = None
    # Other names of this theorem (miniF2F versions spell some names differently); a cassette recorded
    # under one of them answers for it (`Cassette.find_theorem`).
    aliases: tuple[str, ...] = ()
    # The rest of the same declaration after its proof (a `where` clause, `termination_by`/`decreasing_by`):
    # Lean judges the declaration whole, so a `sorry` there leaves it unproved whatever the proof
    # (`lean_env.checks.static.static_check` refuses it).
    suffix: str = ""

    def source_with_proof(self, proof: str) -> str:
        """The whole Lean source of this theorem with `proof` as a tactic block."""
        body = proof.strip("\n")
        return f"{self.header.rstrip()}\n\n{self.statement.rstrip()} := by\n{indent_block(body, 2)}\n"


@dataclass(frozen=True)
class HoleTarget:
    """One `sorry` of a declaration's proof skeleton, as the place where a search starts.

    `skeleton` is the declaration's proof exactly as written after `:=` (for example
    `by\n  constructor\n  · sorry\n  · sorry`); `hole_offsets` are the character offsets of every
    `sorry` token in `skeleton`, in source order, and `index` selects one of them. Source order is the
    order of the Lean REPL's `sorries` sorted by position (repl's test fixtures `calc.in`,
    `Mathlib/test/H20231115_2.in`: one entry per elaborated `sorry`, each with its own proofState).

    `tactic_prefix` is set only when the hole is a top-level tactic step of a `by` block: the steps
    before it, in order (what LeanDojo replays to reach it); None for any other shape.
    """

    theorem: Theorem
    skeleton: str
    hole_offsets: tuple[int, ...]
    index: int
    tactic_prefix: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.index < len(self.hole_offsets):
            raise ValueError(f"hole index {self.index} out of range ({len(self.hole_offsets)} holes)")
        for offset in self.hole_offsets:
            if self.skeleton[offset : offset + 5] != "sorry":
                raise ValueError(f"no `sorry` at offset {offset} of the skeleton")

    @property
    def count(self) -> int:
        return len(self.hole_offsets)

    @property
    def label(self) -> str:
        """`name#k`, 1-based: how reports and progress displays name this hole."""
        return f"{self.theorem.name}#{self.index + 1}"

    def command(self) -> str:
        """The declaration as one REPL command: the statement, `:=`, then the skeleton."""
        return f"{self.theorem.statement.rstrip()} := {self.skeleton}"

    def command_offsets(self) -> tuple[int, ...]:
        """`hole_offsets` shifted into `command()`."""
        shift = len(self.theorem.statement.rstrip()) + len(" := ")
        return tuple(shift + o for o in self.hole_offsets)


def indent_block(text: str, spaces: int) -> str:
    """Indent every non-empty line of `text` by `spaces`, keeping relative indentation."""
    lines = text.split("\n")
    nonempty = [ln for ln in lines if ln.strip()]
    common = min((len(ln) - len(ln.lstrip(" ")) for ln in nonempty), default=0)
    pad = " " * spaces
    return "\n".join(pad + ln[common:] if ln.strip() else "" for ln in lines)


class ClosingContext:
    """`with obj:` closes `obj` on the way out; for backends, verifiers and other owners of processes."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@runtime_checkable
class Env(Protocol):
    """A Lean environment in which proof states can be explored.

    Backends: `lean_env.backends.repl.ReplEnv`, `lean_env.backends.dojo.DojoEnv`, `lean_env.backends.replay.ReplayEnv`.
    `start` raises `lean_env.errors.TheoremStartError` when the theorem cannot be
    started; `run_tactic` never raises for a tactic's own failure.

    `start_hole` starts at a `sorry` of a proof skeleton instead: it returns the hole's own proof state (its goal
    as Lean elaborates it at that point) and raises `TheoremStartError` with one clear line when the skeleton does
    not compile, the hole is not where Lean sees a `sorry`, or the environment cannot reach holes of that shape
    (a wrapper that starts only at statements says so).
    """

    def start(self, theorem: Theorem) -> ProofState: ...

    def start_hole(self, target: HoleTarget) -> ProofState: ...

    def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> TacticResult: ...

    def close(self) -> None: ...

    def __enter__(self) -> Env: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
