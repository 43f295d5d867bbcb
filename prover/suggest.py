"""Tactic suggestion for a Lean user in the middle of a proof.

Three layers, each usable alone:
- `generate_suggestions` asks a TacticGenerator for the top-k tactics of one proof state;
- `check_suggestions` runs each of them in Lean (as Lean Copilot's `suggest_tactics` does)
  and marks it: closes the goals, leaves goals (shown), or fails (with Lean's message);
- `ProofSession` is the interactive session's state machine: the current goals, the history
  of applied tactics, undo, and finishing the proof by best-first search from the current state.
`run_interactive` drives a session from plain `input()` lines; `write_verified_proof` writes a
finished proof back into its file, and only after an independent ProofVerifier accepted it.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from lean_env.checks.verdict import ProofVerifier, Rejected, Verdict, Verified
from lean_env.errors import LeanEnvError, TheoremStartError
from lean_env.types import (
    NO_GOALS,
    Env,
    Goal,
    HoleTarget,
    LeanError,
    ProofGivenUp,
    ProofState,
    ResultKind,
    StateResult,
    TacticResult,
    TacticTimeout,
    Theorem,
    split_goals,
)
from prover.files import UserFileChangedError, read_user_file, write_user_file
from search.types import Candidate, GenRequest, SearchConfig, SearchResult, TacticGenerator, ValueFunction

# What running a suggested tactic did, best first (the display order).
_OUTCOME_RANK = {
    outcome: rank
    for rank, outcome in enumerate(
        (
            ResultKind.FINISHED,
            ResultKind.STATE,
            ResultKind.ERROR,
            ResultKind.GIVEN_UP,
            ResultKind.TIMEOUT,
            ResultKind.REFUSED,
        )
    )
}


@dataclass(frozen=True)
class Check:
    """The result of running one tactic in Lean. `state` is set for `ResultKind.STATE`."""

    outcome: ResultKind
    message: str = ""
    state: ProofState | None = None

    @property
    def goals(self) -> tuple[str, ...]:
        if self.state is None:
            return ()
        from lean_env.types import split_goals

        return split_goals(self.state.pp)


@dataclass(frozen=True)
class Suggestion:
    """A proposed tactic, its score (the model's log-probability) and, when checked, what Lean said."""

    tactic: str
    score: float
    check: Check | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tactic": self.tactic, "score": self.score}
        if self.check is not None:
            out["result"] = self.check.outcome.value
            if self.check.outcome is ResultKind.STATE:
                out["goals"] = list(self.check.goals)
            if self.check.message:
                out["message"] = self.check.message
        return out


class SessionError(Exception):
    """A session command that cannot be carried out (for example a tactic after the proof is finished)."""


def _tactic_filter(tactic: str, allow_native_decide: bool) -> str | None:
    from lean_env.checks.tactic_filter import check_tactic

    return check_tactic(tactic, allow_native_decide=allow_native_decide)


def generate_suggestions(
    generator: TacticGenerator,
    state_pp: str,
    k: int,
    *,
    prefix: str = "",
    theorem_name: str | None = None,
    proof_before: Sequence[str] = (),
) -> list[Suggestion]:
    """The generator's top-k distinct tactics for one state, best first (`proof_before`: the tactics that
    led to it, for prompts with a proof-so-far field).

    Candidates that do not start with `prefix`, that are empty or duplicated, or whose score is not
    finite are dropped:
    the generator is asked, but not trusted, to respect them.
    """
    request = GenRequest(state=state_pp, theorem_name=theorem_name, prefix=prefix, proof_before=tuple(proof_before))
    [candidates] = generator([request], k)
    return suggestions_from_candidates(candidates, k, prefix)


def suggestions_from_candidates(candidates: Sequence[Candidate], k: int, prefix: str = "") -> list[Suggestion]:
    seen: set[str] = set()
    out: list[Suggestion] = []
    for cand in candidates:
        tactic = cand.tactic.strip()
        # A non-finite score cannot be ranked (NaN) or sent as JSON (±inf): such a candidate is dropped.
        if not tactic or tactic in seen or not tactic.startswith(prefix) or not math.isfinite(cand.logprob):
            continue
        seen.add(tactic)
        out.append(Suggestion(tactic=tactic, score=cand.logprob))
    out.sort(key=lambda s: -s.score)
    return out[: max(k, 0)]


def check_result(result: TacticResult) -> Check:
    """The suggestion's mark for an Env's result: its kind, with the message or state a reader is shown."""
    if isinstance(result, StateResult):
        # LeanDojo's convention: a state of no goals is a finished proof, whichever way a backend reports it.
        if not result.state.goals and result.state.pp.strip() in ("", NO_GOALS):
            return Check(ResultKind.FINISHED)
        return Check(result.kind, state=result.state)
    if isinstance(result, TacticTimeout):
        return Check(result.kind, message=f"timed out after {result.seconds:g}s")
    if isinstance(result, LeanError | ProofGivenUp):
        return Check(result.kind, message=result.message)
    return Check(result.kind)


def run_checked(
    env: Env, state: ProofState, tactic: str, timeout: float | None, allow_native_decide: bool = False
) -> tuple[Check, TacticResult | None]:
    """Run one tactic unless the tactic filter refuses it; the raw result is None when refused."""
    reason = _tactic_filter(tactic, allow_native_decide)
    if reason is not None:
        return Check(ResultKind.REFUSED, message=reason), None
    result = env.run_tactic(state, tactic, timeout)
    return check_result(result), result


def check_suggestions(
    env: Env,
    state: ProofState,
    suggestions: Sequence[Suggestion],
    *,
    timeout: float | None = None,
    allow_native_decide: bool = False,
    run: Callable[[str], Check] | None = None,
) -> list[Suggestion]:
    """Run every suggestion from `state` (through `run` when given) and sort: closing tactics, then progress,
    then failures.

    Within one outcome the model's order is kept.
    """

    def checked_one(tactic: str) -> Check:
        return run(tactic) if run is not None else run_checked(env, state, tactic, timeout, allow_native_decide)[0]

    checked = [Suggestion(s.tactic, s.score, checked_one(s.tactic)) for s in suggestions]
    return sorted(checked, key=lambda s: _OUTCOME_RANK[s.check.outcome] if s.check else len(_OUTCOME_RANK))


def proof_script(tactics: Sequence[str]) -> str:
    """A flat tactic script: one tactic after another, as they were run in tactic mode.

    A multi-line tactic whose continuation lines start at its own column (`induction n with` and
    its `| zero => …` arms, as LeanDojo records them) gets those lines indented by two spaces, so that
    the script reads unambiguously as one tactic per top-level line; Lean accepts both layouts.
    """
    return "\n".join(_continuation_indented(t.strip("\n")) for t in tactics)


def _continuation_indented(tactic: str) -> str:
    first, *rest = tactic.split("\n")
    if any(line.strip() and not line[:1].isspace() for line in rest):
        rest = ["  " + line if line.strip() else line for line in rest]
    return "\n".join([first, *rest])


@dataclass(frozen=True)
class Step:
    """One applied tactic. `after` is None when it finished the proof."""

    tactic: str
    before: ProofState
    after: ProofState | None


class _ResumeEnv:
    """An Env whose `start` returns an existing state, so the search continues a proof in progress.

    Closing it does not close the wrapped Env, which the session still uses.
    """

    def __init__(self, env: Env, state: ProofState) -> None:
        self._env = env
        self._state = state

    def start(self, theorem: Theorem) -> ProofState:
        return self._state

    def start_hole(self, target: HoleTarget) -> ProofState:
        raise TheoremStartError("a proof in progress continues from its own state, not from a hole")

    def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> TacticResult:
        return self._env.run_tactic(state, tactic, timeout)

    def close(self) -> None:
        pass

    def __enter__(self) -> _ResumeEnv:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        pass


@dataclass
class ProofSession:
    """The state machine of an interactive proof: goals, history, undo, finish-by-search.

    Every state comes from the Env; a tactic that fails leaves the session unchanged.
    """

    env: Env
    theorem: Theorem
    generator: TacticGenerator
    k: int = 8
    tactic_timeout_s: float | None = 5.0
    allow_native_decide: bool = False
    root: ProofState | None = None
    steps: list[Step] = field(default_factory=list)
    _cache: dict[tuple[str, str, bool, tuple[str, ...]], list[Suggestion]] = field(
        default_factory=dict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        if self.root is None:
            self.root = self.env.start(self.theorem)

    @property
    def start_state(self) -> ProofState:
        assert self.root is not None
        return self.root

    @property
    def finished(self) -> bool:
        return bool(self.steps) and self.steps[-1].after is None

    @property
    def state(self) -> ProofState | None:
        """The current goals, or None once the proof is finished."""
        if not self.steps:
            return self.start_state
        return self.steps[-1].after

    @property
    def tactics(self) -> tuple[str, ...]:
        return tuple(s.tactic for s in self.steps)

    @property
    def proof(self) -> str:
        return proof_script(self.tactics)

    def _require_open(self) -> ProofState:
        state = self.state
        if state is None:
            raise SessionError("the proof is already finished; undo first")
        return state

    def suggest(self, *, check: bool = True, prefix: str = "") -> list[Suggestion]:
        """Top-k suggestions for the current state (checked in Lean unless `check` is False); cached per state."""
        state = self._require_open()
        key = (state.pp, prefix, check, self.tactics)
        if key not in self._cache:
            found = generate_suggestions(
                self.generator,
                state.pp,
                self.k,
                prefix=prefix,
                theorem_name=self.theorem.name,
                proof_before=self.tactics,
            )
            if check:
                found = check_suggestions(
                    self.env,
                    state,
                    found,
                    timeout=self.tactic_timeout_s,
                    allow_native_decide=self.allow_native_decide,
                    run=lambda tactic: self._run(state, tactic)[1],
                )
            self._cache[key] = found
        return self._cache[key]

    def apply(self, tactic: str) -> Check:
        """Run `tactic` on the current state; on success it becomes a step, otherwise nothing changes."""
        tactic = tactic.strip("\n")
        if not tactic.strip():
            raise SessionError("empty tactic")
        state = self._require_open()
        applied, check, result = self._run(state, tactic)
        if check.outcome is ResultKind.FINISHED:
            self.steps.append(Step(applied, state, None))
        elif check.outcome is ResultKind.STATE:
            assert isinstance(result, StateResult)
            self.steps.append(Step(applied, state, result.state))
        return check

    def _run(self, state: ProofState, tactic: str) -> tuple[str, Check, TacticResult | None]:
        """Run `tactic` as typed; when that fails on a state with several goals, run it as a `·` block on the
        main goal, the way `prove` fills a `· sorry` hole of the same skeleton (one hole per goal). Returns the
        text that ran (the script keeps it), its check and the raw result.

        In Lean a tactic that closes the main goal does so either way; recordings of LeanDojo traces hold only
        the focused form (each tactic of a `·` block with its goal alone), so a replay answers only that.
        """
        check, result = run_checked(self.env, state, tactic, self.tactic_timeout_s, self.allow_native_decide)
        if check.outcome is not ResultKind.ERROR or tactic.lstrip().startswith(("·", ". ")):
            return tactic, check, result
        if len(split_goals(state.pp)) < 2:
            return tactic, check, result
        focused = "· " + tactic.strip().replace("\n", "\n  ")
        focused_check, focused_result = run_checked(
            self.env, state, focused, self.tactic_timeout_s, self.allow_native_decide
        )
        if focused_check.outcome in (ResultKind.FINISHED, ResultKind.STATE):
            return focused, focused_check, focused_result
        return tactic, check, result

    def undo(self) -> Step | None:
        """Take back the last tactic; None when there is nothing to undo."""
        return self.steps.pop() if self.steps else None

    def finish_by_search(self, config: SearchConfig, value_fn: ValueFunction | None = None) -> SearchResult:
        """Run best-first search from the current state; when it claims a proof, replay its tactics as steps.

        Replaying through the Env records every intermediate state (so each step can be undone) and
        catches a search claim that does not hold up. Nothing changes when the search fails.
        """
        from prover.engine import Engine, ProofTarget, SearchStrategy
        from prover.engine.engine import SearchOnly

        state = self._require_open()
        strategy = SearchStrategy(
            self.generator, config, value_fn=value_fn, allow_native_decide=self.allow_native_decide
        )
        engine = Engine(strategy, _ResumeEnv(self.env, state), SearchOnly())
        result = engine.search(ProofTarget(self.theorem.name, self.theorem))
        if not result.status.proved:
            return result
        applied = 0
        try:
            for tactic in result.tactics:
                check = self.apply(tactic)
                if check.outcome not in (ResultKind.FINISHED, ResultKind.STATE):
                    raise SessionError(f"the search's tactic {tactic!r} failed on replay: {check.message}")
                applied += 1
            if not self.finished:
                raise SessionError("the search's tactics did not finish the proof on replay")
        except BaseException:  # a failed replay, a crash or Ctrl-C: keep the session as it was
            del self.steps[len(self.steps) - applied :]
            raise
        return result


def write_verified_proof(
    path: Path,
    theorem_name: str,
    tactics: Sequence[str],
    verifier: ProofVerifier,
    expected_statement: str | None = None,
) -> Verdict:
    """Verify the proof against the file as it is now, then replace the theorem's proof in place.

    The file is re-read and re-parsed, so edits made meanwhile elsewhere in it are kept. When the
    theorem's statement is no longer `expected_statement` the proof is rejected: it was found for
    another statement. Nothing is written unless the verdict is Verified.
    """
    from lean_env.source.declarations import parse_lean_source
    from lean_env.source.edits import apply_edits
    from lean_env.source.render import render_whole_proof

    # The bytes as they are (read_text would turn CRLF into LF), so the edit below changes only the proof.
    source = read_user_file(path)
    try:
        decl = parse_lean_source(source, str(path)).get(theorem_name)
    except KeyError:
        return Rejected(f"theorem {theorem_name!r} is no longer in {path}")
    theorem = decl.to_theorem()
    if expected_statement is not None and " ".join(theorem.statement.split()) != " ".join(expected_statement.split()):
        return Rejected(f"the statement of {theorem_name} changed in {path} during the session")
    script = proof_script(tactics)
    verdict = verifier.verify(theorem, script)
    if isinstance(verdict, Verified):
        # `prove --write`'s one write path: backup, exact bytes and line endings, mode, refusal if the file changed.
        newline = "\r\n" if "\r\n" in source else "\n"
        try:
            write_user_file(path, source, apply_edits(source, [render_whole_proof(decl, script, newline)]))
        except UserFileChangedError as exc:
            return Rejected(f"not written: {exc}")
    return verdict


# --- rendering ------------------------------------------------------------------------------------

_MARKS = {
    ResultKind.FINISHED: ("green", "closes the goals"),
    ResultKind.STATE: ("yellow", "{n} goal(s) left"),
    ResultKind.ERROR: ("red", "error"),
    ResultKind.GIVEN_UP: ("red", "gives up (sorry)"),
    ResultKind.TIMEOUT: ("red", "timeout"),
    ResultKind.REFUSED: ("red", "refused"),
}


def describe_check(check: Check) -> Text:
    style, label = _MARKS[check.outcome]
    text = Text(label.format(n=len(check.goals)), style=style)
    if check.message:
        text.append(": " + _one_line(check.message), style=style)
    return text


def _one_line(message: str, limit: int = 200) -> str:
    flat = " ".join(message.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _goal_summary(goal_pp: str) -> str:
    goal = Goal.from_pp(goal_pp)
    case = f"case {goal.case}: " if goal.case else ""
    return f"{case}⊢ {goal.conclusion}"


def render_goals(console: Console, state: ProofState | None) -> None:
    """Print each goal in its own panel (Lean text is never read as rich markup)."""
    if state is None:
        console.print(Text("no goals: the proof is complete", style="green"))
        return
    from lean_env.types import split_goals

    goals = split_goals(state.pp)
    if not goals:
        console.print(Text("no goals", style="green"))
        return
    for i, goal in enumerate(goals, 1):
        console.print(Panel(Text(goal), title=f"goal {i}/{len(goals)}", title_align="left", expand=False))


def render_suggestions(console: Console, suggestions: Sequence[Suggestion], *, show_goals: bool = True) -> None:
    if not suggestions:
        console.print("no suggestions")
        return
    table = Table(show_header=True, header_style="bold", expand=False)
    table.add_column("#", justify="right")
    table.add_column("tactic", overflow="fold")
    table.add_column("score", justify="right")
    checked = any(s.check is not None for s in suggestions)
    if checked:
        table.add_column("result", overflow="fold")
    for i, s in enumerate(suggestions, 1):
        row: list[Text | str] = [str(i), Text(s.tactic), f"{s.score:.3f}"]
        if checked:
            cell = describe_check(s.check) if s.check else Text("unchecked")
            if show_goals and s.check is not None and s.check.outcome is ResultKind.STATE:
                # Targets only: the hypotheses rarely change and would drown the table.
                for goal in s.check.goals:
                    cell.append("\n" + _goal_summary(goal), style="dim")
            row.append(cell)
        table.add_row(*row)
    console.print(table)


# --- the interactive loop -------------------------------------------------------------------------

HELP = (
    "commands: a number picks that suggestion; u/undo takes back the last tactic; "
    "s/search asks the search to finish the proof; p/proof shows the proof so far; "
    "q/quit stops; anything else is run as a tactic"
)


@dataclass(frozen=True)
class InteractiveOutcome:
    """How a session ended: `finished` means every goal was closed (not yet verified)."""

    finished: bool
    tactics: tuple[str, ...]
    quit: bool = False


def run_interactive(
    session: ProofSession,
    console: Console,
    *,
    search_config: SearchConfig,
    check: bool = True,
    input_fn: Callable[[str], str] = input,
) -> InteractiveOutcome:
    """Drive a session from input lines until the proof is finished or the user quits (or input ends)."""
    console.print(Text(HELP, style="dim"))
    suggestions: list[Suggestion] = []
    show_state = True
    while not session.finished:
        if show_state:
            suggestions = _show_state(session, console, check)
        try:
            line = input_fn("tactic> ")
        except (EOFError, KeyboardInterrupt):
            console.print()
            return InteractiveOutcome(False, session.tactics, quit=True)
        after = _run_command(line.strip(), session, console, suggestions, search_config)
        if after is _After.QUIT:
            return InteractiveOutcome(False, session.tactics, quit=True)
        show_state = after is _After.SHOW_STATE
    console.print(Text("all goals closed", style="bold green"))
    return InteractiveOutcome(True, session.tactics)


class _After(enum.Enum):
    """What the interactive loop does after one input line."""

    SHOW_STATE = "show the (new) state and its suggestions"
    KEEP = "prompt again without repeating the state"
    QUIT = "quit"


def _show_state(session: ProofSession, console: Console, check: bool) -> list[Suggestion]:
    console.rule(Text(f"{session.theorem.name}: step {len(session.steps)}"))
    render_goals(console, session.state)
    try:
        suggestions = session.suggest(check=check)
    except LeanEnvError:
        raise
    except Exception as exc:  # a model failure: the user can still type tactics
        console.print(Text(f"no suggestions: the generator failed: {type(exc).__name__}: {exc}", style="red"))
        suggestions = []
    render_suggestions(console, suggestions)
    return suggestions


def _run_command(
    command: str,
    session: ProofSession,
    console: Console,
    suggestions: list[Suggestion],
    search_config: SearchConfig,
) -> _After:
    """One input line: a loop command (quit, help, undo, proof, search), a suggestion's number, or a tactic."""
    lowered = command.lower()
    if not command:
        return _After.KEEP
    if lowered in ("q", "quit", "exit"):
        return _After.QUIT
    if lowered in ("h", "help", "?"):
        console.print(Text(HELP))
        return _After.KEEP
    if lowered in ("u", "undo"):
        step = session.undo()
        console.print(Text(f"undid: {step.tactic}" if step else "nothing to undo", style="cyan"))
        return _After.SHOW_STATE
    if lowered in ("p", "proof"):
        console.print(Text(session.proof or "(no tactics yet)"))
        return _After.KEEP
    if lowered in ("s", "search"):
        _interactive_search(session, console, search_config)
        return _After.SHOW_STATE
    if command.isdigit():
        index = int(command)
        if not 1 <= index <= len(suggestions):
            console.print(Text(f"no suggestion {index}: pick 1..{len(suggestions)}", style="red"))
            return _After.KEEP
        command = suggestions[index - 1].tactic
    result = session.apply(command)
    if result.outcome in (ResultKind.FINISHED, ResultKind.STATE):
        console.print(Text("applied: ", style="cyan") + Text(session.tactics[-1]))
        return _After.SHOW_STATE
    console.print(Text("not applied: ", style="red") + describe_check(result))
    return _After.KEEP


def _interactive_search(session: ProofSession, console: Console, config: SearchConfig) -> None:
    console.print(Text("searching from the current state…", style="cyan"))
    try:
        result = session.finish_by_search(config)
    except SessionError as exc:
        console.print(Text(f"search result discarded: {exc}", style="red"))
        return
    except KeyboardInterrupt:
        console.print(Text("search interrupted; the state is unchanged", style="yellow"))
        return
    if result.status.proved:
        console.print(Text(f"search found: {'; '.join(result.tactics)}", style="green"))
    else:
        extra = f" ({result.message})" if result.message else ""
        console.print(
            Text(f"search did not finish the proof: {result.status.value}{extra}; the state is unchanged", style="red")
        )
