"""`--device` on suggest and serve, and the laptop default: with no model named and no CUDA device,
suggest/serve run ReProver's ByT5 (a seq2seq model) while prove/sweep keep the 7B default."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from prover.config import DEFAULT_MODEL, GeneratorConfig, load_config
from prover.generators import seq2seq
from prover.generators.seq2seq import REPROVER_MODEL, apply_device, interactive_default
from tests.cli_support import run_cli
from tests.seq2seq_models import save_tiny_byt5


def test_interactive_default_follows_the_device() -> None:
    assert interactive_default("cpu", DEFAULT_MODEL, has_cuda=True).model == REPROVER_MODEL
    assert interactive_default("auto", DEFAULT_MODEL, has_cuda=False) == seq2seq.DefaultModel(
        REPROVER_MODEL, "no CUDA device"
    )
    assert interactive_default("auto", DEFAULT_MODEL, has_cuda=True).model == DEFAULT_MODEL
    assert interactive_default("cuda", DEFAULT_MODEL, has_cuda=False).model == DEFAULT_MODEL


def test_a_named_model_or_template_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seq2seq, "cuda_available", lambda: False)
    assert apply_device(GeneratorConfig(), None, model_given=False).model == REPROVER_MODEL
    assert apply_device(GeneratorConfig(model="x/y"), "cpu", model_given=True).model == "x/y"
    from_file = load_config(None, {"generator": {"model": "org/m"}}).generator
    assert apply_device(from_file, "cpu", model_given=False).model == "org/m"
    templated = load_config(None, {"generator": {"template": "llemma"}}).generator
    assert apply_device(templated, "cpu", model_given=False).model == DEFAULT_MODEL
    assert apply_device(GeneratorConfig(kind="fixed"), "cpu", model_given=False).model == DEFAULT_MODEL
    with pytest.raises(ValueError, match="--device must be auto, cpu or cuda"):
        apply_device(GeneratorConfig(), "tpu", model_given=False)


@pytest.mark.parametrize("command", ["suggest", "serve"])
def test_cli_device_cpu_picks_reprover(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import prover.generators

    seen: list[GeneratorConfig] = []

    def capture(cfg: GeneratorConfig) -> Any:
        seen.append(cfg)
        raise ValueError("stop here")

    monkeypatch.setattr(prover.generators, "make_generator", capture)
    import prover.offline

    monkeypatch.setattr(prover.offline, "model_unreachable", lambda kind, model: None)  # no hub here
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    args = ["⊢ True", "--no-check"] if command == "suggest" else ["--port", str(free_port)]
    result = run_cli([command, *args, "--device", "cpu"])
    assert result.exit_code == 2
    assert seen and seen[0].model == REPROVER_MODEL and seen[0].device == "cpu"
    result = run_cli([command, *args, "--device", "gpu"])
    assert result.exit_code == 2 and "--device must be auto, cpu or cuda" in result.stderr


def test_suggest_runs_a_seq2seq_model_end_to_end_on_cpu(tmp_path: Path) -> None:
    folder = save_tiny_byt5(tmp_path / "byt5", seed=2)
    result = run_cli(
        ["suggest", "x : ℕ\n⊢ x + 0 = x", "--model", str(folder), "--device", "cpu", "--no-check", "--json", "-k", "4"],
    )
    assert result.exit_code in (0, 1), result.stderr  # a random model may propose nothing usable
    payload = json.loads(result.stdout)
    assert payload["checked"] is False
    for suggestion in payload["suggestions"]:
        assert suggestion["score"] <= 0


def test_doctor_names_the_interactive_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from prover.doctor import probe_default_model

    monkeypatch.setattr(seq2seq, "cuda_available", lambda: False)
    check = probe_default_model()
    assert REPROVER_MODEL in check.detail and "no CUDA device" in check.detail and DEFAULT_MODEL in check.detail
