"""The dojo backend starts at a hole by replaying the skeleton's steps before it (real lean_dojo, stand-in
`lake` replaying recorded LeanDojo states: the fixtures of tests/test_dojo.py)."""

from __future__ import annotations

from typing import Any

import pytest

from lean_env.backends.dojo import DojoEnv
from lean_env.errors import TheoremStartError
from lean_env.types import Env, HoleTarget, ProofFinished, Theorem
from tests.test_dojo import recorded, standin  # noqa: F401  (pytest fixtures)


def _hole(info: dict[str, Any], prefix: list[str] | None) -> HoleTarget:
    theorem = Theorem(name=info["name"], statement="", dojo=info["source"])
    steps = prefix or []
    skeleton = "by\n" + "".join(f"  {t}\n" for t in steps) + "  sorry"
    return HoleTarget(theorem, skeleton, (skeleton.rindex("sorry"),), 0, tuple(prefix) if prefix is not None else None)


def test_dojo_replays_the_steps_before_a_top_level_hole(standin: dict[str, Any]) -> None:  # noqa: F811
    rows = standin["rows"]
    with DojoEnv(timeout=20) as env:
        assert isinstance(env, Env)
        state = env.start_hole(_hole(standin, [rows[0]["tactic"]]))
        assert state.pp == rows[1]["state_before"]
        last = state
        for row in rows[1:-1]:
            result = env.run_tactic(last, row["tactic"])
            last = result.state  # type: ignore[union-attr]
        assert isinstance(env.run_tactic(last, rows[-1]["tactic"]), ProofFinished)


def test_dojo_refuses_holes_it_cannot_reach(standin: dict[str, Any]) -> None:  # noqa: F811
    with DojoEnv(timeout=20) as env, pytest.raises(TheoremStartError, match="top-level tactic step"):
        env.start_hole(_hole(standin, None))
