"""Sweep configuration: a `[sweep]` section composed with the prover's lean/search/generator sections."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from prover.config import ProverConfig, load_config_as
from prover.paths import minif2f_path, shared_dir

# Llemma formal2formal (PROMPTS.md §1): 32 beam candidates per expansion, 100 expansions, 600 s per theorem.
PRESETS: dict[str, dict[str, Any]] = {
    "llemma": {
        "search": {"num_tactics": 32, "max_expansions": 100, "time_s": 600.0, "scoring": "length_normalized"},
        "generator": {"template": "llemma", "decoding": "beam", "max_new_tokens": 256},
    },
}

# Keys that change how fast a sweep runs or where it writes, never what it finds: left out of the hash.
_UNHASHED: dict[str, set[str]] = {
    "sweep": {
        "output",
        "resume",
        "address",
        "prover_actors",
        "cpus_per_prover",
        "generator_replicas",
        "num_gpus",
        "max_batch",
        "max_wait_ms",
        "attempt_timeout_s",
        "names",
        "limit",
        "retries",
    },
    "lean": {
        "pool_size",
        "start_timeout_s",
        "command_timeout_s",
        "repl_binary",
        "project",
        # When the verifier's process is replaced: never what it judges.
        "verifier_max_checks",
        "verifier_restart_mb",
        "verifier_restart_growth_mb",
    },
    "generator": {"batch_size", "device"},
}


class SweepSection(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    benchmark: str | None = None  # default: ../shared/data/minif2f/minif2f.jsonl
    split: Literal["valid", "test", "all"] = "test"
    statement: Literal["primary", "deepseek", "llemma"] = "primary"
    names: list[str] = Field(default_factory=list)
    limit: int | None = Field(None, ge=1)
    task: Literal["f2f", "i2f"] = "f2f"
    # i2f: (a) informal-guided search, (b) whole-proof pass@N; correct: whole proofs, then self-correction rounds
    mode: Literal["search", "whole", "correct"] = "search"
    attempts: int = Field(1, ge=1)  # independent attempts (samples) per problem, for pass@k
    # whole: a rejected sample's failing blocks become holes the tactic search fills (prover.engine.repair)
    repair: bool = False
    correction_rounds: int = Field(1, ge=1)  # correct: rounds after the first sample (`--correction-rounds`)
    correction_samples: int = Field(1, ge=1)  # correct: corrections per failed sample and round
    few_shot: str | None = None  # default: ../shared/data/minif2f/deepseek_minif2f_valid_few_shot.jsonl
    num_few_shot: int = Field(3, ge=0)
    # An int, or "auto": start a few, measure the first attempts, then size the pool (benchmarks.sizing).
    prover_actors: int | Literal["auto"] = 2
    cpus_per_prover: float = Field(0.5, ge=0)
    generator_replicas: int = Field(1, ge=1)
    num_gpus: float | None = Field(None, ge=0)  # per generator actor; None: 1 for a model if the cluster has GPUs
    max_batch: int = Field(32, ge=1)
    max_wait_ms: float = Field(5.0, ge=0)
    address: str | None = None  # None: start a local Ray instance
    output: str = "runs/sweep/results.jsonl"
    resume: bool = False
    retries: int = Field(1, ge=0)  # re-runs of an attempt whose actor or Lean process crashed
    attempt_timeout_s: float | None = Field(None, gt=0)  # default: 2 x search.time_s + 120 s

    @field_validator("prover_actors", mode="before")
    @classmethod
    def _actors_or_auto(cls, value: Any) -> Any:
        if value == "auto" or (type(value) is int and value >= 1):
            return value
        if isinstance(value, str) and value.isdigit() and int(value) >= 1:  # from a flag
            return int(value)
        raise ValueError(f"must be a positive number of actors or 'auto', got {value!r}")

    def benchmark_path(self) -> Path:
        return Path(self.benchmark).expanduser() if self.benchmark else minif2f_path()

    def few_shot_path(self) -> Path:
        if self.few_shot:
            return Path(self.few_shot).expanduser()
        return shared_dir() / "data" / "minif2f" / "deepseek_minif2f_valid_few_shot.jsonl"


class SweepConfig(ProverConfig):
    sweep: SweepSection = Field(default_factory=lambda: SweepSection.model_validate({}))

    def attempt_timeout(self) -> float:
        if self.sweep.attempt_timeout_s is not None:
            return self.sweep.attempt_timeout_s
        return 2 * (self.search.time_s or 600.0) + 120.0

    def differences(self, recorded: dict[str, Any]) -> list[str]:
        """`section.key` of each setting deciding results whose value differs from `recorded` (an earlier sweep's
        manifest config). A key the recording lacks was added to the settings since: it differs only when set
        away from its default; keys that never decide results (`_UNHASHED`) are not compared."""
        current = self.model_dump(mode="json")
        defaults = type(self).model_validate({}).model_dump(mode="json")
        found = []
        for section, values in current.items():
            known = recorded.get(section)
            if not isinstance(values, dict) or not isinstance(known, dict):
                continue
            for key, value in values.items():
                if key in _UNHASHED.get(section, set()):
                    continue
                before = known[key] if key in known else defaults.get(section, {}).get(key)
                if value != before:
                    found.append(f"{section}.{key}")
        return found

    def model_name(self) -> str:
        if self.generator.kind == "scripted":
            return f"scripted:{Path(self.generator.outputs or '').name}"
        return "fixed" if self.generator.kind == "fixed" else self.generator.model

    def config_hash(self) -> str:
        """A short hash of everything that decides results (not parallelism, output path or resume)."""
        data = self.model_dump(mode="json")
        for section, keys in _UNHASHED.items():
            for key in keys:
                data.get(section, {}).pop(key, None)
        blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def load_sweep_config(
    path: str | Path | None = None, overrides: dict[str, Any] | None = None, preset: str | None = None
) -> SweepConfig:
    """defaults < preset < TOML file < flags. Raises prover.config.ConfigError with a one-line message."""
    from prover.config import ConfigError

    base = None
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError(f"unknown preset {preset!r} (known: {', '.join(sorted(PRESETS))})")
        base = json.loads(json.dumps(PRESETS[preset]))
    return load_config_as(SweepConfig, path, overrides, base=base)
