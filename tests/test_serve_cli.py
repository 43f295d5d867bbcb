"""`prover serve` as a real process: start, answer over HTTP, shut down cleanly on SIGINT; bad flags exit 2."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cli_support import wait_until_served
from suggest_fixtures import write_fixed_config

from tests.cli_support import run_cli


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_process_answers_and_shuts_down_on_sigint(repo_root: Path, tmp_path: Path) -> None:
    config = write_fixed_config(tmp_path / "fixed.toml", {"norm_num": -0.2, "nlinarith": -0.7, "linarith": -0.9})
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(repo_root), NO_COLOR="1", COLUMNS="200")
    proc = subprocess.Popen(
        [sys.executable, "-m", "prover.cli", "serve", "--port", str(port), "-c", str(config), "-k", "2"],
        cwd=repo_root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_served(proc, url, 60)
        resp = httpx.post(f"{url}/generate", json={"name": "any", "input": "x : ℝ\n⊢ x = x", "prefix": "n"}, timeout=10)
        assert resp.json() == {
            "outputs": [{"output": "norm_num", "score": -0.2}, {"output": "nlinarith", "score": -0.7}]
        }
        assert httpx.get(f"{url}/health", timeout=5).json()["model"] == "fixed"
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"serving on http://127.0.0.1:{port}" in err
    assert "warning" not in err.lower()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health", timeout=2)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--port", "0"], "--port"),
        (["--port", "70000"], "--port"),
        (["-k", "0"], "--num-tactics"),
        (["--max-batch", "0"], "--max-batch"),
        (["-c", "/nonexistent/config.toml"], "config file not found"),
        (["--host", "no-such-host.invalid"], "cannot bind"),
    ],
)
def test_bad_flags_exit_2_with_one_line(args: list[str], fragment: str) -> None:
    result = run_cli(["serve", "-g", "fixed", *args])
    assert result.exit_code == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0], result.stderr


def test_port_in_use_is_a_one_line_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(["serve", "-g", "fixed", "--port", str(port)])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"cannot bind 127.0.0.1:{port}" in lines[0], result.stderr


def test_non_loopback_host_warns(tmp_path: Path) -> None:
    # A fixed prior above 0 is not a log-probability: the generator fails after the bind and the warning.
    config = tmp_path / "bad_prior.toml"
    config.write_text('[generator]\nkind = "fixed"\n[generator.fixed_tactics]\nsimp = 0.5\n', encoding="utf-8")
    result = run_cli(["serve", "--host", "0.0.0.0", "--port", str(free_port()), "-c", str(config)])
    assert result.exit_code == 2
    assert "warning: binding 0.0.0.0" in result.stderr and "no authentication" in result.stderr
    assert "cannot build the fixed generator" in result.stderr
