"""LeanDojo's own Lean process dies with the driver, even one killed by SIGKILL.

lean-dojo 4.20.0 starts `lake env lean ... FILE` itself, under a pty (`Dojo.__enter__`, src/lean_dojo/interaction/
dojo.py: `pexpect.spawn(cmd, timeout=..., maxread=1, encoding="utf-8", echo=False)`), so this project cannot put it
in a guarded process group. The pty does the job: pexpect's child leads a new session whose controlling terminal
is the pty, `lean` (lake's child, tests/standins/fake_lake.py) is in its foreground process group, and when the
driver dies the pty's master is closed, which hangs the terminal up: the kernel sends SIGHUP to that group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.process_checks import gone, pid_from

_DRIVER = """
import sys, time
import pexpect
proc = pexpect.spawn(
    f"{sys.executable} {sys.argv[1]} env lean --threads=1 Check.lean", timeout=5, maxread=1, encoding="utf-8",
    echo=False,
)
print("started", flush=True)
time.sleep(120)
"""


def test_the_lean_that_lean_dojo_starts_dies_with_a_driver_killed_by_sigkill(tmp_path: Path) -> None:
    pytest.importorskip("pexpect")
    pidfile = tmp_path / "lean.pid"
    env = {**os.environ, "FAKE_LEAN_SECONDS": "120", "FAKE_LEAN_PIDFILE": str(pidfile)}
    fake_lake = Path(__file__).parent / "standins" / "fake_lake.py"
    driver = subprocess.Popen(
        [sys.executable, "-c", _DRIVER, str(fake_lake)], cwd=tmp_path, env=env, stdout=subprocess.PIPE
    )
    try:
        assert driver.stdout is not None and driver.stdout.readline().strip() == b"started"
        lean = pid_from(pidfile)
        assert not gone(lean, within_s=0.5)
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=10)
        assert gone(lean, within_s=2.0), "the Lean process LeanDojo started outlived its driver"
    finally:
        driver.kill()
