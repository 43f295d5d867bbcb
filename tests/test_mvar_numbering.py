"""States compared modulo metavariable numbering, in both backends that replay paths.

Lean numbers metavariables from a process-wide counter (`?m.N`, `?u.N`: see `lean_env.types.normalize_mvars`
for the pretty-printer sources), so a restarted process that replays a proof path prints the same goals
with other numbers. The Dojo backend's replay is tested in tests/test_dojo.py
(`test_replay_after_restart_matches_modulo_metavariable_numbers`); the REPL backend's here.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import pytest

from lean_env.backends.repl import ReplEnv, ReplSettings
from lean_env.types import ProofFinished, StateResult, TacticTimeout, Theorem, normalize_mvars, same_state_modulo_mvars

STANDIN = Path(__file__).parent / "standins" / "replay_repl.py"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        # A real LeanDojo state (shared proofsteps sample) against the same goal from a later process.
        ("E : B → Type ?u.410614\n⊢ P", "E : B → Type ?u.7\n⊢ P", True),
        ("⊢ f ?m.52 = ?m.61", "⊢ f ?m.1052 = ?m.1061", True),
        ("⊢ f ?m.52 = ?m.52", "⊢ f ?m.1 = ?m.2", False),  # a renaming must be one-to-one
        ("⊢ f ?m.52 = ?m.61", "⊢ f ?m.61 = ?m.52", True),  # ... and is free per state
        (
            "α : Sort ?u.3\nx : ?_mvar.9\n⊢ _fvar.120 = _uniq.77",
            "α : Sort ?u.5\nx : ?_mvar.2\n⊢ _fvar.1 = _uniq.8",
            True,
        ),
        ("⊢ ?m.5 = ?u.5", "⊢ ?m.5 = ?m.5", False),  # the kinds are told apart
        ("h.1 : x.2 = 3\n⊢ ?m.5", "h.9 : x.2 = 3\n⊢ ?m.6", False),  # other numbers are the goal's own
        ("x✝¹ : ℕ\n⊢ Foo?m.5", "x✝¹ : ℕ\n⊢ Foo?m.6", False),  # not a metavariable: part of a name
    ],
)
def test_states_compare_modulo_metavariable_numbering(a: str, b: str, same: bool) -> None:
    assert same_state_modulo_mvars(a, b) is same
    assert (normalize_mvars(a) == normalize_mvars(b)) is same


def test_normalize_mvars_renumbers_in_order_of_appearance() -> None:
    assert normalize_mvars("⊢ ?m.52 = ?m.61 ∧ ?m.52 : Sort ?u.410614") == "⊢ ?m.1 = ?m.2 ∧ ?m.1 : Sort ?u.1"


def _recording(tmp: Path, shared: Path, name: str, shift: int) -> Path:
    """readme's recorded answers with metavariables in the goals, numbered as a process would number them."""
    text = (shared / "lean_fixtures" / "repl" / "readme.expected.out").read_text(encoding="utf-8")
    text = text.replace('"x : Unit\\n⊢ Nat"', f'"x : Sort ?u.{3 + shift}\\n⊢ Nat"')
    text = text.replace('"x : Unit\\n⊢ Int"', f'"x : Sort ?u.{3 + shift}\\n⊢ @id Int ?m.{40 + shift}"')
    out = tmp / name
    out.write_text(text, encoding="utf-8")
    return out


def test_repl_replay_after_restart_matches_modulo_metavariable_numbers(shared: Path, tmp_path: Path) -> None:
    recorded = shared / "lean_fixtures" / "repl" / "readme.in"
    first, later = _recording(tmp_path, shared, "a.out", 0), _recording(tmp_path, shared, "b.out", 1000)
    marker = tmp_path / "fired"
    py, standin = shlex.quote(sys.executable), shlex.quote(str(STANDIN))
    # The first process hangs on the third request; every later one numbers metavariables from 1000 on.
    script = (
        f"if [ -e {marker} ]; then exec {py} {standin} {recorded} {later}; "
        f"else exec {py} {standin} {recorded} {first} --fault hang --at 3 --once {marker}; fi"
    )
    with ReplEnv(ReplSettings(command=("/bin/sh", "-c", script))) as env:
        root = env.start(Theorem("f", "def f (x : Unit) : Nat"))
        mid = env.run_tactic(root, "apply Int.natAbs")
        assert isinstance(mid, StateResult) and "?m.40" in mid.state.pp
        t0 = time.monotonic()
        assert isinstance(env.run_tactic(mid.state, "exact -37", timeout=0.5), TacticTimeout)
        assert time.monotonic() - t0 < 5 and env.restarts == 1
        # The new process replays the start and `apply Int.natAbs`, answering `?u.1003`, `?m.1040`.
        done = env.run_tactic(mid.state, "exact -37")
        assert isinstance(done, ProofFinished), done
        assert env.restarts == 1
