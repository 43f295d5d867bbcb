"""The one check, before any model loads or Ray starts, that a command's models can be read: locally, from the
Hugging Face cache, or from a hub that answers. Without network a command fails at once with one line instead
of letting huggingface_hub retry for a minute (and, in a sweep, instead of every actor failing the same way)."""

from __future__ import annotations

from pathlib import Path


def model_unreachable(kind: str, model: str | None) -> str | None:
    """One clear line when the model can be neither read locally nor fetched; else None.

    A hub id that is already in the local Hugging Face cache is loaded with `HF_HUB_OFFLINE=1`, so
    no request is made at all; one that is not cached needs the hub, which is probed once (a TCP
    connection, 3 s) instead of letting huggingface_hub retry every file (its default is several
    retries with back-off, twice: tokenizer and weights). `fixed` and `scripted` need no model.
    """
    import os

    if kind in ("fixed", "scripted") or not model or Path(model).expanduser().exists():
        return None
    # Spelled as a path (prover.generators.hf._looks_local): only a local checkpoint can be meant.
    if model.startswith(("/", "./", "../", "~")):
        return f"no such local checkpoint {model}"
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        cached = try_to_load_from_cache(model, "config.json")
    except ValueError:  # huggingface_hub's HFValidationError: not a hub id either
        return f"no such local checkpoint {model} (and it is not a Hugging Face model id)"
    if isinstance(cached, str):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        return None
    parent = Path(model).expanduser().parent
    if parent != Path(".") and parent.is_dir():  # e.g. runs/cpu-tiny before `prover train` wrote it
        return f"no such local checkpoint {model} (and no hub model of that name is cached)"
    if os.environ.get("HF_HUB_OFFLINE", "") in ("1", "true", "True", "YES", "yes", "ON", "on"):
        return f"model {model} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set"
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None  # the hub is reached through a proxy: a direct connection says nothing
    import socket
    from urllib.parse import urlparse

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    url = urlparse(endpoint)
    try:
        socket.create_connection((url.hostname or "huggingface.co", url.port or 443), timeout=3).close()
    except OSError as exc:
        os.environ["HF_HUB_OFFLINE"] = "1"
        return (
            f"model {model} is neither a local checkpoint nor in the local Hugging Face cache, and {endpoint} "
            f"is unreachable ({exc}); "
            f"download it where there is network (`hf download {model}`) or pass --model PATH"
        )
    return None


class ModelUnreachableError(RuntimeError):
    """The model can be neither read locally nor fetched; the message is `model_unreachable`'s one line."""


def require_model(kind: str, model: str | None) -> None:
    """Raise ModelUnreachableError with `model_unreachable`'s line, where a process (a sweep's generator actor) is
    about to load the model: its failure's last line, the one the sweep's driver reports, is then the cause."""
    problem = model_unreachable(kind, model)
    if problem is not None:
        raise ModelUnreachableError(problem)
