"""`prover suggest -i` follows what `prove` fills: after a step that leaves several goals, each goal is worked on
focused, as a `· sorry` hole of the same skeleton is filled, under the step rule (a step counts only under the
theorem that recorded it).

The README's skeleton cassette is LeanDojo's recording of Mathlib's `CancelDenoms.cancel_factors_le`: `rw [...]`
on the theorem's goal leaves two goals, and LeanDojo traced each `exact` inside its `·` block with the focused goal
as `state_before` (lean4 `cdot`, src/Lean/Elab/Tactic/BuiltinTactic.lean: focus the main goal, run the block,
`done`). So `· exact mul_pos had hbd` on the two goals is what Lean recorded; `exact mul_pos had hbd` typed on the
two-goal state runs on the main goal in Lean and is replayed as that focused block.
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from lean_env.backends.replay import ReplayEnv, ReplayVerifier
from lean_env.cassette.store import Cassette
from lean_env.checks.verdict import Rejected, Verified
from lean_env.source.declarations import parse_lean_source
from lean_env.types import ProofFinished, StateResult, Theorem, split_goals
from tests.cli_support import EXAMPLES

RW = "rw [mul_le_mul_left, ← ha, ← hb, ← mul_assoc, ← mul_assoc, mul_comm bd, mul_le_mul_left]"
FIRST, SECOND = "exact mul_pos had hbd", "exact one_div_pos.2 hgcd"


@pytest.fixture(scope="module")
def cassette() -> Cassette:
    return Cassette.load(EXAMPLES / "skeleton.cassette.jsonl")


@pytest.fixture(scope="module")
def theorem() -> Theorem:
    [decl] = parse_lean_source((EXAMPLES / "skeleton.lean").read_text(encoding="utf-8"), "skeleton.lean").theorems
    return decl.to_theorem()


def test_the_recorded_proof_with_bullets_replays(cassette: Cassette, theorem: Theorem) -> None:
    verifier = ReplayVerifier(cassette)
    for proof in (f"{RW}\n· {FIRST}\n· {SECOND}", f"{RW}\n· {FIRST}\n{SECOND}"):
        assert isinstance(verifier.verify(theorem, proof), Verified), proof
    # Swapped: each block sees only its own goal, and `exact mul_pos had hbd` was not recorded for `0 < 1 / gcd`.
    assert isinstance(verifier.verify(theorem, f"{RW}\n· {SECOND}\n· {FIRST}"), Rejected)
    # A block must close its goal, and its tactics see no other goal.
    assert isinstance(verifier.verify(theorem, f"{RW}\n· {FIRST}\n  {SECOND}"), Rejected)


def test_a_bullet_runs_focused_in_the_replay_env(cassette: Cassette, theorem: Theorem) -> None:
    env = ReplayEnv(cassette)
    after = env.run_tactic(env.start(theorem), RW)
    assert isinstance(after, StateResult) and len(split_goals(after.state.pp)) == 2
    one = env.run_tactic(after.state, f"· {FIRST}")
    assert isinstance(one, StateResult) and split_goals(one.state.pp) == split_goals(after.state.pp)[1:]
    assert isinstance(env.run_tactic(one.state, SECOND), ProofFinished)
    assert not isinstance(env.run_tactic(after.state, f"· {SECOND}"), StateResult)


def test_another_theorems_focused_recording_does_not_count(cassette: Cassette, theorem: Theorem) -> None:
    """The step rule holds inside a focus too: the same states under another theorem's name answer nothing."""
    from lean_env.cassette.format import TheoremLine

    record = cassette.theorems[theorem.name]
    other = Cassette.loads(cassette.dumps())
    other.theorems["copy"] = TheoremLine(
        kind="theorem", name="copy", statement="theorem copy : X", initial_state=record.initial_state
    )
    env = ReplayEnv(other)
    after = env.run_tactic(env.start(Theorem("copy", "theorem copy : X")), RW)
    assert not isinstance(after, StateResult)


def _session_inputs(lines: list[str]) -> object:
    answers = iter(lines)
    return lambda prompt: next(answers)


def test_suggest_interactive_follows_the_recorded_proof_past_the_multi_goal_step(
    cassette: Cassette, theorem: Theorem
) -> None:
    from prover.generators import FixedTacticGenerator
    from prover.suggest import ProofSession, run_interactive
    from search.types import SearchConfig

    env = ReplayEnv(cassette)
    session = ProofSession(env, theorem, FixedTacticGenerator({FIRST: -1.0, SECOND: -2.0}))
    outcome = run_interactive(
        session,
        Console(file=io.StringIO(), width=100),
        search_config=SearchConfig(),
        input_fn=_session_inputs([RW, FIRST, SECOND]),  # type: ignore[arg-type]
    )
    assert outcome.finished, session.tactics
    assert session.tactics == (RW, f"· {FIRST}", SECOND)
    assert isinstance(ReplayVerifier(cassette).verify(theorem, session.proof), Verified), session.proof


def test_suggestions_on_a_multi_goal_state_are_checked_focused(cassette: Cassette, theorem: Theorem) -> None:
    from lean_env.types import ResultKind
    from prover.generators import FixedTacticGenerator
    from prover.suggest import ProofSession

    session = ProofSession(ReplayEnv(cassette), theorem, FixedTacticGenerator({FIRST: -1.0, SECOND: -2.0}))
    session.apply(RW)
    marks = {s.tactic: s.check.outcome for s in session.suggest() if s.check is not None}
    assert marks[FIRST] is ResultKind.STATE and marks[SECOND] is ResultKind.ERROR
