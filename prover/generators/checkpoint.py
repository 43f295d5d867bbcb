"""The prompt template a checkpoint was trained with, recorded next to its weights.

Train writes `prover_template.json` into the saved model folder (`write_template_record`);
generation reads it back so `prover prove --model CHECKPOINT` uses the matching prompt.
A `"prover_template"` entry in the folder's `config.json` (a name or the same record) also counts.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from prover.templates import TEMPLATES, PromptTemplate, get_template

TEMPLATE_FILE = "prover_template.json"
CONFIG_KEY = "prover_template"


def template_record(template: PromptTemplate) -> dict[str, Any]:
    record = asdict(template)
    record["stop"] = list(template.stop)
    return record


def write_template_record(model_dir: str | Path, template: PromptTemplate) -> Path:
    path = Path(model_dir) / TEMPLATE_FILE
    path.write_text(json.dumps(template_record(template), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _from_record(record: Any, source: Path) -> PromptTemplate:
    if isinstance(record, str):
        return get_template(record)
    if not isinstance(record, dict) or "name" not in record:
        raise ValueError(f"invalid prompt template record in {source}")
    fields = set(PromptTemplate.__dataclass_fields__)
    if set(record) <= {"name"}:
        return get_template(str(record["name"]))
    unknown = set(record) - fields
    if unknown:
        raise ValueError(f"invalid prompt template record in {source}: unknown keys {sorted(unknown)}")
    data = dict(record)
    data["stop"] = tuple(data.get("stop", ()))
    if "prompt" not in data:
        base = TEMPLATES.get(str(data["name"]))
        if base is None:
            raise ValueError(f"invalid prompt template record in {source}: no prompt for {data['name']!r}")
        return base
    if "{state}" not in str(data["prompt"]):
        raise ValueError(f"invalid prompt template record in {source}: the prompt lacks {{state}}")
    return PromptTemplate(**data)


def read_template_record(model: str | Path) -> PromptTemplate | None:
    """The template recorded in a local checkpoint folder, or None (hub ids and plain models)."""
    folder = Path(model).expanduser()
    if not folder.is_dir():
        return None
    record_file = folder / TEMPLATE_FILE
    if record_file.is_file():
        try:
            record = json.loads(record_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"invalid JSON in {record_file}: {exc}") from None
        return _from_record(record, record_file)
    config_file = folder / "config.json"
    if config_file.is_file():
        try:
            config = json.loads(config_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            return None
        if isinstance(config, dict) and CONFIG_KEY in config:
            return _from_record(config[CONFIG_KEY], config_file)
    return None


# ----------------------------------------------------------------------------- modeling code shipped with a model

TRUST_REMOTE_CODE_KEY = "trust_remote_code"


class RemoteCodeRequired(RuntimeError):
    """The checkpoint runs its own modeling code and `[generator] trust_remote_code` is off (one-line message)."""


def _cached_config(model: str) -> Path | None:
    """`config.json` of a local folder, or of a hub id already in the Hugging Face cache (no network)."""
    folder = Path(model).expanduser()
    if folder.is_dir():
        return folder / "config.json" if (folder / "config.json").is_file() else None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - a dependency of transformers
        return None
    try:
        found = try_to_load_from_cache(model, "config.json")
    except ValueError:  # not a valid repository id
        return None
    return Path(found) if isinstance(found, str) else None


def remote_code_entry(model: str) -> str | None:
    """The class a checkpoint's `config.json` `auto_map` names when transformers has none built in, else None.

    transformers loads such a model only with `trust_remote_code=True` (`resolve_trust_remote_code` in
    dynamic_module_utils.py: remote code present and no local class for the `model_type`); InternLM2's
    checkpoints are one case (`model_type` "internlm2", `auto_map` to modeling_internlm2.py)."""
    path = _cached_config(model)
    if path is None:
        return None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # the loader reports a broken config itself
    auto_map = config.get("auto_map") if isinstance(config, dict) else None
    if not isinstance(auto_map, dict):
        return None
    entry = auto_map.get("AutoModelForCausalLM") or auto_map.get("AutoConfig")
    if not isinstance(entry, str):
        return None
    from transformers import CONFIG_MAPPING

    model_type = config.get("model_type")
    return None if isinstance(model_type, str) and model_type in CONFIG_MAPPING else entry


def require_remote_code_allowed(model: str, trust_remote_code: bool) -> None:
    """Raise `RemoteCodeRequired` naming the config key when `model` ships modeling code and the key is off."""
    if trust_remote_code:
        return
    entry = remote_code_entry(model)
    if entry is not None:
        raise remote_code_error(model, entry)


def remote_code_error(model: str, entry: str | None = None) -> RemoteCodeRequired:
    what = f" ({entry})" if entry else ""
    return RemoteCodeRequired(
        f"cannot load model {model!r}: it runs modeling code shipped with the checkpoint{what}; "
        f"read that code, then set `{TRUST_REMOTE_CODE_KEY} = true` under [generator] to allow it"
    )
