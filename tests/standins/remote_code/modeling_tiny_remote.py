"""Modeling code shipped inside a checkpoint folder, the way InternLM2's repositories ship
`configuration_internlm2.py` / `modeling_internlm2.py`: config.json's `auto_map` names these classes,
its `model_type` is one transformers does not know, and transformers imports this file only when
`trust_remote_code=True` (transformers/dynamic_module_utils.py `resolve_trust_remote_code`).

The classes are Llama underneath so a tiny random checkpoint can be saved and loaded on CPU."""

from transformers import LlamaConfig, LlamaForCausalLM


class TinyRemoteConfig(LlamaConfig):
    model_type = "tiny_remote"


class TinyRemoteForCausalLM(LlamaForCausalLM):
    config_class = TinyRemoteConfig
