"""The `prover` command line as tests drive it (in-process, through typer's runner), and the demo files that
the README's commands use."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from typing import Any

import typer
from typer.testing import CliRunner, Result

from prover.paths import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples"
DEMO = EXAMPLES / "demo.lean"
DEMO_CASSETTE = EXAMPLES / "demo.cassette.jsonl"


def run_app(app: typer.Typer, args: Sequence[str], **kwargs: Any) -> Result:
    """`app ARGS` in-process; `kwargs` go to `CliRunner.invoke` (env, input, ...)."""
    return CliRunner().invoke(app, list(args), **kwargs)


def run_cli(args: Sequence[str], **kwargs: Any) -> Result:
    """`prover ARGS` in-process, as a user's shell would run it."""
    from prover.cli import app

    return run_app(app, args, **kwargs)


def wait_until_served(proc: subprocess.Popen[str], url: str, timeout_s: float) -> None:
    """Poll `url`/health until the `prover serve` process `proc` answers 200; fail if it exits or `timeout_s` passes."""
    import time

    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        assert proc.poll() is None, proc.communicate()
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server did not come up"
        time.sleep(0.1)
