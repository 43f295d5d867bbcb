"""Every `Env` has `start_hole`: a backend starts at the hole, a wrapper that starts only at statements refuses
with `TheoremStartError` (one line), and the search's view of one hole passes any hole through to its backend."""

from __future__ import annotations

import pytest

from lean_env.backends.replay import RecordingEnv
from lean_env.errors import TheoremStartError
from lean_env.types import Env, HoleTarget, ProofState, Theorem
from prover.engine.strategies import _AtHole
from prover.suggest import _ResumeEnv
from search.testing import DictEnv

THEOREM = Theorem(name="t", statement="theorem t : True ∧ True")
HOLE = HoleTarget(THEOREM, "by\n  constructor\n  · sorry\n  · sorry", (21, 31), 1)


class HoleReachingEnv(DictEnv):
    """A backend that reaches holes: its goal per hole index, as Lean's `sorries` list them."""

    def start_hole(self, target: HoleTarget) -> ProofState:
        return ProofState.from_pp(f"⊢ True -- hole {target.index}", handle=target.index)


@pytest.mark.parametrize(
    "wrapper",
    [
        RecordingEnv(DictEnv("⊢ True", {})),
        _ResumeEnv(DictEnv("⊢ True", {}), ProofState.from_pp("⊢ True")),
        DictEnv("⊢ True", {}),
    ],
)
def test_an_env_that_starts_only_at_statements_refuses_a_hole(wrapper: Env) -> None:
    assert isinstance(wrapper, Env)
    with pytest.raises(TheoremStartError) as info:
        wrapper.start_hole(HOLE)
    assert "\n" not in str(info.value)


def test_the_view_of_one_hole_starts_there_and_passes_holes_through() -> None:
    at = _AtHole(HoleReachingEnv("⊢ True ∧ True", {}), HOLE)
    assert isinstance(at, Env)
    assert at.start(THEOREM).handle == 1
    assert at.start_hole(HoleTarget(THEOREM, HOLE.skeleton, HOLE.hole_offsets, 0)).handle == 0
