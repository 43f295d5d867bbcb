"""Versions: the declared floors are the ones CI runs, and the code feature-detects the APIs that moved.

transformers 5.24 renamed two things the project uses (v5.24.0 sources):
- generation/utils.py: `@deprecate_kwarg("past_key_values", "6.0.0", new_name="cache")`, and the models'
  `forward(..., cache: Cache | None = None, ...)` (models/llama/modeling_llama.py); 5.17-5.23 raise
  "The following `model_kwargs` are not used by the model: ['cache']".
- training_args.py: `activation_checkpointing`, with `gradient_checkpointing` a deprecated alias until v6;
  5.17-5.23 raise "TrainingArguments.__init__() got an unexpected keyword argument 'activation_checkpointing'".
The lowest-versions venv of `.ci/run` runs this file too, so both branches meet a real transformers.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers")

from prover.generators.hf import cache_kwarg  # noqa: E402
from train.trainer import _training_arguments, checkpointing_argument  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODEL_STACK = ("transformers", "peft", "accelerate", "datasets")


def _lowest_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / ".ci" / "lowest-versions.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.strip()] = version.strip()
    return pins


def _declared_floors() -> dict[str, str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    floors = {}
    for dep in deps:
        name, _, floor = dep.partition(">=")
        floors[name.strip()] = floor.split(",")[0].strip()
    return floors


def test_declared_floors_are_the_versions_ci_runs() -> None:
    from packaging.version import Version

    pins, floors = _lowest_pins(), _declared_floors()
    assert set(pins) == set(MODEL_STACK)
    for name in MODEL_STACK:
        assert Version(floors[name]) == Version(pins[name]), (
            f"{name}: pyproject says >={floors[name]}, CI runs {pins[name]}"
        )
    # The GPU check machine has transformers 5.17; vLLM 0.33.0 needs transformers <5.21.
    major, minor = (int(x) for x in pins["transformers"].split(".")[:2])
    assert (major, minor) <= (5, 17)


def test_installed_versions_meet_the_floors() -> None:
    import importlib.metadata as md

    from packaging.version import Version

    for name in MODEL_STACK:
        assert Version(md.version(name)) >= Version(_declared_floors()[name])


class _NewModel:
    def forward(self, input_ids: Any = None, cache: Any = None, use_cache: bool = False) -> None: ...


class _OldModel:
    def forward(self, input_ids: Any = None, past_key_values: Any = None, use_cache: bool = False) -> None: ...


class _PeftLike:
    """PEFT's PeftModel forwards *args/**kwargs; `get_base_model()` is the transformers model."""

    def __init__(self, base: Any) -> None:
        self.base = base

    def forward(self, *args: Any, **kwargs: Any) -> None: ...

    def get_base_model(self) -> Any:
        return self.base


@pytest.mark.parametrize(
    ("model", "name"),
    [
        (_NewModel(), "cache"),
        (_OldModel(), "past_key_values"),
        (_PeftLike(_NewModel()), "cache"),
        (_PeftLike(_OldModel()), "past_key_values"),
    ],
)
def test_cache_kwarg_follows_the_models_forward(model: Any, name: str) -> None:
    assert cache_kwarg(model) == name


def test_cache_kwarg_matches_the_installed_llama() -> None:
    import inspect

    from transformers import LlamaForCausalLM

    params = inspect.signature(LlamaForCausalLM.forward).parameters
    expected = "cache" if "cache" in params else "past_key_values"
    assert expected in params
    assert cache_kwarg(LlamaForCausalLM.__new__(LlamaForCausalLM)) == expected


def test_checkpointing_argument_is_a_field_of_the_installed_training_arguments(tmp_path: Path) -> None:
    from transformers import TrainingArguments

    from train.config import parse_train_config

    name = checkpointing_argument()
    assert name in {f.name for f in dataclasses.fields(TrainingArguments)}
    cfg = parse_train_config(
        {
            "output_dir": str(tmp_path),
            "data": {"sources": [{"path": "x.jsonl"}]},
            "training": {"gradient_checkpointing": True},
        }
    )
    args = _training_arguments(cfg, tmp_path)
    assert getattr(args, name) is True


def test_checkpointing_argument_falls_back_to_the_pre_5_24_name(monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers

    @dataclasses.dataclass
    class OldTrainingArguments:  # the 5.17-5.23 shape: only the old name
        output_dir: str = ""
        gradient_checkpointing: bool = False

    @dataclasses.dataclass
    class NewTrainingArguments:
        output_dir: str = ""
        activation_checkpointing: bool | None = None
        gradient_checkpointing: bool | None = None

    monkeypatch.setattr(transformers, "TrainingArguments", OldTrainingArguments)
    assert checkpointing_argument() == "gradient_checkpointing"
    monkeypatch.setattr(transformers, "TrainingArguments", NewTrainingArguments)
    assert checkpointing_argument() == "activation_checkpointing"


def test_the_vllm_floor_admits_the_transformers_floor() -> None:
    """vLLM up to 0.19.0 declares `transformers<5` (registry metadata); a lower floor lets pip pick one of those
    and downgrade transformers below this project's floor. 0.19.1 is the first that admits 5.17."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    [vllm] = [Requirement(dep) for dep in extras["gpu"] if Requirement(dep).name == "vllm"]
    floors = [Version(spec.version) for spec in vllm.specifier if spec.operator == ">="]
    assert floors and min(floors) >= Version("0.19.1")
    assert Version("0.19.0") not in vllm.specifier
