"""The same checks against a real `lake env repl` (PROVER_LEAN_PROJECT set and `lake` on PATH).

Skipped cleanly everywhere else (see tests/conftest.py). These need only Lean core; the Mathlib test
also needs Mathlib built in the project.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lean_env.backends.repl import REFUSED_PREFIX, ReplEnv, ReplPool, ReplSettings
from lean_env.checks.verdict import Rejected, Verified
from lean_env.checks.verifier import ReplVerifier
from lean_env.types import LeanError, ProofFinished, StateResult, TacticTimeout, Theorem
from tests.conftest import live_lean_project

pytestmark = [pytest.mark.lean, pytest.mark.slow]


@pytest.fixture(scope="module")
def settings() -> ReplSettings:
    project = live_lean_project()
    assert project is not None
    return ReplSettings(project=project, tactic_timeout_s=30.0, command_timeout_s=300.0)


@pytest.fixture(scope="module")
def env(settings: ReplSettings) -> Iterator[ReplEnv]:
    with ReplEnv(settings) as e:
        yield e


ADD_ZERO = Theorem("t_add_zero", "theorem t_add_zero (n : Nat) : n + 0 = n")


def test_live_tactics(env: ReplEnv) -> None:
    root = env.start(ADD_ZERO)
    assert root.pp.endswith("⊢ n + 0 = n")
    assert isinstance(env.run_tactic(root, "simp"), ProofFinished)
    bad = env.run_tactic(root, "exact no_such_lemma_xyz")
    assert isinstance(bad, LeanError) and "no_such_lemma_xyz" in bad.message
    refused = env.run_tactic(root, "sorry")
    assert isinstance(refused, LeanError) and refused.message.startswith(REFUSED_PREFIX)


def test_live_multiple_goals(env: ReplEnv) -> None:
    root = env.start(Theorem("t_and", "theorem t_and (p q : Prop) (hp : p) (hq : q) : p ∧ q"))
    split = env.run_tactic(root, "constructor")
    assert isinstance(split, StateResult) and split.state.num_goals == 2
    left = env.run_tactic(split.state, "exact hp")
    assert isinstance(left, StateResult) and left.state.num_goals == 1
    assert isinstance(env.run_tactic(left.state, "exact hq"), ProofFinished)


def test_live_restart_rebuilds_states(env: ReplEnv) -> None:
    root = env.start(Theorem("t_and2", "theorem t_and2 (p q : Prop) (hp : p) (hq : q) : p ∧ q"))
    split = env.run_tactic(root, "constructor")
    assert isinstance(split, StateResult)
    pid = env.process_id
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    time.sleep(0.5)
    before = env.restarts
    assert isinstance(env.run_tactic(split.state, "exact hp"), StateResult)
    assert env.restarts == before + 1


def test_live_runaway_tactic_is_stopped_and_env_recovers(env: ReplEnv) -> None:
    root = env.start(ADD_ZERO)
    result = env.run_tactic(root, "repeat (first | skip)", timeout=5.0)
    assert isinstance(result, TacticTimeout | LeanError)
    assert isinstance(env.run_tactic(root, "simp"), ProofFinished)


def test_live_pool(settings: ReplSettings) -> None:
    with ReplPool(settings, size=2) as pool:
        states = [pool.start(ADD_ZERO) for _ in range(2)]
        assert all(isinstance(pool.run_tactic(s, "simp"), ProofFinished) for s in states)


def test_live_verifier(settings: ReplSettings) -> None:
    with ReplVerifier(settings) as verifier:
        ok = verifier.verify(ADD_ZERO, "simp")
        assert isinstance(ok, Verified) and set(ok.axioms) <= {"propext", "Classical.choice", "Quot.sound"}
        assert isinstance(verifier.verify(ADD_ZERO, "sorry"), Rejected)
        assert isinstance(verifier.verify(Theorem("t_false", "theorem t_false : 1 = 2"), "rfl"), Rejected)
        cheat = Theorem("t_cheat", "theorem t_cheat : 1 = 2", header="axiom cheat : False")
        rejected = verifier.verify(cheat, "exact cheat.elim")
        assert isinstance(rejected, Rejected) and "cheat" in rejected.reason
        native = verifier.verify(Theorem("t_native", "theorem t_native : 2 + 2 = 4"), "native_decide")
        assert isinstance(native, Rejected)


def test_live_verify_file(settings: ReplSettings) -> None:
    original = "theorem a (n : Nat) : n + 0 = n := by\n  sorry\n\ntheorem b : 1 = 2 := by\n  sorry\n"
    new = original.replace("by\n  sorry", "by\n  simp", 1).replace("1 = 2 := by\n  sorry", "1 = 2 := by\n  rfl")
    with ReplVerifier(settings) as verifier:
        verdicts = verifier.verify_file(original, new, ["a", "b"])
    assert isinstance(verdicts["a"], Verified)
    assert isinstance(verdicts["b"], Rejected)


def test_live_mathlib(settings: ReplSettings) -> None:
    if not (Path(settings.project) / ".lake" / "packages" / "mathlib").is_dir():
        pytest.skip("Mathlib is not in the configured project")
    theorem = Theorem(
        "mathd_numbertheory_188",
        "theorem mathd_numbertheory_188 : Nat.gcd 180 168 = 12",
        header="import Mathlib\nopen BigOperators Real Nat Topology",
    )
    with ReplEnv(settings) as env:
        assert isinstance(env.run_tactic(env.start(theorem), "norm_num"), ProofFinished)
    with ReplVerifier(settings) as verifier:
        assert isinstance(verifier.verify(theorem, "norm_num"), Verified)
