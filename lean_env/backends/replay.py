"""The replay backend: an Env and a ProofVerifier over a cassette of recorded real-Lean results.

Replay is for tests, benchmarks and the offline demo. It never invents a result: a tactic that was
not recorded in that exact state comes back as a `LeanError` whose message starts with "unrecorded",
and a verdict from here says checker="replay" so nobody mistakes it for Lean.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from lean_env.cassette.format import HolesLine, StepLine, TheoremLine, result_to_outcome
from lean_env.cassette.keys import statement_signature, without_comments
from lean_env.cassette.store import Cassette, new_cassette
from lean_env.checks.verdict import Rejected, Verdict, Verified
from lean_env.errors import TheoremStartError
from lean_env.source.document import TARGET_KEYWORDS
from lean_env.source.edits import dedent_script, split_steps
from lean_env.source.lexer import LexError, TokenKind, tokenize
from lean_env.types import (
    NO_GOALS,
    ClosingContext,
    Env,
    HoleTarget,
    LeanError,
    ProofFinished,
    ProofGivenUp,
    ProofState,
    StateResult,
    TacticResult,
    TacticTimeout,
    Theorem,
    split_goals,
)

REPLAY_CHECKER = "replay"
UNRECORDED_PREFIX = "unrecorded"
# A replayed state's handle: this prefix, then the cassette theorem it descends from (and `#hole` for a hole).
_HANDLE_PREFIX = "replay:"


def _refusal(tactic: str, allow_native_decide: bool) -> str | None:
    # Imported lazily: the filter lives in its own module and replay must refuse exactly what Lean backends refuse.
    from lean_env.checks.tactic_filter import check_tactic

    return check_tactic(tactic, allow_native_decide=allow_native_decide)


class ReplayEnv(ClosingContext):
    """An `Env` whose answers are looked up in a cassette instead of computed by Lean.

    `latency_s` sleeps before each answer to imitate Lean's cost (benchmarks only; off by default);
    when it exceeds a tactic's timeout the answer is a `TacticTimeout`, as a live backend would give.
    """

    def __init__(
        self,
        cassette: Cassette | str | Path,
        *,
        latency_s: float = 0.0,
        allow_native_decide: bool = False,
    ) -> None:
        self.cassette = cassette if isinstance(cassette, Cassette) else Cassette.load(cassette)
        self.latency_s = latency_s
        self.allow_native_decide = allow_native_decide
        self.calls = 0
        self._closed = False

    # ---- Env protocol

    def start(self, theorem: Theorem) -> ProofState:
        record = self.cassette.find_theorem(theorem)
        if record is None:
            raise TheoremStartError(
                f"theorem {theorem.name!r} is not in the replay cassette {self.cassette.path} "
                f"({len(self.cassette.theorems)} recorded theorems)"
            )
        if record.initial_state is None:
            raise TheoremStartError(
                f"theorem {record.name!r}: the replay cassette {self.cassette.path} has no recorded initial state"
            )
        # A record found by name may state another theorem: its recorded goal is then not this one's, and a
        # search on it would "prove" the wrong goal (the verifier rejects it later, after the whole search).
        # A request by name alone (an empty statement) has nothing to compare.
        mismatch = same_theorem(record, theorem) if theorem.statement.strip() else None
        if mismatch is not None:
            raise TheoremStartError(f"theorem {theorem.name!r}: {mismatch}")
        return ProofState.from_pp(record.initial_state, handle=f"{_HANDLE_PREFIX}{record.name}")

    def start_hole(self, target: HoleTarget) -> ProofState:
        """The recorded goal of one `sorry` of a skeleton (a cassette `holes` record), as Lean answered it."""
        self._check_open()
        record = self.cassette.find_holes(target.theorem, target.skeleton)
        if record is None:
            raise TheoremStartError(
                f"hole {target.label}: the replay cassette {self.cassette.path} has no recorded compilation of "
                "this proof skeleton (this is a replay, not Lean)"
            )
        if len(record.goals) != target.count:
            raise TheoremStartError(
                f"hole {target.label}: the cassette records {len(record.goals)} holes for this skeleton, "
                f"the file has {target.count}"
            )
        # The hole goals were recorded for the skeleton of one theorem: another statement under the same name
        # has other goals, so its record must vouch for this theorem as `start` requires.
        theorem_record = self.cassette.theorems.get(record.theorem)
        if theorem_record is not None and target.theorem.statement.strip():
            mismatch = same_theorem(theorem_record, target.theorem)
            if mismatch is not None:
                raise TheoremStartError(f"hole {target.label}: {mismatch}")
        return ProofState.from_pp(record.goals[target.index], handle=f"{_HANDLE_PREFIX}{record.theorem}#{target.index}")

    def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> TacticResult:
        self._check_open()
        self.calls += 1
        reason = _refusal(tactic, self.allow_native_decide)
        if reason is not None:
            return LeanError(f"refused by tactic filter: {reason}")
        if self.latency_s > 0:
            if timeout is not None and self.latency_s > timeout:
                time.sleep(timeout)
                return TacticTimeout(timeout)
            time.sleep(self.latency_s)
        step = self.cassette.lookup(state.pp, tactic)
        if step is None and _BULLET.match(tactic):
            return self._run_block(state, tactic)
        if step is None:
            return LeanError(
                f"{UNRECORDED_PREFIX}: replay cassette {Path(self.cassette.path).name} has no recorded result "
                f"for `{' '.join(tactic.split())}` in this state (this is a replay, not Lean)"
            )
        owner = self._owner(state)
        refused = None if owner is None else step_counts(self.cassette, owner, state.pp, tactic)
        if refused is not None:
            return LeanError(
                f"{UNRECORDED_PREFIX}: `{' '.join(tactic.split())}` {refused} (this is a replay, not Lean)"
            )
        # The answer keeps the state's handle, so the steps after it still know which theorem they belong to.
        result = step.result.to_result(handle=state.handle)
        if isinstance(result, TacticTimeout) and timeout is not None:
            return TacticTimeout(timeout)
        return result

    def _run_block(self, state: ProofState, block: str) -> TacticResult:
        """A `·` block sent as one tactic (an interactive session focusing the main goal): replayed as
        `replay_script` replays it, each of its steps answered by this env under the same theorem."""
        final = _replay_steps(self, [block], state, (), lambda pp, tac: None)
        if isinstance(final, str):
            return LeanError(final if final.startswith(UNRECORDED_PREFIX) else f"{UNRECORDED_PREFIX}: {final}")
        if not _goals(final.pp):
            return ProofFinished(handle=state.handle)
        return StateResult(ProofState.from_pp(final.pp, handle=state.handle))

    def _owner(self, state: ProofState) -> TheoremLine | None:
        """The cassette theorem a state descends from (`start`/`start_hole` name it in the handle), or None for a
        bare state (`prover suggest` on a goal), which is answered as recorded."""
        handle = state.handle
        if not (isinstance(handle, str) and handle.startswith(_HANDLE_PREFIX)):
            return None
        name = handle[len(_HANDLE_PREFIX) :]
        found = self.cassette.theorems.get(name)
        return found if found is not None else self.cassette.theorems.get(name.rpartition("#")[0])

    def close(self) -> None:
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("ReplayEnv is closed")


# --------------------------------------------------------------------------- flattening proof scripts

_BULLET = re.compile(r"^[·.][ \t]+")
_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\n)+")


def _script_text(proof: str) -> str:
    """A proof with its comments blanked as Lean's lexer reads them (`without_comments`: columns kept), and the
    blank lines around it dropped."""
    return _LEADING_BLANK_LINES.sub("", without_comments(proof)).rstrip()


def flatten_proof(proof: str) -> list[str]:
    """The tactic steps of a proof script, in order.

    Comments are dropped, and a leading `by` too. The script is split into its top-level steps by
    `lean_env.source.edits.split_steps` (Lean's layout: a step starts in the block's column; deeper lines
    continue it), with the script's indentation read as written, first line included, so
    `"  intro h\n  exact h"` is two steps. A `·` focusing bullet is dropped and its block flattened into
    its own steps.
    """
    text = _script_text(proof)
    stripped = text.lstrip()
    if stripped.startswith("by") and (len(stripped) == 2 or stripped[2].isspace()):
        # The first tactic keeps its column: `by` and the space after it become indentation.
        text = text[: len(text) - len(stripped)] + "  " + stripped[2:]
    out: list[str] = []
    for step in split_steps(text):
        m = _BULLET.match(step)
        if m is None:
            out.append(step)
            continue
        # `· tac\n  more` is the block `tac\nmore` at the bullet's content column.
        out.extend(flatten_proof(" " * m.end() + step[m.end() :]))
    return out


class ReplayVerifier:
    """A `ProofVerifier` that replays a whole proof through a cassette from the theorem's initial state.

    Only a proof whose every step was recorded from real Lean and whose last step finishes the
    proof is `Verified(checker="replay")`. It is a check of recordings, never a substitute for Lean
    in a real run. Even with every recording true, replay must not accept what Lean rejects, so:

    * the cassette's theorem must be this theorem: the same statement (layout and the declared name aside),
      or, for records without a statement (LeanDojo traces), the same traced declaration when the theorem
      names one (`same_theorem`);
    * a step counts only if it was recorded under a theorem of the same context (the same header; an empty
      header is unknown, so only the theorem itself): equal printed goals under other headers can mean
      other things (`step_counts`);
    * `·` blocks are replayed as Lean runs them (`cdot` in lean4 `src/Lean/Elab/Tactic/BuiltinTactic.lean`:
      focus the main goal, run the block, `done`): the block sees only its goal, must close it, and may not
      touch the goals after it (`replay_script`).
    """

    def __init__(self, cassette: Cassette | str | Path, *, allow_native_decide: bool = False) -> None:
        self.cassette = cassette if isinstance(cassette, Cassette) else Cassette.load(cassette)
        self.allow_native_decide = allow_native_decide

    def verify(self, theorem: Theorem, proof: str) -> Verdict:
        from lean_env.checks.static import static_check  # lazily: the Lean verifiers' own static checks

        record = self.cassette.find_theorem(theorem)
        # A recorded compile only ever rejects, so it is consulted first: a sketch's `sorry` is refused by the
        # static checks below too, but its compile's messages say which holes remain.
        if record is not None and same_theorem(record, theorem) is None:
            compiled = self._recorded_compile(record, theorem, proof)
            if compiled is not None:
                return compiled
        reason = static_check(theorem, proof, allow_native_decide=self.allow_native_decide)
        if reason is not None:
            return Rejected(reason, checker=REPLAY_CHECKER)
        if record is None:
            return Rejected(f"theorem {theorem.name!r} is not in the replay cassette", checker=REPLAY_CHECKER)
        mismatch = same_theorem(record, theorem)
        if mismatch is not None:
            return Rejected(mismatch, checker=REPLAY_CHECKER)
        verdict = self._replay(record, proof)
        if isinstance(verdict, Rejected):
            return self._as_filled_skeleton(record, theorem, proof) or verdict
        return verdict

    def _as_filled_skeleton(self, record: TheoremLine, theorem: Theorem, proof: str) -> Verdict | None:
        """A proof that is a recorded skeleton of this theorem with every `sorry` replaced by a script (a repaired
        sketch) replays hole by hole, as `verify_holes` checks a filled skeleton; None when it is none."""
        from lean_env.cassette.keys import skeleton_key

        wanted = skeleton_key("by\n" + "\n".join("  " + line for line in proof.split("\n")))
        for (name, _), holes in self.cassette.holes.items():
            if name != record.name:
                continue
            parts = skeleton_key(holes.skeleton).split("sorry")
            match = re.fullmatch("(.+?)".join(re.escape(p) for p in parts), wanted, re.DOTALL)
            if match is None:
                continue
            fills = {i: text for i, text in enumerate(match.groups())}
            verdict = replay_filled_skeleton(
                self.cassette, theorem, holes.skeleton, fills, allow_native_decide=self.allow_native_decide
            )
            if isinstance(verdict, Verified):
                return verdict
        return None

    def _recorded_compile(self, record: TheoremLine, theorem: Theorem, proof: str) -> Rejected | None:
        """A recorded compile of this proof, judged as the REPL verifier judges an answer; only a rejection is
        taken from it (with its messages and the compiled text), a proof is verified by its recorded steps."""
        from lean_env.checks.judge import judge_compile
        from lean_env.checks.static import build_check_source

        found = self.cassette.find_compile(record.name, proof)
        if found is None:
            return None
        check = build_check_source(theorem, proof)
        answer = {"messages": [dict(m) for m in found.messages], "env": 0}
        verdict = judge_compile(answer, name=check.name, span=check.span, print_line=check.print_line)
        if not isinstance(verdict, Rejected):
            return None
        tree = tuple(found.infotree or ())
        return dataclasses.replace(verdict, checker=REPLAY_CHECKER, source=found.source or check.text, infotree=tree)

    def _replay(self, record: TheoremLine, proof: str) -> Verdict:
        if record.initial_state is None:
            return Rejected(f"no recorded initial state for {record.name!r} in the cassette", checker=REPLAY_CHECKER)
        if not flatten_proof(proof):
            return Rejected("empty proof", checker=REPLAY_CHECKER)
        env = ReplayEnv(self.cassette, allow_native_decide=self.allow_native_decide)
        state = ProofState.from_pp(record.initial_state)
        outcome = replay_script(env, state, proof, lambda pp, tac: step_counts(self.cassette, record, pp, tac))
        if isinstance(outcome, str):
            return Rejected(outcome, checker=REPLAY_CHECKER)
        if outcome:
            return Rejected(f"{len(outcome)} goal(s) remain after the last step", checker=REPLAY_CHECKER)
        return Verified(checker=REPLAY_CHECKER)

    def verify_partial(self, theorem: Theorem, skeleton: str, fills: Mapping[int, str]) -> str | None:
        """Why the skeleton with only `fills` filled would not compile with just its other holes left, or None.

        The recorded compile of the skeleton met one goal per `sorry`; a filled hole whose script replays to
        the end from its goal leaves the others as they were. Never a proof: the other holes stay `sorry`."""
        return replay_fills(self.cassette, theorem, skeleton, fills, allow_native_decide=self.allow_native_decide)

    def verify_holes(self, theorem: Theorem, skeleton: str, fills: Mapping[int, str]) -> Verdict:
        """A skeleton with each `sorry` replaced by `fills[i]`: see `replay_filled_skeleton`."""
        record = self.cassette.find_theorem(theorem)
        if record is None:
            return Rejected(f"theorem {theorem.name!r} is not in the replay cassette", checker=REPLAY_CHECKER)
        mismatch = same_theorem(record, theorem)
        if mismatch is not None:
            return Rejected(mismatch, checker=REPLAY_CHECKER)
        return replay_filled_skeleton(
            self.cassette, theorem, skeleton, fills, allow_native_decide=self.allow_native_decide
        )


def _without_parentheses(statement: str) -> str:
    """The statement after its name with `(`/`)` and spaces dropped: equal for two printings of one problem that
    differ only in parenthesisation."""
    return "".join(ch for ch in _signature(statement) if ch not in "() \n\t")


_signature = statement_signature  # what a statement states, its declared name aside (cassette lookup's key)


def same_theorem(record: TheoremLine, theorem: Theorem) -> str | None:
    """Why the cassette's `record` (found by name or statement) is not `theorem`, or None when it is.

    With a recorded statement, the two must state the same (layout, modifiers and the declared name aside:
    miniF2F aliases rename). A record without a statement (a LeanDojo trace) vouches only for the traced
    declaration itself, when `theorem.dojo` names the same one: a theorem of a file may state anything under
    that name, so a name is no evidence (`prover cassette build --statements FILE` gives such records the
    statement they were traced from). A record with neither a statement nor a traced source is no evidence
    for any theorem.
    """
    if not record.statement.strip() and record.dojo is None:
        return (
            f"the cassette's record of {record.name!r} has neither a statement nor a traced source: nothing shows "
            "which theorem its steps were recorded for"
        )
    if record.dojo is not None and theorem.dojo is not None:
        recorded = (record.dojo.url, record.dojo.commit, record.dojo.file_path, record.dojo.full_name)
        wanted = (theorem.dojo.url, theorem.dojo.commit, theorem.dojo.file_path, theorem.dojo.full_name)
        if recorded != wanted:
            return (
                f"the cassette's {record.name!r} was traced at {record.dojo.url}@{record.dojo.commit[:12]}:"
                f"{record.dojo.file_path}, not at {theorem.dojo.url}@{theorem.dojo.commit[:12]}:{theorem.dojo.file_path}"
            )
        if not record.statement.strip():
            return None
    if not record.statement.strip():
        assert record.dojo is not None  # the statement-less, source-less record was refused above
        return (
            f"the cassette's record of {record.name!r} is a trace of {record.dojo.url}@{record.dojo.commit[:12]}:"
            f"{record.dojo.file_path} with no statement: it cannot show that this theorem states what was traced "
            "(build the cassette with --statements FILE naming the traced declarations' text)"
        )
    if _signature(record.statement) != _signature(theorem.statement):
        hint = ""
        if _without_parentheses(record.statement) == _without_parentheses(theorem.statement):
            # Two printings of one problem (miniF2F's statement versions differ so): parentheses matter to Lean, so
            # this stays refused, and the user is told which statement version the cassette was recorded from.
            hint = (
                " (the two differ only in parentheses: another version of the same statement; for miniF2F "
                "pass --statement deepseek, the version the demo cassettes record)"
            )
        return (
            f"the cassette's theorem {record.name!r} has another statement ({' '.join(record.statement.split())!r}); "
            f"its recorded initial state is not this theorem's goal{hint}"
        )
    if record.header.strip() and theorem.header.strip():
        recorded_context, context = _header_context(record.header), _header_context(theorem.header)
        if recorded_context != context:
            return (
                f"the cassette's theorem {record.name!r} was recorded under another header "
                f"({recorded_context!r}, here {context!r}): the same statement text may mean something else"
            )
    return None


# One theorem's header (all file text before it: the whole file for its last declaration) is compared when its
# search starts and at each verification: it is parsed once, not once per comparison. A file's theorems each have
# their own header and a run compares all of them twice (search, then verification), so the memo holds a file's
# worth: with room for only a few, every comparison of a file of more theorems than that parsed its header again.
@functools.lru_cache(maxsize=256)
def _header_context(header: str) -> str:
    """What in a header can change what a statement means, as a key: its imports as a set (`_IMPORTED_BY`), then
    its other commands without comments (`open`, `set_option`, `variable`, `notation`, `instance`, `def`, compfiles' `determine`, namespaces, ...),
    tokens joined by spaces, string literals as written. Earlier theorems are left out unless they carry
    attributes (`@[simp]`, `@[instance]` change what later elaboration does): earlier theorems are every
    `Declaration.is_target` kind (`theorem`, `lemma`, `example` and compfiles' `problem`, a synonym of `theorem`:
    `lean_env.source.document.TARGET_KEYWORDS`)."""
    from lean_env.errors import LeanParseError
    from lean_env.source.declarations import parse_lean_source

    try:
        theorems = [d for d in parse_lean_source(header, "<header>").declarations if d.is_target]
    except LeanParseError:
        theorems = []
    # The kept stretches joined once (cutting one theorem at a time out of the text copied all of it per theorem).
    pieces: list[str] = []
    kept_from = 0
    for decl in sorted(theorems, key=lambda d: d.span.start):
        if not _has_attributes(header[decl.span.start : decl.span.end]):
            pieces += [header[kept_from : decl.span.start], "\n"]
            kept_from = decl.span.end
    text = "".join([*pieces, header[kept_from:]])
    try:
        tokens = tokenize(text, keep_comments=False)
    except LexError:
        return " ".join(text.split())
    imports: set[str] = set()
    kept: list[str] = []
    for i, tok in enumerate(tokens):
        if tok.kind is TokenKind.IDENT and tok.text == "import" and i + 1 < len(tokens):
            imports.add(tokens[i + 1].text)
        elif not (i and tokens[i - 1].kind is TokenKind.IDENT and tokens[i - 1].text == "import"):
            kept.append(tok.text)
    # An import that another one already brings in adds nothing: compare the sets without them.
    implied = set().union(*(_IMPORTED_BY.get(module, frozenset()) for module in imports))
    return " ".join([*(f"import {m}" for m in sorted(imports - implied)), *kept])


# Modules a whole-library import is known to bring in: Mathlib.lean imports Mathlib.Tactic.Common, which imports
# `Aesop`, `Qq` and `ImportGraph.Imports` (leanprover-community/mathlib4 @ 000999064e8e, Mathlib/Tactic/Common.lean),
# so DeepSeek-Prover's miniF2F header (`import Mathlib` + `import Aesop`) imports what `import Mathlib` imports.
_IMPORTED_BY: dict[str, frozenset[str]] = {"Mathlib": frozenset({"Aesop", "Qq", "ImportGraph.Imports"})}


def _has_attributes(declaration: str) -> bool:
    """Whether a declaration's text carries an attribute (`@[…]` before its keyword)."""
    try:
        tokens = tokenize(declaration, keep_comments=False)
    except LexError:
        return True  # unknown: keep it in the context
    for tok in tokens:
        if tok.kind is TokenKind.IDENT and tok.text in TARGET_KEYWORDS:
            return False
        if tok.text.startswith("@"):
            return True
    return False


def _context(cassette: Cassette, name: str | None) -> str | None:
    """The header context a step was recorded in (`_header_context`), or None when unknown (no theorem, or an
    empty header)."""
    record = cassette.theorems.get(name) if name is not None else None
    if record is None or not record.header.strip():
        return None
    return _header_context(record.header)


def step_counts(cassette: Cassette, record: TheoremLine, state_pp: str, tactic: str) -> str | None:
    """Why the recorded step (state, tactic) does not show what Lean does for `record`, or None when it does.

    A step counts only under the theorem that recorded it: equal printed goals need not be equal goals (Lean
    prints `(2 : ℤ) - 3 + 3 = 2` and the false `(2 : ℕ) - 3 + 3 = 2` alike). A cassette recorded live with
    type-revealing printer options (`Cassette.shares_steps_across_theorems`) also lends it to theorems of the
    same non-empty header context.
    """
    recorders = cassette.recorders(state_pp, tactic)
    if not recorders or record.name in recorders:
        return None  # unrecorded: the replay itself answers that
    if cassette.shares_steps_across_theorems:
        wanted = _context(cassette, record.name)
        if wanted is not None and wanted in {_context(cassette, name) for name in recorders}:
            return None
    others = ", ".join(sorted("a step line without its theorem" if n is None else repr(n) for n in recorders))
    return (
        f"was recorded only under {others}, not under {record.name!r}: equal printed goals need not be equal "
        "goals, so a step counts only under the theorem that recorded it"
    )


def replay_script(
    env: ReplayEnv,
    state: ProofState,
    script: str,
    counts: Callable[[str, str], str | None] = lambda pp, tac: None,
) -> tuple[str, ...] | str:
    """Replay a tactic script from `state` as Lean runs it: the goals left (empty: proved), or why it fails.

    Steps are `flatten_proof`'s (comments and a leading `by` dropped, Lean's layout). A `·` block is run
    focused, as Lean's `cdot` does: before each of its steps its goal must still be open (else Lean's "no
    goals to be proved"), the goals after it must come out unchanged (a recording of `all_goals t` on the
    whole list is not what `all_goals t` does inside the focus), and at its end its goal must be closed.
    Any step whose result `counts` refuses (recorded in another context) fails the replay.
    """
    text = _script_text(script)
    stripped = text.lstrip()
    if stripped.startswith("by") and (len(stripped) == 2 or stripped[2].isspace()):
        text = text[: len(text) - len(stripped)] + "  " + stripped[2:]
    final = _replay_steps(env, split_steps(text), state, (), counts)
    return final if isinstance(final, str) else _goals(final.pp)


def _goals(pp: str) -> tuple[str, ...]:
    return tuple(g.strip() for g in split_goals(pp))


def _replay_steps(
    env: ReplayEnv,
    steps: list[str],
    state: ProofState,
    rest: tuple[str, ...],
    counts: Callable[[str, str], str | None],
) -> ProofState | str:
    """Run `steps` from `state`, whose last `len(rest)` goals are outside the current focus and must stay as
    they are. Returns the state after the last step, or a failure reason."""
    for step in steps:
        where = f"`{' '.join(step.split())}`"
        goals = _goals(state.pp)
        if not goals:
            return f"{where}: the proof is finished but tactics remain (Lean's error: no goals to be proved)"
        if len(goals) <= len(rest):
            return f"{where}: its `·` goal is closed but tactics remain (Lean's error: no goals to be proved)"
        bullet = _BULLET.match(step)
        if bullet is not None:
            body = split_steps(dedent_script(" " * bullet.end() + step[bullet.end() :]))
            after_bullet = _replay_bullet(env, body, state, goals, counts, where)
            if isinstance(after_bullet, str):
                return after_bullet
            state = after_bullet
            continue
        after_step = _replay_tactic(env, state, step, counts)
        if isinstance(after_step, str):
            return f"{where}: {after_step}"
        state = after_step
        after = _goals(state.pp)
        if rest and after[len(after) - len(rest) :] != rest:
            return f"{where}: changed goals outside its `·` focus (Lean runs it on the focused goal only)"
    return state


def _replay_bullet(
    env: ReplayEnv,
    body: list[str],
    state: ProofState,
    goals: tuple[str, ...],
    counts: Callable[[str, str], str | None],
    where: str,
) -> ProofState | str:
    """The state after the `·` block `where` whose steps are `body`, or why it fails."""
    focused = _replay_focused(env, body, state, goals, counts)
    if isinstance(focused, ProofState):
        return focused
    # Recordings of the whole goal list (the REPL's tactic mode): run on it, the goals after the focus must
    # come out as they were.
    inner = _replay_steps(env, body, state, goals[1:], counts)
    if isinstance(inner, str):
        return inner
    if _goals(inner.pp) != goals[1:]:
        return f"{where}: the `·` block leaves its goal unsolved (Lean's error: unsolved goals)"
    return inner


def _replay_tactic(
    env: ReplayEnv, state: ProofState, step: str, counts: Callable[[str, str], str | None]
) -> ProofState | str:
    """The state after one tactic step, or why it fails (refused by `counts`, Lean's error, a time-out)."""
    refused = counts(state.pp, step)
    if refused is not None:
        return refused
    result = env.run_tactic(state, step)
    if isinstance(result, ProofFinished):
        return ProofState.from_pp(NO_GOALS)
    if isinstance(result, StateResult):
        return result.state
    if isinstance(result, (LeanError, ProofGivenUp)):
        return result.message
    return f"timed out after {result.seconds:g}s"


# A metavariable in a printed goal (`?m.5`, `?a`, `?_`): goals that share one are not independent.
_METAVARIABLE = re.compile(r"\?[\w_]")


def _replay_focused(
    env: ReplayEnv,
    steps: list[str],
    state: ProofState,
    goals: tuple[str, ...],
    counts: Callable[[str, str], str | None],
) -> ProofState | str | None:
    """A `·` block run as Lean runs it: on the main goal alone (`cdot`: focus, run, `done`), as LeanDojo records
    the tactics inside it (their `state_before` is the focused goal). The state after it is the other goals, or
    why it fails; None when the goals mention metavariables (closing one goal may then change another, so the
    others cannot be taken as printed)."""
    if len(goals) > 1 and any(_METAVARIABLE.search(goal) for goal in goals):
        return None
    inner = _replay_steps(env, steps, ProofState.from_pp(goals[0], handle=state.handle), (), counts)
    if isinstance(inner, str):
        return inner
    if _goals(inner.pp):
        return "the `·` block leaves its goal unsolved (Lean's error: unsolved goals)"
    return ProofState.from_pp("\n\n".join(goals[1:]) or NO_GOALS, handle=state.handle)


class RecordingEnv(ClosingContext):
    """Wraps a live `Env` (Lean REPL or LeanDojo) and records what it answers into a cassette.

    Filter refusals and replay misses are not Lean's answers and are not recorded. Save the cassette
    with `recorder.cassette.save(path)`; a header describing the source is the caller's job.

    A new cassette's header says it was recorded live, with `pp_options`: the pretty-printer options the inner
    backend prints goals with (only with type-revealing ones may its steps answer for other theorems,
    `Cassette.shares_steps_across_theorems`). Recording into a given `cassette` leaves its header as it is: its
    other records need not be live.
    """

    def __init__(self, inner: Env, cassette: Cassette | None = None, *, pp_options: tuple[str, ...] = ()) -> None:
        self.inner = inner
        if cassette is None:
            cassette = new_cassette("recorded from a live Lean backend")
            update = {"recorded_live": True, "pp_options": pp_options or None}
            cassette.header = cassette.header.model_copy(update=update)
        elif pp_options:
            raise ValueError("pp_options describe a new live cassette; the given cassette's header is kept as it is")
        self.cassette = cassette
        self._current: str | None = None

    def start(self, theorem: Theorem) -> ProofState:
        state = self.inner.start(theorem)
        self._current = theorem.name
        self.cassette.add_theorem(
            TheoremLine(
                kind="theorem",
                name=theorem.name,
                statement=theorem.statement,
                header=theorem.header,
                initial_state=state.pp,
                informal_statement=theorem.informal_statement,
                informal_proof=theorem.informal_proof,
            )
        )
        return state

    def start_hole(self, target: HoleTarget) -> ProofState:
        # A cassette records a skeleton's holes together (one holes line: every goal, in order), not one at a time.
        raise TheoremStartError("a recording starts only at a theorem's statement: holes are not recorded")

    def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> TacticResult:
        result = self.inner.run_tactic(state, tactic, timeout)
        not_lean = isinstance(result, LeanError) and result.message.startswith((UNRECORDED_PREFIX, "refused by"))
        if not not_lean:
            self.cassette.add_step(
                StepLine(
                    kind="step",
                    state=state.pp,
                    tactic=tactic,
                    result=result_to_outcome(result),
                    theorem=self._current,
                )
            )
        return result

    def close(self) -> None:
        self.inner.close()


def vouching_holes(cassette: Cassette, theorem: Theorem, skeleton: str) -> HolesLine | str:
    """The cassette's record of `theorem` compiled with `skeleton`, when it may vouch for a verdict; otherwise why not.

    A record marked `constructed` was built by hand in the shape of a release transcript, never observed from
    Lean: like a constructed compile it only ever rejects, so its hole goals never make a filled skeleton (or a
    partial one) count as compiled. The search may still start from them (`ReplayEnv.start_hole`): a search's
    result is no verdict."""
    record = cassette.find_holes(theorem, skeleton)
    if record is None:
        return "the cassette has no recorded compilation of this proof skeleton"
    if record.constructed:
        shape = f" in the shape of {record.shape}" if record.shape else ""
        return (
            f"the cassette's record of this proof skeleton for {record.theorem!r} is constructed{shape}, never "
            "observed from Lean: it cannot vouch for a proof (check it with Lean or a real recording)"
        )
    return record


def replay_filled_skeleton(
    cassette: Cassette,
    theorem: Theorem,
    skeleton: str,
    fills: Mapping[int, str],
    *,
    allow_native_decide: bool = False,
) -> Verdict:
    """Check a skeleton whose every `sorry` was replaced by a script, against the recordings.

    The cassette's `holes` record says Lean compiled the declaration with this skeleton and met one
    goal per `sorry`; each script must then replay from its hole's recorded goal, step by step, to a
    finished proof, as `replay_script` replays (`·` blocks focused; steps recorded in this theorem's
    context). Every hole must be filled (a declaration that keeps a `sorry` is not proved).
    """
    record = vouching_holes(cassette, theorem, skeleton)
    if isinstance(record, str):
        return Rejected(record, checker=REPLAY_CHECKER)
    missing = sorted(set(range(len(record.goals))) - set(fills))
    if missing:
        return Rejected(f"hole {missing[0] + 1} of {len(record.goals)} is not filled", checker=REPLAY_CHECKER)
    reason = replay_fills(cassette, theorem, skeleton, fills, allow_native_decide=allow_native_decide)
    return Verified(checker=REPLAY_CHECKER) if reason is None else Rejected(reason, checker=REPLAY_CHECKER)


def replay_fills(
    cassette: Cassette,
    theorem: Theorem,
    skeleton: str,
    fills: Mapping[int, str],
    *,
    allow_native_decide: bool = False,
) -> str | None:
    """Why one of `fills` (hole index -> script) does not replay to the end from its hole's recorded goal of
    the skeleton, or None when each does. Holes not in `fills` are not looked at."""
    from lean_env.checks.static import static_check  # lazily, as ReplayVerifier.verify

    record = vouching_holes(cassette, theorem, skeleton)
    if isinstance(record, str):
        return record
    owner = cassette.find_theorem(theorem)
    if owner is None:
        return f"theorem {theorem.name!r} is not in the replay cassette"

    def counts(state_pp: str, tactic: str) -> str | None:
        return step_counts(cassette, owner, state_pp, tactic)

    env = ReplayEnv(cassette, allow_native_decide=allow_native_decide)
    for index in sorted(fills):
        if index >= len(record.goals):
            return f"hole {index + 1}: the skeleton has {len(record.goals)} holes"
        reason = static_check(theorem, fills[index], allow_native_decide=allow_native_decide)
        if reason is not None:
            return f"hole {index + 1}: {reason}"
        left = replay_script(env, ProofState.from_pp(record.goals[index]), fills[index], counts)
        if isinstance(left, str):
            return f"hole {index + 1}: {left}"
        if left:
            return f"hole {index + 1}: goals remain after the last step"
    return None
