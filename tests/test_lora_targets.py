"""LoRA targets follow the architecture: Llama-style names by default, InternLM2's own projection names
(`wqkv`, `wo`, `w1`, `w2`, `w3`) for a `model_type` "internlm2" checkpoint, which loads only with its own
modeling code (tests/standins/remote_code/modeling_tiny_internlm2.py, copied into the checkpoint folder)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from prover.generators.tokenizers import byte_level_tokenizer  # noqa: E402
from train.config import LLAMA_LORA_TARGETS, TrainConfig, lora_target_modules  # noqa: E402
from train.trainer import build_model  # noqa: E402

MODELING = Path(__file__).parent / "standins" / "remote_code" / "modeling_tiny_internlm2.py"


def _internlm2_checkpoint(folder: Path) -> Path:
    import importlib.util

    spec = importlib.util.spec_from_file_location("tiny_internlm2_for_saving", MODELING)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    module.TinyInternLM2ForCausalLM(module.TinyInternLM2Config()).save_pretrained(folder)
    data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    data["auto_map"] = {
        "AutoConfig": "modeling_tiny_internlm2.TinyInternLM2Config",
        "AutoModelForCausalLM": "modeling_tiny_internlm2.TinyInternLM2ForCausalLM",
    }
    (folder / "config.json").write_text(json.dumps(data), encoding="utf-8")
    shutil.copy(MODELING, folder / MODELING.name)
    return folder


def test_target_modules_by_model_type() -> None:
    assert lora_target_modules("internlm2") == ["wqkv", "wo", "w1", "w2", "w3"]
    assert lora_target_modules("llama") == list(LLAMA_LORA_TARGETS)
    assert lora_target_modules(None) == list(LLAMA_LORA_TARGETS)


def test_lora_on_an_internlm2_checkpoint_wraps_its_projections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers.dynamic_module_utils as dynamic

    monkeypatch.setattr(dynamic, "HF_MODULES_CACHE", str(tmp_path / "modules"))
    folder = _internlm2_checkpoint(tmp_path / "tiny-internlm2")
    cfg = TrainConfig.model_validate(
        {
            "data": {"sources": [{"path": "unused.jsonl"}]},
            # Code written without `_supports_sdpa` (as older remote modeling files are) needs eager attention.
            "model": {"name_or_path": str(folder), "trust_remote_code": True, "attn_implementation": "eager"},
            "lora": {"enabled": True, "r": 2},
        }
    )
    model = build_model(cfg, byte_level_tokenizer())
    # Parameter names end in `<module>.lora_A.default.weight`.
    wrapped = {
        name.split(".lora_A.")[0].rsplit(".", 1)[-1] for name, _ in model.named_parameters() if ".lora_A." in name
    }
    assert wrapped == {"wqkv", "wo", "w1", "w2", "w3"}
    ids = torch.tensor([[1, 5, 6, 7]])
    assert model(input_ids=ids, labels=ids).loss.requires_grad
