"""The Lean REPL backend: `ReplEnv` (an `Env` over one REPL process) and `ReplPool` (several of them).

Protocol: leanprover-community/repl (see ../shared/PROTOCOLS.md). A theorem is started by elaborating
`<statement> := by sorry` on top of the header's environment and taking the sorry's `proofState`.
The header is elaborated once per process: its imports as one fresh command (imports are only allowed
without `env`), the rest (opens, earlier declarations) on top of that, both cached by text.

Robustness: every request has a wall-clock deadline and the process tree a memory limit (enforced by
`ReplProcess`). On a timeout, crash, memory blow-up or protocol violation the process is killed and a
fresh one is started on the next request. Proof states survive that: `ProofState.handle` is this
class's own id, mapped to the theorem and the tactic path that produced it, and a state from an older
process is rebuilt by replaying its path in the new one.

Interpreting REPL answers is done by pure functions (`tactic_result_from_response`, ...) so tests can
exercise them directly on recorded output.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import queue
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lean_env.backends.repl_answers import (
    CommandAnswer,
    ReplRefusal,
    Sorry,
    TacticAnswer,
    command_answer,
    tactic_answer,
)
from lean_env.backends.repl_process import DEFAULT_MAX_RESPONSE_BYTES, ReplMemoryError, ReplProcess
from lean_env.errors import (
    LeanCrashError,
    LeanEnvError,
    LeanNotFoundError,
    LeanStartError,
    LeanTimeoutError,
    ProtocolError,
    TheoremStartError,
)
from lean_env.messages import Position, Severity
from lean_env.project import lake_project
from lean_env.project.lake_project import ELAN_INSTALL
from lean_env.try_this import stable_form
from lean_env.types import (
    ClosingContext,
    HoleTarget,
    LeanError,
    ProofFinished,
    ProofGivenUp,
    ProofState,
    StateResult,
    TacticResult,
    TacticTimeout,
    Theorem,
    same_state_modulo_mvars,
)

log = logging.getLogger(__name__)

REFUSED_PREFIX = "refused by tactic filter: "
MEMORY_PREFIX = "memory limit exceeded"


# -- settings ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplSettings:
    """How to start and police a REPL process. `prover.backends` maps `LeanConfig` onto this.

    `command` overrides the whole argv (then `lake`, `repl_binary` and the project need not exist):
    tests start stand-ins this way; it also serves unusual installations.
    """

    project: str | Path = "."
    repl_binary: str | Path | None = None
    lake: str = "lake"
    command: tuple[str, ...] | None = None
    memory_limit_mb: int | None = 16384
    start_timeout_s: float = 600.0
    command_timeout_s: float = 600.0
    tactic_timeout_s: float = 5.0
    allow_native_decide: bool = False
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    memory_poll_s: float = 0.05
    # Run each tactic under the header's (and the statement's `… in`) `set_option`s, which tactic mode
    # would otherwise ignore (repl#69, lean4#8646); see `wrap_tactic`.
    tactic_options: bool = True

    @property
    def project_dir(self) -> Path:
        return Path(self.project).expanduser()

    def resolve_argv(self) -> list[str]:
        """The argv to start the REPL; raises `LeanNotFoundError` naming the fix for anything missing."""
        if self.command is not None:
            return list(self.command)
        project = self.project_dir
        setup_fix = f"prover setup --lean-project {project}"
        if shutil.which(self.lake) is None:
            raise LeanNotFoundError(
                f"`{self.lake}` (Lean's build tool) is not on PATH", fix=f"{ELAN_INSTALL} && {setup_fix}"
            )
        if not project.is_dir():
            raise LeanNotFoundError(f"the Lean project {project} does not exist", fix=setup_fix)
        if not any((project / name).exists() for name in ("lakefile.lean", "lakefile.toml")):
            raise LeanNotFoundError(f"{project} is not a Lake project (no lakefile)", fix=setup_fix)
        binary = Path(self.repl_binary).expanduser() if self.repl_binary else default_repl_binary(project)
        if not binary.is_absolute():
            binary = project / binary
        if not binary.is_file():
            # `prover setup` refuses a user's own project (it never rewrites their lakefile): the fix depends
            # on who made the project and whether the REPL package is fetched (lean_env.project.lake_project.repl_binary_fix).
            fix = (
                lake_project.repl_binary_fix(project)
                if not self.repl_binary
                else f"point [lean] repl_binary at a built REPL, or remove it to use {default_repl_binary(project)}"
            )
            raise LeanNotFoundError(f"the Lean REPL binary {binary} does not exist", fix=fix)
        return [self.lake, "env", str(binary)]

    def cwd(self) -> Path | None:
        project = self.project_dir
        if self.command is not None and not project.is_dir():
            return None
        return project


def default_repl_binary(project: Path) -> Path:
    """The REPL that `prover setup` builds inside `project`."""
    return lake_project.default_repl_binary(project)


# -- pure interpretation of REPL answers -------------------------------------------------------------
# Each reads a typed answer (lean_env.backends.repl_answers); the dict forms are kept for callers holding the
# JSON (recorded fixtures, `run_command`) and read it once with the same records.

AnyAnswer = CommandAnswer | TacticAnswer | ReplRefusal


def _as_command(response: Mapping[str, Any] | AnyAnswer) -> CommandAnswer | ReplRefusal | TacticAnswer:
    return command_answer(response) if isinstance(response, Mapping) else response


def error_messages(response: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The error messages of a REPL answer, in the REPL's JSON shape."""
    answer = _as_command(response)
    return [] if isinstance(answer, ReplRefusal) else [m.to_json() for m in answer.errors]


def first_error_text(response: Mapping[str, Any] | AnyAnswer) -> str | None:
    """The REPL-level failure (`{"message": ...}`) or the first error message, with its position."""
    answer = _as_command(response)
    if isinstance(answer, ReplRefusal):
        return answer.text
    if not answer.errors:
        return None
    first = answer.errors[0]
    where = f"line {first.pos.line}:{first.pos.column}: " if first.pos is not None and first.pos.line else ""
    return f"{where}{first.data}"


def info_messages(response: Mapping[str, Any] | TacticAnswer | ReplRefusal) -> list[str]:
    """The text of a tactic answer's info messages, in order (where Lean's "Try this" suggestions come)."""
    if isinstance(response, ReplRefusal):
        return []
    if isinstance(response, TacticAnswer):
        return [m.data for m in response.messages if m.severity is Severity.INFO]
    messages = response.get("messages") or []
    return [str(m.get("data", "")) for m in messages if isinstance(m, Mapping) and m.get("severity") == "info"]


def tactic_result_from_response(response: Mapping[str, Any] | TacticAnswer | ReplRefusal) -> TacticResult:
    """Turn a REPL answer to `{"tactic": ..., "proofState": n}` into a `TacticResult`.

    Handles are the REPL's raw `proofState` ids. Order matters: an answer can carry an error *and*
    `proofStatus: "Incomplete: contains sorry"` with no goals (Lean's error recovery inserted a sorry);
    that is the tactic failing, not a proof and not a give-up.
    """
    answer = tactic_answer(response) if isinstance(response, Mapping) else response
    if isinstance(answer, ReplRefusal):
        return LeanError(answer.text)
    if answer.errors:
        return LeanError("\n".join(m.data for m in answer.errors))
    status = answer.proof_status or ""
    if status.startswith("Error"):
        return LeanError(status)
    if answer.goals is None:
        return LeanError(f"unexpected REPL answer (no goal list): {dict(answer.raw)!r:.200}")
    if answer.proof_state is None:
        return LeanError(f"unexpected REPL answer (no proofState): {dict(answer.raw)!r:.200}")
    if "sorry" in status or answer.sorries:
        return ProofGivenUp()
    if answer.goals:
        return StateResult(ProofState.from_goal_strings(list(answer.goals), handle=answer.proof_state))
    if status in ("Completed", ""):
        # Older REPLs send no proofStatus; no goals and no error then means done. The verifier decides anyway.
        return ProofFinished(handle=answer.proof_state)
    return LeanError(f"unexpected proofStatus {status!r} with no goals")


def _command_or_start_error(response: Mapping[str, Any] | AnyAnswer, doing: str) -> CommandAnswer:
    answer = _as_command(response)
    problem = first_error_text(answer)
    if problem is not None:
        raise TheoremStartError(f"{doing}: {problem}")
    if not isinstance(answer, CommandAnswer):
        raise TheoremStartError(f"{doing}: the REPL answered a command as a tactic")
    return answer


def theorem_start_from_response(response: Mapping[str, Any] | CommandAnswer | ReplRefusal) -> tuple[int, str]:
    """The `(proofState, goal)` of the `by sorry` that starts a theorem, from the command's answer.

    Raises `TheoremStartError` with Lean's first error when the statement does not elaborate.
    """
    answer = _command_or_start_error(response, "the statement does not elaborate")
    sorries = [s for s in answer.sorries if s.proof_state is not None]
    if not sorries:
        raise TheoremStartError("Lean returned no proof state for the statement (no `sorry` was elaborated)")
    # Our `by sorry` comes last in the text; a sorry inside the statement itself would come first.
    last = max(sorries, key=lambda s: _pos_key(s.pos))
    assert last.proof_state is not None
    return last.proof_state, last.goal


def _pos_key(pos: Position | None) -> tuple[int, int]:
    return (pos.line, pos.column) if pos is not None else (0, 0)


def hole_start_from_response(
    response: Mapping[str, Any] | CommandAnswer | ReplRefusal, target: HoleTarget
) -> tuple[int, str]:
    """The `(proofState, goal)` of hole `target.index`, from the answer to `{"cmd": target.command()}`.

    The REPL answers a command with one `sorries` entry per elaborated `sorry`, each with `pos`
    (line 1-based, column in codepoints, as Lean's `Position`) and its own `proofState`
    (repl fixtures `calc.expected.out`: two `by sorry` in one declaration, two entries). One `sorry`
    run on several goals (`all_goals sorry`) gives several entries at one position
    (`Mathlib/test/H20231115_2.expected.out`). Every entry must sit on one of the skeleton's holes
    and every hole must have exactly one; anything else raises `TheoremStartError`, because the
    hole we would fill is then not the goal Lean sees.
    """
    answer = _command_or_start_error(response, "the proof skeleton does not compile")
    line_starts = [0]
    command = target.command()
    for i, ch in enumerate(command):
        if ch == "\n":
            line_starts.append(i + 1)
    by_offset: dict[int, list[Sorry]] = {}
    for entry in answer.sorries:
        if entry.proof_state is None:
            continue
        line, column = _pos_key(entry.pos)
        offset = line_starts[line - 1] + column if 1 <= line <= len(line_starts) else -1
        by_offset.setdefault(offset, []).append(entry)
    holes = target.command_offsets()
    stray = sorted(set(by_offset) - set(holes))
    if stray:
        where = _pos_key(by_offset[stray[0]][0].pos)
        raise TheoremStartError(
            f"Lean elaborated a `sorry` at line {where[0]}, column {where[1]} of the declaration that is not "
            "one of its holes"
        )
    entries = by_offset.get(holes[target.index], [])
    if not entries:
        raise TheoremStartError(f"hole {target.label}: Lean elaborated no `sorry` there (unreachable code?)")
    if len(entries) > 1:
        raise TheoremStartError(
            f"hole {target.label}: this `sorry` stands for {len(entries)} goals (it runs under `all_goals`, `<;>` "
            "or similar); fill it by hand or prove the theorem with --from-statement"
        )
    assert entries[0].proof_state is not None
    return entries[0].proof_state, entries[0].goal


def split_header(header: str) -> tuple[str, str]:
    """Split a header into its leading imports (with comments before them) and the rest."""
    from lean_env.source.lexer import LexError, TokenKind, tokenize

    try:
        tokens = tokenize(header)
    except LexError:
        return "", header
    end = 0
    expect_module = False
    for tok in tokens:
        if tok.kind in (TokenKind.COMMENT, TokenKind.DOC_COMMENT):
            continue
        if expect_module:
            if tok.kind is not TokenKind.IDENT:
                break
            end = tok.end
            expect_module = tok.text in ("all",)  # `import all M`
            continue
        if tok.kind is TokenKind.IDENT and tok.text == "import":
            expect_module = True
            continue
        if tok.kind is TokenKind.IDENT and tok.text in ("prelude", "module", "public", "meta"):
            if tok.text in ("prelude", "module"):
                end = tok.end
            continue
        break
    return header[:end], header[end:]


# -- options tactic mode would ignore ------------------------------------------------------------------


def scoped_options(header: str, statement: str = "") -> tuple[tuple[str, str], ...]:
    """The `set_option NAME VALUE`s in force for a theorem: the header's (as `(name, value)` pairs, in order),
    then the statement's own `set_option … in` prefixes.

    A header's `set_option … in` applies to its one following command only, and an option set inside a
    `section`/`namespace` that the header closes again is gone (Lean's scopes), so neither counts.
    Unlexable text gives no options (the verifier will reject it anyway).
    """
    from lean_env.source.lexer import LexError, TokenKind, tokenize

    def options_of(text: str, want_in: bool) -> list[tuple[str, str]]:
        try:
            tokens = tokenize(text, keep_comments=False)
        except LexError:
            return []
        scopes: list[list[tuple[str, str]]] = [[]]
        for i, tok in enumerate(tokens):
            if tok.kind is not TokenKind.IDENT:
                continue
            opens_scope = tok.column == 1 or (i > 0 and tokens[i - 1].text in ("noncomputable", "public"))
            if tok.text in ("section", "namespace") and opens_scope:
                scopes.append([])
            elif tok.text == "end" and tok.column == 1 and len(scopes) > 1:
                scopes.pop()
            elif tok.text == "set_option" and i + 2 < len(tokens) and tokens[i + 1].kind is TokenKind.IDENT:
                value = tokens[i + 2]
                if value.kind not in (TokenKind.IDENT, TokenKind.NUMBER, TokenKind.STRING):
                    continue
                is_in = i + 3 < len(tokens) and tokens[i + 3].text == "in"
                if is_in == want_in:
                    scopes[-1].append((tokens[i + 1].text, value.text))
        return [opt for scope in scopes for opt in scope]

    return tuple(options_of(header, want_in=False) + options_of(statement, want_in=True))


def wrap_tactic(tactic: str, options: Sequence[tuple[str, str]]) -> str:
    """`set_option NAME VALUE in` lines before `tactic`, so it runs under those options in tactic mode.

    Tactic mode parses the text with `Parser.runParserCategory env `tactic` (REPL `ProofSnapshot.runString`,
    leanprover-community/repl@8948401a `REPL/Snapshots.lean`); `set_option … in <tacticSeq>` is a tactic whose
    elaborator runs the inner tactics with the option set (`elabSetOption`, leanprover/lean4@0153b441
    `src/Lean/Elab/Tactic/BuiltinTactic.lean`). Each wrapper ends its own line, so the tactic keeps its
    columns and a multi-line script its layout. Applied only to the request sent: proof scripts, search
    trees and cassette keys hold `tactic` as it was (the tactic filter, which refuses `set_option`,
    has already passed it).
    """
    return "".join(f"set_option {name} {value} in\n" for name, value in options) + tactic


# -- the environment ---------------------------------------------------------------------------------


@dataclass
class _Node:
    """A proof state as this class knows it: how to rebuild it, and its id in the current process."""

    theorem: Theorem
    parent: int | None
    tactic: str | None
    pp: str
    repl_state: int
    generation: int
    timeout: float = 0.0  # the tactic's own limit, reused (doubled) when replaying it after a restart
    hole: HoleTarget | None = None  # a root started at a hole of a skeleton (rebuilt the same way)


class _RebuildError(LeanEnvError):
    pass


_handle_counter = itertools.count(1)
_handle_lock = threading.Lock()


def _new_handle() -> int:
    # Unique across every ReplEnv in the process, so a state can never be confused between envs.
    with _handle_lock:
        return next(_handle_counter)


class ReplEnv(ClosingContext):
    """An `Env` over one Lean REPL process. Thread-safe (requests are serialised by a lock)."""

    def __init__(
        self, settings: ReplSettings, *, check_tactic: Callable[[str, bool], str | None] | None = None
    ) -> None:
        self.settings = settings
        self._argv = settings.resolve_argv()
        self._check_tactic = check_tactic
        self._proc: ReplProcess | None = None
        self._generation = 0
        self._env_cache: dict[tuple[str, str], int | None] = {}
        self._options_cache: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {}
        self._nodes: dict[int, _Node] = {}
        self._lock = threading.RLock()
        self._closed = False
        self.restarts = 0
        self.requests = 0

    # -- Env protocol --------------------------------------------------------------------------------

    def start(self, theorem: Theorem) -> ProofState:
        with self._lock:
            state, goal = self._start_in_process(theorem)
            handle = _new_handle()
            self._nodes[handle] = _Node(theorem, None, None, goal, state, self._generation)
            return ProofState.from_goal_strings([goal], handle=handle)

    def start_hole(self, target: HoleTarget) -> ProofState:
        """Compile the declaration with its skeleton (on the header's environment) and enter one `sorry`."""
        with self._lock:
            state, goal = self._start_hole_in_process(target)
            handle = _new_handle()
            self._nodes[handle] = _Node(target.theorem, None, None, goal, state, self._generation, hole=target)
            return ProofState.from_goal_strings([goal], handle=handle)

    def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> TacticResult:
        reason = self._refusal(tactic)
        if reason is not None:
            return LeanError(REFUSED_PREFIX + reason)
        seconds = self.settings.tactic_timeout_s if timeout is None else timeout
        with self._lock:
            node_id = state.handle
            if not isinstance(node_id, int) or node_id not in self._nodes:
                raise ValueError(f"proof state handle {node_id!r} does not belong to this ReplEnv")
            node = self._nodes[node_id]
            try:
                repl_state = self._live_state(node_id)
            except LeanEnvError as exc:  # _RebuildError, or the new process failing while replaying
                return LeanError(f"could not rebuild the proof state after a REPL restart: {exc}")
            try:
                response = self._tactic(self._wire_tactic(node.theorem, tactic), repl_state, seconds)
            except LeanTimeoutError:
                return TacticTimeout(seconds)
            except ReplMemoryError as exc:
                return LeanError(f"{MEMORY_PREFIX}: {exc}")
            except (LeanCrashError, ProtocolError) as exc:
                return LeanError(f"the Lean REPL failed on this tactic and was restarted: {exc}")
            result = tactic_result_from_response(response)
            if isinstance(result, StateResult | ProofFinished):
                new_id = _new_handle()
                raw = result.state.handle if isinstance(result, StateResult) else result.handle
                pp = result.state.pp if isinstance(result, StateResult) else "no goals"
                assert isinstance(raw, int)
                self._nodes[new_id] = _Node(node.theorem, node_id, tactic, pp, raw, self._generation, seconds)
                # `exact?` and kin: the written proof holds the form Lean suggested (its info message).
                replacement = stable_form(tactic, info_messages(response))
                if isinstance(result, StateResult):
                    return StateResult(dataclasses.replace(result.state, handle=new_id), replacement)
                return ProofFinished(handle=new_id, replacement=replacement)
            return result

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._proc is not None:
                self._proc.close()
                self._proc = None

    # -- commands --------------------------------------------------------------------------------------

    def run_command(
        self, cmd: str, env: int | None = None, timeout: float | None = None, infotree: str | None = None
    ) -> dict[str, Any]:
        """Send one `{"cmd": ...}` (a fresh environment when `env` is None) and return the raw answer; `infotree`
        (`"original"`, `"full"`, ...) asks the REPL for the command's info tree too.

        Raises `LeanTimeoutError`, `LeanCrashError` or `ProtocolError`; the process is then restarted on
        the next request.
        """
        with self._lock:
            answer = self._command(cmd, env, self.settings.command_timeout_s if timeout is None else timeout, infotree)
        return dict(answer.raw)

    @property
    def process_id(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.alive else None

    @property
    def generation(self) -> int:
        """Which process this is: +1 at every (re)start, so env ids cached for an older one are known stale."""
        return self._generation

    def recycle(self) -> None:
        """End the current process on purpose (frees every environment it holds); the next request starts a
        fresh one. Not counted in `restarts`; states are rebuilt on first use as after a restart."""
        with self._lock:
            if self._proc is not None:
                self._proc.close()
                self._proc = None

    # -- internals -------------------------------------------------------------------------------------

    def _wire_tactic(self, theorem: Theorem, tactic: str) -> str:
        """The tactic text as sent: wrapped in the theorem's `set_option`s (after the filter has passed it)."""
        if not self.settings.tactic_options:
            return tactic
        key = (theorem.header, theorem.statement)
        options = self._options_cache.get(key)
        if options is None:
            options = self._options_cache[key] = scoped_options(theorem.header, theorem.statement)
        return wrap_tactic(tactic, options)

    def _refusal(self, tactic: str) -> str | None:
        check = self._check_tactic
        if check is None:
            from lean_env.checks.tactic_filter import check_tactic

            check = check_tactic
        return check(tactic, self.settings.allow_native_decide)

    def _ensure_process(self) -> ReplProcess:
        if self._closed:
            raise LeanCrashError("this ReplEnv is closed")
        if self._proc is not None and self._proc.alive:
            return self._proc
        if self._proc is not None:
            # It died between requests (killed from outside, crashed on its own).
            self._note_restart("the process exited between requests")
        proc = ReplProcess(
            self._argv,
            self.settings.cwd(),
            memory_limit_mb=self.settings.memory_limit_mb,
            max_response_bytes=self.settings.max_response_bytes,
            poll_interval_s=self.settings.memory_poll_s,
        )
        proc.start()
        self._proc = proc
        self._generation += 1
        self._env_cache.clear()
        return proc

    def _command(
        self, cmd: str, env: int | None, timeout: float, infotree: str | None = None
    ) -> CommandAnswer | ReplRefusal:
        """`{"cmd": cmd, "env": env}`, its answer read once into a typed record (lean_env.backends.repl_answers)."""
        payload: dict[str, Any] = {"cmd": cmd} if env is None else {"cmd": cmd, "env": env}
        if infotree is not None:
            payload["infotree"] = infotree
        answer = self._request(payload, timeout, command_answer)
        assert isinstance(answer, CommandAnswer | ReplRefusal)
        return answer

    def _tactic(self, tactic: str, proof_state: int, timeout: float) -> TacticAnswer | ReplRefusal:
        answer = self._request({"tactic": tactic, "proofState": proof_state}, timeout, tactic_answer)
        assert isinstance(answer, TacticAnswer | ReplRefusal)
        return answer

    def _request(
        self, payload: dict[str, Any], timeout: float, read: Callable[[Mapping[str, Any]], AnyAnswer]
    ) -> AnyAnswer:
        proc = self._ensure_process()
        self.requests += 1
        try:
            return read(proc.request(payload, timeout))
        except (LeanTimeoutError, LeanCrashError, ProtocolError) as exc:
            # An answer of the wrong shape is the process out of step with us, like one that is not JSON.
            self._note_restart(str(exc))
            raise

    def _note_restart(self, why: str) -> None:
        if self._proc is not None:
            self._proc.kill()
        self._proc = None
        self.restarts += 1
        log.warning("Lean REPL restart #%d: %s", self.restarts, why)

    def _header_env(self, header: str) -> int | None:
        imports, rest = split_header(header)
        env: int | None = None
        for key, text in (((imports, ""), imports), ((imports, rest), rest)):
            if not text.strip():
                continue
            if key in self._env_cache:
                env = self._env_cache[key]
                continue
            try:
                response = self._command(text, env, self.settings.start_timeout_s)
            except ReplMemoryError as exc:
                raise LeanStartError(f"elaborating the header ran out of memory: {exc}") from None
            except LeanTimeoutError as exc:
                raise LeanTimeoutError(f"elaborating the header timed out: {exc}") from None
            problem = first_error_text(response)
            if problem is not None:
                what = "imports" if text is imports else "header"
                raise LeanStartError(f"the {what} failed to elaborate: {problem}")
            new_env = response.env if isinstance(response, CommandAnswer) else None
            if new_env is None:
                raise ProtocolError(f"the REPL answered the header without an env id: {dict(response.raw)!r:.200}")
            self._env_cache[key] = env = new_env
        return env

    def _command_after_header(self, header: str, cmd: str, doing: str) -> CommandAnswer | ReplRefusal:
        """The REPL's answer to `cmd` run on `header`'s environment (`_header_env`); a REPL that runs out of
        memory on it is a `TheoremStartError` "`doing` ran out of memory"."""
        env = self._header_env(header)
        try:
            return self._command(cmd, env, self.settings.command_timeout_s)
        except ReplMemoryError as exc:
            raise TheoremStartError(f"{doing} ran out of memory: {exc}") from None

    def _start_in_process(self, theorem: Theorem) -> tuple[int, str]:
        cmd = f"{theorem.statement.rstrip()} := by sorry"
        response = self._command_after_header(theorem.header, cmd, f"starting {theorem.name}")
        return theorem_start_from_response(response)

    def _start_hole_in_process(self, target: HoleTarget) -> tuple[int, str]:
        response = self._command_after_header(
            target.theorem.header, target.command(), f"compiling {target.theorem.name}"
        )
        return hole_start_from_response(response, target)

    def _start_root(self, node: _Node) -> tuple[int, str]:
        """Re-enter a root state in the current process: the theorem's start, or its hole's."""
        if node.hole is not None:
            return self._start_hole_in_process(node.hole)
        return self._start_in_process(node.theorem)

    def _live_state(self, node_id: int) -> int:
        """The node's proofState id in the current process, replaying its path after a restart."""
        node = self._nodes[node_id]
        if node.generation == self._generation and self._proc is not None and self._proc.alive:
            return node.repl_state
        self._ensure_process()
        chain = [node_id]
        while (parent := self._nodes[chain[-1]].parent) is not None and self._nodes[parent].generation != (
            self._generation
        ):
            chain.append(parent)
        for nid in reversed(chain):
            n = self._nodes[nid]
            if n.parent is None:
                try:
                    state, goal = self._start_root(n)
                except TheoremStartError as exc:
                    raise _RebuildError(str(exc)) from None
                # Metavariable numbers depend on the process's history.
                if not same_state_modulo_mvars(goal, n.pp):
                    raise _RebuildError(f"the theorem now starts at a different goal: {goal!r}")
            else:
                parent_state = self._nodes[n.parent].repl_state
                assert n.tactic is not None
                replay_timeout = 2 * max(n.timeout, self.settings.tactic_timeout_s)
                wire = self._wire_tactic(n.theorem, n.tactic)
                response = self._tactic(wire, parent_state, replay_timeout)
                result = tactic_result_from_response(response)
                if isinstance(result, StateResult):
                    state, pp = int(result.state.handle or 0), result.state.pp
                elif isinstance(result, ProofFinished):
                    state, pp = int(result.handle or 0), "no goals"
                else:
                    raise _RebuildError(f"replaying {n.tactic!r} now gives {result}")
                if not same_state_modulo_mvars(pp, n.pp):  # modulo `?m.N`/`?u.N` numbering
                    raise _RebuildError(f"replaying {n.tactic!r} now gives a different state")
            n.repl_state, n.generation = state, self._generation
        return node.repl_state


# -- the pool ------------------------------------------------------------------------------------------


class ReplPool(ClosingContext):
    """N `ReplEnv`s for concurrency; itself an `Env` (each theorem is pinned to one member).

    Use it as an Env from several threads (each thread's theorem runs on its own member when one is
    free), or `lease()` a whole member for exclusive use (e.g. a verifier next to the searches).
    Members start their process lazily, on first use.
    """

    def __init__(
        self,
        settings: ReplSettings,
        size: int,
        *,
        check_tactic: Callable[[str, bool], str | None] | None = None,
    ) -> None:
        if size < 1:
            raise ValueError("a ReplPool needs at least one process")
        self.members = [ReplEnv(settings, check_tactic=check_tactic) for _ in range(size)]
        self._free: queue.Queue[ReplEnv] = queue.Queue()
        for member in self.members:
            self._free.put(member)
        self._owner: dict[int, ReplEnv] = {}
        self._load = dict.fromkeys(range(size), 0)
        self._lock = threading.Lock()
        self._rr = itertools.cycle(range(size))

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def restarts(self) -> int:
        return sum(m.restarts for m in self.members)

    @contextlib.contextmanager
    def lease(self, timeout: float | None = None) -> Iterator[ReplEnv]:
        """Exclusive use of one member until the block ends (blocks while all are leased)."""
        try:
            member = self._free.get(timeout=timeout)
        except queue.Empty:
            raise LeanTimeoutError(f"no free Lean REPL in the pool within {timeout} s") from None
        try:
            yield member
        finally:
            self._free.put(member)

    def start(self, theorem: Theorem) -> ProofState:
        return self._start_on_member(lambda member: member.start(theorem))

    def _start_on_member(self, start: Callable[[ReplEnv], ProofState]) -> ProofState:
        with self._lock:
            # Least-loaded member (number of theorems started there), round-robin among equals.
            order = [next(self._rr) for _ in range(self.size)]
            index = min(order, key=lambda i: self._load[i])
            self._load[index] += 1
        member = self.members[index]
        state = start(member)
        assert isinstance(state.handle, int)
        with self._lock:
            self._owner[state.handle] = member
        return state

    def start_hole(self, target: HoleTarget) -> ProofState:
        return self._start_on_member(lambda member: member.start_hole(target))

    def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> TacticResult:
        with self._lock:
            member = self._owner.get(state.handle) if isinstance(state.handle, int) else None
        if member is None:
            raise ValueError(f"proof state handle {state.handle!r} does not belong to this ReplPool")
        result = member.run_tactic(state, tactic, timeout)
        new_handle = (
            result.state.handle
            if isinstance(result, StateResult)
            else result.handle
            if isinstance(result, ProofFinished)
            else None
        )
        if isinstance(new_handle, int):
            with self._lock:
                self._owner[new_handle] = member
        return result

    def map(self, fn: Callable[[ReplEnv, Any], Any], items: Sequence[Any]) -> list[Any]:
        """Run `fn(member, item)` for each item on the pool's members in parallel; results in order."""
        from concurrent.futures import ThreadPoolExecutor

        def call(item: Any) -> Any:
            with self.lease() as member:
                return fn(member, item)

        with ThreadPoolExecutor(max_workers=self.size) as ex:
            return list(ex.map(call, items))

    def close(self) -> None:
        for member in self.members:
            member.close()
