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
