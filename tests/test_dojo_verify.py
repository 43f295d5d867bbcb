"""`DojoVerifier` (lean_env.checks.dojo_verify) against a stand-in `lake env lean` (tests/standins/fake_lake.py).

Two behaviours of the real tools matter here:
- lean-dojo 4.20.0 compiles a traced theorem with `set_option maxHeartbeats 0 in` before it, both in the
  interactive `Dojo` (`Dojo._get_modified_proof`) and in `check_proof` (src/lean_dojo/interaction/dojo.py), so a
  proof its search found under no heartbeat limit must be verified under none, or it fails by a deterministic
  timeout;
- `lake env lean` runs `lean` as lake's child (Lake `env`: spawn, then wait): a timeout must kill both.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from lean_env.checks.dojo_verify import DojoVerifier
from lean_env.checks.verdict import Rejected, Verified
from lean_env.types import DojoSource, Theorem
from tests.process_checks import gone, pid_from

STANDINS = Path(__file__).parent / "standins"
SOURCE = DojoSource("https://example.org/repo", "0" * 40, "Repo/Basic.lean", "Repo.heavy")
TRACED = "namespace Repo\n\ntheorem heavy (n : Nat) : n + 0 = n := by\n  simp\n\nend Repo\n"


@pytest.fixture
def traced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "traced"
    (root / "Repo").mkdir(parents=True)
    (root / SOURCE.file_path).write_text(TRACED, encoding="utf-8")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    lake = bindir / "lake"
    lake.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STANDINS / "fake_lake.py"}" "$@"\n', encoding="utf-8")
    lake.chmod(lake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}:{Path(sys.executable).parent}:/usr/bin:/bin")
    return root


def theorem() -> Theorem:
    return Theorem(name="Repo.heavy", statement="", dojo=SOURCE)


def test_a_proof_is_compiled_without_a_heartbeat_limit_as_lean_dojo_does(traced: Path) -> None:
    verifier = DojoVerifier(timeout_s=60, traced_root=lambda source: traced)
    verdict = verifier.verify(theorem(), "standin_heavy")
    assert isinstance(verdict, Verified), verdict
    assert isinstance(verifier.verify(theorem(), "simp"), Verified)


def test_the_heartbeat_option_does_not_let_a_bad_proof_through(traced: Path) -> None:
    verifier = DojoVerifier(timeout_s=60, traced_root=lambda source: traced)
    assert isinstance(verifier.verify(theorem(), "sorry"), Rejected)


def test_a_timeout_kills_lean_not_just_lake(traced: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pidfile = tmp_path / "lean.pid"
    monkeypatch.setenv("FAKE_LEAN_SECONDS", "60")
    monkeypatch.setenv("FAKE_LEAN_PIDFILE", str(pidfile))
    verdict = DojoVerifier(timeout_s=1, traced_root=lambda source: traced).verify(theorem(), "simp")
    assert isinstance(verdict, Rejected) and "ran past 1 s" in verdict.reason
    assert gone(pid_from(pidfile)), "the `lean` that `lake env` started outlived the timeout"
