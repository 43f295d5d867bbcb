"""The Python stack's rows of `prover doctor`: torch and the GPU, flash-attn, vLLM, Ray, LeanDojo.

They live here, not in `lean_env.project.setup` (which probes Lean), because lean_env never imports torch.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util

from lean_env.project.setup import Check


def _package_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "installed"


def probe_torch_gpu() -> Check:
    """torch's CUDA view of the machine (imports torch, which takes a second or two)."""
    if importlib.util.find_spec("torch") is None:
        return Check("torch / GPU", False, "torch is not installed", "pip install torch", False, "python")
    try:
        import torch

        version = str(torch.__version__)
        if torch.cuda.is_available():
            names = sorted({torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())})
            return Check(
                "torch / GPU",
                True,
                f"torch {version}, {torch.cuda.device_count()} GPU(s): {', '.join(names)}",
                group="python",
            )
    except Exception as exc:  # a broken CUDA install must not crash the doctor
        return Check(
            "torch / GPU", False, f"torch failed to load: {exc}", "pip install --force-reinstall torch", False, "python"
        )
    cuda = getattr(torch.version, "cuda", None)
    hip = getattr(torch.version, "hip", None)  # a ROCm build
    if cuda is None and hip is None:
        # A CPU-only build (this repository's constraints pin one) already satisfies `pip install torch`, which then
        # does nothing: the fix must force the reinstall. PyPI's Linux x86_64 wheel is the CUDA build.
        return Check(
            "torch / GPU",
            False,
            f"torch {version}: a CPU-only build (generation runs on CPU)",
            f"pip install --force-reinstall torch=={version.split('+')[0]}  "
            "(PyPI's Linux wheel is the CUDA build; on a machine with an NVIDIA GPU)",
            False,
            "python",
        )
    return Check(
        "torch / GPU",
        False,
        f"torch {version} ({f'CUDA {cuda}' if cuda else f'ROCm {hip}'}) sees no GPU (generation runs on CPU)",
        "check the driver with `nvidia-smi` and that CUDA_VISIBLE_DEVICES does not hide the GPUs",
        False,
        "python",
    )


def probe_module(name: str, module: str, dist: str, fix: str) -> Check:
    if importlib.util.find_spec(module) is None:
        return Check(name, False, "not installed", fix, False, "python")
    return Check(name, True, f"{dist} {_package_version(dist)}", group="python")


def probe_default_model() -> Check:
    """Which model `suggest`/`serve` run when none is named (and why), next to `prove`/`sweep`'s."""
    from prover.config import DEFAULT_MODEL
    from prover.generators.seq2seq import interactive_default

    default = interactive_default("auto", DEFAULT_MODEL)
    return Check(
        "default model",
        True,
        f"suggest/serve: {default.model} ({default.reason}; --device/--model change it); prove/sweep: {DEFAULT_MODEL}",
        group="python",
    )


def probe_python() -> list[Check]:
    from lean_env.backends.dojo import probe_lean_dojo

    return [
        probe_torch_gpu(),
        probe_default_model(),
        probe_module("flash-attn", "flash_attn", "flash-attn", "pip install flash-attn --no-build-isolation"),
        probe_module("vllm", "vllm", "vllm", "pip install vllm"),
        probe_module("Ray", "ray", "ray", "pip install 'ray[default]'"),
        probe_lean_dojo(),  # helper B: imports it in a fresh interpreter, naming import-time failures
    ]
