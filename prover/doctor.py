"""The Python stack's rows of `prover doctor`: torch and the GPU, model placement, the default model, flash-attn,
vLLM, Ray, LeanDojo (`probe_python`).

They live here, not in `lean_env.project.probes` (the Lean side's rows), because lean_env never imports torch. Both
return the same row type, `lean_env.project.probes.Probe`; `prover.commands.doctor` collects both and prints them.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lean_env.project.probes import Probe

if TYPE_CHECKING:
    from prover.config import GeneratorConfig


def _package_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "installed"


def probe_torch_gpu() -> Probe:
    """torch's CUDA view of the machine (imports torch, which takes a second or two)."""
    if importlib.util.find_spec("torch") is None:
        return Probe("torch / GPU", False, "torch is not installed", "pip install torch", False, "python")
    try:
        import torch

        version = str(torch.__version__)
        if torch.cuda.is_available():
            names = sorted({torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())})
            return Probe(
                "torch / GPU",
                True,
                f"torch {version}, {torch.cuda.device_count()} GPU(s): {', '.join(names)}",
                group="python",
            )
    except Exception as exc:  # a broken CUDA install must not crash the doctor
        return Probe(
            "torch / GPU", False, f"torch failed to load: {exc}", "pip install --force-reinstall torch", False, "python"
        )
    cuda = getattr(torch.version, "cuda", None)
    hip = getattr(torch.version, "hip", None)  # a ROCm build
    if cuda is None and hip is None:
        # A CPU-only build (this repository's constraints pin one) already satisfies `pip install torch`, which then
        # does nothing: the fix must force the reinstall. PyPI's Linux x86_64 wheel is the CUDA build.
        return Probe(
            "torch / GPU",
            False,
            f"torch {version}: a CPU-only build (generation runs on CPU)",
            f"pip install --force-reinstall torch=={version.split('+')[0]}  "
            "(PyPI's Linux wheel is the CUDA build; on a machine with an NVIDIA GPU)",
            False,
            "python",
        )
    return Probe(
        "torch / GPU",
        False,
        f"torch {version} ({f'CUDA {cuda}' if cuda else f'ROCm {hip}'}) sees no GPU (generation runs on CPU)",
        "check the driver with `nvidia-smi` and that CUDA_VISIBLE_DEVICES does not hide the GPUs",
        False,
        "python",
    )


def probe_module(name: str, module: str, dist: str, fix: str) -> Probe:
    if importlib.util.find_spec(module) is None:
        return Probe(name, False, "not installed", fix, False, "python")
    return Probe(name, True, f"{dist} {_package_version(dist)}", group="python")


def probe_default_model() -> Probe:
    """Which model `suggest`/`serve` run when none is named (and why), next to `prove`/`sweep`'s."""
    from prover.config import DEFAULT_MODEL
    from prover.generators.seq2seq import interactive_default

    default = interactive_default("auto", DEFAULT_MODEL)
    return Probe(
        "default model",
        True,
        f"suggest/serve: {default.model} ({default.reason}; --device/--model change it); prove/sweep: {DEFAULT_MODEL}",
        group="python",
    )


def probe_python(generator: GeneratorConfig | None = None) -> list[Probe]:
    from lean_env.backends.dojo import probe_lean_dojo

    placement = [probe_model_placement(generator)] if generator is not None else []
    return [
        probe_torch_gpu(),
        *placement,
        probe_default_model(),
        probe_module("flash-attn", "flash_attn", "flash-attn", "pip install flash-attn --no-build-isolation"),
        probe_module("vllm", "vllm", "vllm", "pip install vllm"),
        probe_module("Ray", "ray", "ray", "pip install 'ray[default]'"),
        probe_lean_dojo(),  # imports it in a fresh interpreter, naming import-time failures
    ]


# ----------------------------------------------------------------------------- model placement

# Room beyond the weights an engine needs to run at all (activations, CUDA graphs, a first batch's KV cache).
PLACEMENT_HEADROOM = 1.2


@dataclass(frozen=True)
class ModelShape:
    """What placing a model needs: its weights' bytes, KV-cache bytes per token and context length."""

    weight_bytes: int
    kv_bytes_per_token: int
    context: int | None


def model_shape(config: Any, dtype_bytes: int = 2) -> ModelShape:
    """Weights (a Llama-family count: attention, gated MLP, embeddings) and KV cache from a transformers config."""
    from prover.generators.hf import kv_cache_bytes_per_token

    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    hidden, layers = int(text.hidden_size), int(text.num_hidden_layers)
    heads = int(text.num_attention_heads)
    kv_heads = int(getattr(text, "num_key_value_heads", None) or heads)
    head_dim = int(getattr(text, "head_dim", None) or hidden // heads)
    mlp = int(getattr(text, "intermediate_size", None) or 4 * hidden)
    vocab = int(text.vocab_size)
    attention = 2 * hidden * heads * head_dim + 2 * hidden * kv_heads * head_dim
    embeddings = vocab * hidden * (1 if getattr(text, "tie_word_embeddings", False) else 2)
    params = layers * (attention + 3 * hidden * mlp) + embeddings
    context = getattr(text, "max_position_embeddings", None)
    return ModelShape(
        params * dtype_bytes, kv_cache_bytes_per_token(config, dtype_bytes), int(context) if context else None
    )


def placement_advice(shape: ModelShape, gpu_bytes: Sequence[int], cfg: GeneratorConfig) -> Probe:
    """Whether `cfg`'s model fits the GPUs as configured, and else the `[generator]` key to set.

    vLLM: the weights shard over `tensor_parallel_size` GPUs, and the engine refuses to start unless one
    sequence of `max_model_len` (default: the model's context) fits in what is left. HF: without
    `device_map` the whole model goes to one device."""
    name = "model placement"
    if not gpu_bytes:
        return Probe(name, True, f"{cfg.model}: no GPU, nothing to place", group="python")
    per_gpu = min(gpu_bytes)
    need = shape.weight_bytes * PLACEMENT_HEADROOM
    gib = 2**30
    weights = f"{cfg.model}: {shape.weight_bytes / gib:.1f} GiB of weights, {len(gpu_bytes)} GPU(s) of {per_gpu / gib:.0f} GiB"
    if cfg.kind == "vllm":
        shards = cfg.tensor_parallel_size
        if need > per_gpu * shards:
            wanted = next((n for n in (1, 2, 4, 8) if need <= per_gpu * n), None)
            if wanted is None or wanted > len(gpu_bytes):
                return Probe(
                    name, False, f"{weights}: too large for these GPUs", "use more or larger GPUs", False, "python"
                )
            return Probe(name, False, weights, f"set [generator] tensor_parallel_size = {wanted}", False, "python")
        free = per_gpu * shards - need
        context = cfg.max_model_len or shape.context
        if context and context * shape.kv_bytes_per_token > free:
            fits = int(free // shape.kv_bytes_per_token)
            detail = f"{weights}: one {context}-token sequence needs more KV cache than is left"
            return Probe(
                name,
                False,
                detail,
                f"set [generator] max_model_len = {max(fits // 1024 * 1024, 1024)}",
                False,
                "python",
            )
        return Probe(name, True, f"{weights}, tensor_parallel_size {shards}: fits", group="python")
    if cfg.kind == "hf" and cfg.device_map is None and need > per_gpu:
        fix = 'set [generator] device_map = "auto"' if need <= sum(gpu_bytes) else "use more or larger GPUs"
        return Probe(name, False, f"{weights}: more than one GPU holds", fix, False, "python")
    return Probe(name, True, f"{weights}: fits", group="python")


def probe_model_placement(cfg: GeneratorConfig) -> Probe:
    """`placement_advice` for the configured model, its config read from a local folder or the hub cache."""
    if cfg.kind == "fixed" or importlib.util.find_spec("torch") is None:
        return Probe("model placement", True, "no model to place", group="python")
    try:
        import torch
        from transformers import AutoConfig

        # Local files only (a folder, or the hub cache): the doctor must answer without the network.
        config = AutoConfig.from_pretrained(cfg.model, trust_remote_code=cfg.trust_remote_code, local_files_only=True)
        dtype_bytes = 4 if cfg.dtype == "float32" else 2
        gpus = [torch.cuda.get_device_properties(i).total_memory for i in range(torch.cuda.device_count())]
        return placement_advice(model_shape(config, dtype_bytes), gpus, cfg)
    except Exception as exc:  # noqa: BLE001 - an unreadable config is a row, not a crash
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        detail = f"{cfg.model}: no local config to size it from (not downloaded yet?): {first}"
        return Probe("model placement", True, detail, group="python")
