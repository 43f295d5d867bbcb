"""The command-line tools set-up and doctor run (`git`, `lake`, `lean`, `elan`): found on the PATH they are
given, and run to completion with their output captured."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from lean_env.backends import processes


def which(program: str, env: Mapping[str, str] | None) -> str | None:
    path = (env if env is not None else os.environ).get("PATH", os.defpath)
    return shutil.which(program, path=path)


def capture(
    argv: list[str],
    timeout_s: float,
    env: Mapping[str, str] | None,
    cwd: Path | None = None,
    stdin_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a probe to completion, its output captured as text. Its stdin is `stdin_text`, or nothing (never the
    terminal, which a probe waiting for input would hang on). Raises OSError / subprocess.TimeoutExpired."""
    # `lake env <repl>` runs the REPL as lake's child: a timeout must kill the group, not just `lake`.
    return processes.run(argv, timeout_s=timeout_s, cwd=cwd, env=env, input_text=stdin_text)
