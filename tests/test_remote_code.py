"""Checkpoints that ship their own modeling code (InternLM2: config.json `auto_map` to modeling_internlm2.py,
a `model_type` transformers does not know) load only with `[generator] trust_remote_code = true`; without
it the error names that key, never a network problem. The checkpoint here is a tiny random model whose
`auto_map` points at tests/standins/remote_code/modeling_tiny_remote.py, copied into its folder as a hub
repository ships it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from prover.config import GeneratorConfig  # noqa: E402
from prover.generators import make_generator  # noqa: E402
from prover.generators.checkpoint import RemoteCodeRequired, remote_code_entry  # noqa: E402
from prover.generators.tokenizers import byte_level_tokenizer  # noqa: E402
from prover.templates import get_template  # noqa: E402
from search.types import GenRequest  # noqa: E402

MODELING = Path(__file__).parent / "standins" / "remote_code" / "modeling_tiny_remote.py"
AUTO_MAP = {
    "AutoConfig": "modeling_tiny_remote.TinyRemoteConfig",
    "AutoModelForCausalLM": "modeling_tiny_remote.TinyRemoteForCausalLM",
}


def _remote_code_checkpoint(folder: Path) -> Path:
    torch.manual_seed(0)
    tok = byte_level_tokenizer()
    config = transformers.LlamaConfig(
        vocab_size=264,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=512,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    data.update(model_type="tiny_remote", auto_map=AUTO_MAP, architectures=["TinyRemoteForCausalLM"])
    (folder / "config.json").write_text(json.dumps(data), encoding="utf-8")
    shutil.copy(MODELING, folder / MODELING.name)
    return folder


@pytest.fixture
def checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # transformers copies a checkpoint's modeling file into its modules cache before importing it: keep it here.
    import transformers.dynamic_module_utils as dynamic

    monkeypatch.setattr(dynamic, "HF_MODULES_CACHE", str(tmp_path / "modules"))
    return _remote_code_checkpoint(tmp_path / "tiny-remote")


def test_without_the_key_the_error_names_it_and_no_network_problem(checkpoint: Path) -> None:
    assert remote_code_entry(str(checkpoint)) == AUTO_MAP["AutoModelForCausalLM"]
    with pytest.raises(RemoteCodeRequired) as err:
        make_generator(GeneratorConfig(kind="hf", model=str(checkpoint), template="llemma", device="cpu"))
    message = str(err.value)
    assert "trust_remote_code = true" in message and "[generator]" in message
    assert "network" not in message and "hub" not in message and "\n" not in message


def test_with_the_key_the_model_loads_and_generates(checkpoint: Path) -> None:
    cfg = GeneratorConfig(
        kind="hf", model=str(checkpoint), template="llemma", device="cpu", trust_remote_code=True, max_new_tokens=4
    )
    gen: Any = make_generator(cfg)
    assert type(gen.model).__name__ == "TinyRemoteForCausalLM"  # the checkpoint's own class ran
    [cands] = gen([GenRequest("⊢ True")], 2)
    assert isinstance(cands, list)


def test_a_cached_hub_model_with_own_code_names_the_key(
    checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hub id already in the Hugging Face cache (offline): the refusal is the key's, not 'no network access'."""
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    snapshot = cache / "models--internlm--internlm2_5-step-prover" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    shutil.copy(checkpoint / "config.json", snapshot / "config.json")
    (cache / "models--internlm--internlm2_5-step-prover" / "refs").mkdir()
    (cache / "models--internlm--internlm2_5-step-prover" / "refs" / "main").write_text("abc123")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    with pytest.raises(RemoteCodeRequired, match="trust_remote_code = true"):
        make_generator(GeneratorConfig(kind="hf", model="internlm/internlm2_5-step-prover", device="cpu"))


def test_plain_checkpoints_need_no_key(tmp_path: Path) -> None:
    folder = _remote_code_checkpoint(tmp_path / "plain")
    data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    data.update(model_type="llama")  # an `auto_map` next to a built-in model type: transformers uses its own class
    (folder / "config.json").write_text(json.dumps(data), encoding="utf-8")
    assert remote_code_entry(str(folder)) is None


def test_the_vllm_path_refuses_without_the_key_and_passes_it_on(
    checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util
    import sys

    from prover.generators.vllm import AsyncVLLMGenerator, VLLMGenerator

    path = Path(__file__).parent / "standins" / "fake_vllm.py"
    spec = importlib.util.spec_from_file_location("fake_vllm_remote_code", path)
    assert spec is not None and spec.loader is not None
    fake = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "fake_vllm_remote_code", fake)
    spec.loader.exec_module(fake)
    vllm = fake.install(monkeypatch, {"simp\n---": 1.0})
    cfg = GeneratorConfig(kind="vllm", model=str(checkpoint), template="llemma")
    for cls in (VLLMGenerator, AsyncVLLMGenerator):
        with pytest.raises(RemoteCodeRequired, match="trust_remote_code = true"):
            cls.from_config(cfg, get_template("llemma"))
    VLLMGenerator.from_config(cfg.model_copy(update={"trust_remote_code": True}), get_template("llemma"))
    assert vllm.LLM.last_kwargs["trust_remote_code"] is True
