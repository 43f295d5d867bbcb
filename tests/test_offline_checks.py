"""Without network, every command that loads a model fails at once with one line that says what to do.

The hub is made unreachable by pointing HF_ENDPOINT at the discard port of 127.0.0.1 (nothing listens) with
an empty Hugging Face cache: what a machine without network sees for a model it has not downloaded.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from timeouts import SUBPROCESS_TIMEOUT_S

from prover.offline import model_unreachable
from tests.cli_support import run_cli

MODEL = "EleutherAI/llemma_7b"


@pytest.fixture
def no_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    for proxy in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)


def _one_error_line(result: object) -> str:
    stderr = getattr(result, "stderr", "")
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), stderr
    return lines[0]


@pytest.mark.usefixtures("no_network")
def test_the_download_hint_names_a_command_that_exists() -> None:
    problem = model_unreachable("hf", MODEL)
    assert problem is not None and f"`hf download {MODEL}`" in problem
    hf = shutil.which("hf")
    if hf is None:
        pytest.skip("huggingface_hub's `hf` command is not on PATH")
    assert subprocess.run([hf, "download", "--help"], capture_output=True, timeout=SUBPROCESS_TIMEOUT_S).returncode == 0


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize(
    "args",
    [
        ["suggest", "⊢ True", "-g", "hf", "-m", MODEL, "--no-check"],
        ["serve", "-g", "hf", "-m", MODEL],
        ["serve", "-g", "fixed", "--retriever", "kaiyuy/leandojo-lean4-retriever-byt5-small"],
        ["sweep", "--split", "valid", "--limit", "2", "-g", "hf", "-m", MODEL, "--output", "{tmp}/r.jsonl"],
    ],
    ids=["suggest", "serve", "serve-retriever", "sweep"],
)
def test_a_model_command_without_network_fails_at_once_with_one_line(args: list[str], tmp_path: Path) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if args[0] == "serve":
        with socket.socket() as probe:  # a free port: the server binds before it checks the models
            probe.bind(("127.0.0.1", 0))
            args = [*args, "--port", str(probe.getsockname()[1])]
    started = time.monotonic()
    result = run_cli(args)
    assert result.exit_code == 2, result.output
    line = _one_error_line(result)
    assert "unreachable" in line and "hf download" in line
    assert time.monotonic() - started < 20
    assert result.stdout.strip() == ""  # stdout keeps only results


def test_an_actor_failure_names_its_cause_in_one_plain_line() -> None:
    """The sweep's error line lost the cause (the last line of Ray's text) and carried raw ANSI codes."""
    from benchmarks.sweep.driver import _first_line

    ray_text = (
        "The actor died because of an error raised in its creation task, \x1b[36mray::GeneratorServer.__init__()"
        "\x1b[39m (pid=4242, ip=10.0.0.7, actor_id=ab12)\n"
        '  File "benchmarks/sweep/actors.py", line 88, in __init__\n'
        "    self.generator = tactic_factory()\n"
        "\x1b[31mOSError\x1b[0m: We couldn't connect to 'https://huggingface.co' to load the files"
    )
    line = _first_line(RuntimeError(ray_text))
    assert line == "OSError: We couldn't connect to 'https://huggingface.co' to load the files"
    assert _first_line(RuntimeError("plain failure\n")) == "plain failure"


@pytest.mark.usefixtures("no_network")
def test_a_sweeps_generator_actor_checks_its_model_first_and_its_cause_reaches_the_error_line() -> None:
    """With --address the check runs where the model loads (the generator actor), and its line is the cause."""
    from benchmarks.sweep.actors import ConfigGeneratorFactory
    from benchmarks.sweep.driver import _first_line
    from prover.config import GeneratorConfig
    from prover.offline import ModelUnreachableError

    started = time.monotonic()
    with pytest.raises(ModelUnreachableError) as failed:
        ConfigGeneratorFactory(GeneratorConfig(kind="hf", model=MODEL))()
    assert time.monotonic() - started < 20
    # As Ray reports an actor that failed in its creation task: where, the traceback, then the cause.
    ray_text = (
        "The actor died because of an error raised in its creation task, ray::GeneratorServer.__init__() (pid=7)\n"
        '  File "benchmarks/sweep/actors.py", line 122, in __init__\n'
        f"prover.offline.ModelUnreachableError: {failed.value}"
    )
    line = _first_line(RuntimeError(ray_text))
    assert "hf download" in line and "unreachable" in line and "\n" not in line
