"""The replay backend: an Env and a ProofVerifier over a cassette of recorded real-Lean results.

Replay is for tests, benchmarks and the offline demo. It never invents a result: a tactic that was
not recorded in that exact state comes back as a `LeanError` whose message starts with "unrecorded",
and a verdict from here says checker="replay" so nobody mistakes it for Lean.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from lean_env.cassette import (
    Cassette,
    StepLine,
    TheoremLine,
    new_cassette,
    outcome_to_result,
    result_to_outcome,
    strip_comments,
)
from lean_env.edits import split_steps
from lean_env.errors import TheoremStartError
from lean_env.types import (
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
)
from lean_env.verdict import Rejected, Verdict, Verified

REPLAY_CHECKER = "replay"
UNRECORDED_PREFIX = "unrecorded"


def _refusal(tactic: str, allow_native_decide: bool) -> str | None:
    # Imported lazily: the filter lives in its own module and replay must refuse exactly what Lean backends refuse.
    from lean_env.tactic_filter import check_tactic

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
        return ProofState.from_pp(record.initial_state, handle=f"replay:{record.name}")

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
        return ProofState.from_pp(record.goals[target.index], handle=f"replay:{record.theorem}#{target.index}")

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
        if step is None:
            return LeanError(
                f"{UNRECORDED_PREFIX}: replay cassette {Path(self.cassette.path).name} has no recorded result "
                f"for `{' '.join(tactic.split())}` in this state (this is a replay, not Lean)"
            )
        result = outcome_to_result(step.result)
        if isinstance(result, TacticTimeout) and timeout is not None:
            return TacticTimeout(timeout)
        return result

    def close(self) -> None:
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("ReplayEnv is closed")


# --------------------------------------------------------------------------- flattening proof scripts

_BULLET = re.compile(r"^[·.][ \t]+")


def flatten_proof(proof: str) -> list[str]:
    """The tactic steps of a proof script, in order.

    Comments are dropped, and a leading `by` too. The script is split into its top-level steps by
    `lean_env.edits.split_steps` (Lean's layout: a step starts in the block's column; deeper lines
    continue it), with the script's indentation read as written, first line included, so
    `"  intro h\n  exact h"` is two steps. A `·` focusing bullet is dropped and its block flattened into
    its own steps.
    """
    text = strip_comments(proof).strip("\n").rstrip()
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
    in a real run.
    """

    def __init__(self, cassette: Cassette | str | Path, *, allow_native_decide: bool = False) -> None:
        self.cassette = cassette if isinstance(cassette, Cassette) else Cassette.load(cassette)
        self.allow_native_decide = allow_native_decide

    def verify(self, theorem: Theorem, proof: str) -> Verdict:
        from lean_env.verify import static_check  # lazily: the static checks live with the Lean verifier

        reason = static_check(theorem, proof, allow_native_decide=self.allow_native_decide)
        if reason is not None:
            return Rejected(reason, checker=REPLAY_CHECKER)
        record = self.cassette.find_theorem(theorem)
        if record is None:
            return Rejected(f"theorem {theorem.name!r} is not in the replay cassette", checker=REPLAY_CHECKER)
        return self._replay(record, proof)

    def _replay(self, record: TheoremLine, proof: str) -> Verdict:
        if record.initial_state is None:
            return Rejected(f"no recorded initial state for {record.name!r} in the cassette", checker=REPLAY_CHECKER)
        tactics = flatten_proof(proof)
        if not tactics:
            return Rejected("empty proof", checker=REPLAY_CHECKER)
        env = ReplayEnv(self.cassette, allow_native_decide=self.allow_native_decide)
        state = ProofState.from_pp(record.initial_state)
        for i, tactic in enumerate(tactics, start=1):
            result = env.run_tactic(state, tactic)
            where = f"step {i}/{len(tactics)} `{' '.join(tactic.split())}`"
            if isinstance(result, ProofFinished):
                if i != len(tactics):
                    return Rejected(f"{where} finished the proof but tactics remain", checker=REPLAY_CHECKER)
                return Verified(checker=REPLAY_CHECKER)
            if isinstance(result, StateResult):
                state = result.state
            elif isinstance(result, (LeanError, ProofGivenUp)):
                return Rejected(f"{where}: {result.message}", checker=REPLAY_CHECKER)
            else:
                return Rejected(f"{where}: timed out after {result.seconds:g}s", checker=REPLAY_CHECKER)
        return Rejected(f"{state.num_goals} goal(s) remain after the last step", checker=REPLAY_CHECKER)

    def verify_holes(self, theorem: Theorem, skeleton: str, fills: dict[int, str]) -> Verdict:
        """A skeleton with each `sorry` replaced by `fills[i]`: see `replay_filled_skeleton`."""
        return replay_filled_skeleton(
            self.cassette, theorem, skeleton, fills, allow_native_decide=self.allow_native_decide
        )


class RecordingEnv(ClosingContext):
    """Wraps a live `Env` (Lean REPL or LeanDojo) and records what it answers into a cassette.

    Filter refusals and replay misses are not Lean's answers and are not recorded. Save the cassette
    with `recorder.cassette.save(path)`; a header describing the source is the caller's job.
    """

    def __init__(self, inner: Env, cassette: Cassette | None = None) -> None:
        self.inner = inner
        self.cassette = cassette if cassette is not None else new_cassette("recorded from a live Lean backend")
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


def replay_filled_skeleton(
    cassette: Cassette,
    theorem: Theorem,
    skeleton: str,
    fills: dict[int, str],
    *,
    allow_native_decide: bool = False,
    split: Callable[[str], list[str]] = flatten_proof,
) -> Verdict:
    """Check a skeleton whose every `sorry` was replaced by a script, against the recordings.

    The cassette's `holes` record says Lean compiled the declaration with this skeleton and met one
    goal per `sorry`; each script must then replay from its hole's recorded goal, step by step, to a
    finished proof. Every hole must be filled (a declaration that keeps a `sorry` is not proved).
    """
    from lean_env.verify import static_check  # lazily, as ReplayVerifier.verify

    record = cassette.find_holes(theorem, skeleton)
    if record is None:
        return Rejected("the cassette has no recorded compilation of this proof skeleton", checker=REPLAY_CHECKER)
    missing = sorted(set(range(len(record.goals))) - set(fills))
    if missing:
        return Rejected(f"hole {missing[0] + 1} of {len(record.goals)} is not filled", checker=REPLAY_CHECKER)
    env = ReplayEnv(cassette, allow_native_decide=allow_native_decide)
    for index in sorted(fills):
        if index >= len(record.goals):
            return Rejected(f"hole {index + 1}: the skeleton has {len(record.goals)} holes", checker=REPLAY_CHECKER)
        reason = static_check(theorem, fills[index], allow_native_decide=allow_native_decide)
        if reason is not None:
            return Rejected(f"hole {index + 1}: {reason}", checker=REPLAY_CHECKER)
        tactics = split(fills[index])
        state = ProofState.from_pp(record.goals[index])
        verdict: Verdict | None = None
        for i, tactic in enumerate(tactics, start=1):
            result = env.run_tactic(state, tactic)
            where = f"hole {index + 1} step {i}/{len(tactics)} `{' '.join(tactic.split())}`"
            if isinstance(result, ProofFinished):
                ok = i == len(tactics)
                verdict = None if ok else Rejected(f"{where} finished the goal but tactics remain", REPLAY_CHECKER)
                state = ProofState.from_pp("no goals")
                break
            if isinstance(result, StateResult):
                state = result.state
                continue
            message = result.message if isinstance(result, LeanError | ProofGivenUp) else "timed out"
            verdict = Rejected(f"{where}: {message}", checker=REPLAY_CHECKER)
            break
        if verdict is not None:
            return verdict
        if state.pp != "no goals":
            return Rejected(f"hole {index + 1}: goals remain after the last step", checker=REPLAY_CHECKER)
    return Verified(checker=REPLAY_CHECKER)
