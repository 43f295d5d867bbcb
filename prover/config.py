"""User configuration: one pydantic model, loaded from TOML and overridden by CLI flags.

Unknown keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from search.types import Budget, Scoring, SearchConfig

DEFAULT_MODEL = "EleutherAI/llemma_7b"
DEFAULT_LEAN_PROJECT = "~/.cache/lean-prover/project"


class ConfigError(ValueError):
    """Invalid configuration; the message is one line naming the offending key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LeanConfig(_Section):
    backend: Literal["repl", "dojo", "replay"] = "repl"
    project: str = DEFAULT_LEAN_PROJECT
    repl_binary: str | None = None  # default: the REPL built by `prover setup` inside `project`
    pool_size: int = Field(1, ge=1)
    memory_limit_mb: int | None = Field(16384, ge=256)
    start_timeout_s: float = Field(600.0, gt=0)
    command_timeout_s: float = Field(600.0, gt=0)
    cassette: str | None = None
    allow_native_decide: bool = False
    # The verifier's own REPL process: replaced after this many checks / when its resident memory has grown this
    # much above what it was right after its first import / above this absolute resident memory
    # (lean_env.checks.verifier.VerifierPolicy; None = never).
    verifier_max_checks: int | None = Field(100, ge=1)
    verifier_restart_growth_mb: int | None = Field(4096, ge=256)
    verifier_restart_mb: int | None = Field(None, ge=256)
    # Validation ladder (lean_env.checks.validate): kernel-replay every verified proof with lean4checker or
    # comparator (`--strict`); `validator` picks one, default the first installed.
    strict: bool = False
    validator: Literal["lean4checker", "comparator"] | None = None


class SearchSection(_Section):
    num_tactics: int = Field(32, ge=1)
    scoring: Scoring = Scoring.LENGTH_NORMALIZED
    expansion_batch: int = Field(1, ge=1)
    time_s: float | None = Field(600.0, gt=0)
    tactic_timeout_s: float = Field(5.0, gt=0)
    max_expansions: int | None = Field(100, ge=1)
    max_lean_calls: int | None = Field(None, ge=1)

    def to_search_config(self) -> SearchConfig:
        return SearchConfig(
            num_tactics=self.num_tactics,
            scoring=self.scoring,
            expansion_batch=self.expansion_batch,
            budget=Budget(
                time_s=self.time_s,
                tactic_timeout_s=self.tactic_timeout_s,
                max_expansions=self.max_expansions,
                max_lean_calls=self.max_lean_calls,
            ),
        )


class GeneratorConfig(_Section):
    kind: Literal["hf", "vllm", "fixed", "scripted"] = "hf"
    model: str = DEFAULT_MODEL
    template: str = "llemma"
    custom_prompt: str | None = None  # must contain {state}; overrides `template`
    custom_stop: list[str] = Field(default_factory=list)
    decoding: Literal["beam", "sample"] = "beam"
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_new_tokens: int = Field(256, ge=1)
    batch_size: int = Field(16, ge=1)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    seed: int = 0
    # Run modeling code shipped with the checkpoint (config.json `auto_map`; InternLM2 needs it). Off: such a
    # model is refused with an error naming this key.
    trust_remote_code: bool = False
    # Placing large models (prover.doctor's "model placement" row names the key to set):
    # the context the model runs with (vLLM's max_model_len; HF keeps prompts within it minus max_new_tokens),
    # default the model's own; GPUs one vLLM engine shards the model over (tensor parallelism); HF's
    # `device_map` ("auto": the layers spread over every visible GPU, then CPU), default one `device`.
    max_model_len: int | None = Field(None, ge=16)
    tensor_parallel_size: int = Field(1, ge=1)
    device_map: str | None = None
    fixed_tactics: dict[str, float] | None = None  # tactic -> prior log-probability
    # kind "scripted": model outputs played back from this JSONL (prover.generators.scripted), each verified.
    outputs: str | None = None
    combine_fixed: bool = False  # also propose the fixed tactics next to the model's
    # reprover-retrieval: the Lean project whose premise index (`prover index`) the generator retrieves from,
    # and that index's cache folder (default ~/.cache/lean-prover/premises).
    premises_project: str | None = None
    premises_cache: str | None = None


class ProverConfig(_Section):
    lean: LeanConfig = Field(default_factory=LeanConfig)
    search: SearchSection = Field(default_factory=SearchSection)
    generator: GeneratorConfig = Field(default_factory=GeneratorConfig)


def read_toml(path: Path, what: str = "config file") -> dict[str, Any]:
    """The TOML table in `path`. `ConfigError` in one line naming `what` and the path for a missing file, a folder,
    text that is not UTF-8, a file that cannot be read, or invalid TOML (every config loader reads through here)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path} is a directory, not a TOML file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML in {path}: {exc}") from None


def _one_line(err: ValidationError, source: str, model: type[BaseModel] | None = None, what: str = "config") -> str:
    """`invalid config SOURCE: where: what is wrong (and N more)`, an unknown key first: a misspelt key also
    leaves a required one missing, and "Field required" would hide the typo. An unknown key gets the same
    "did you mean" as a mistyped flag, from the keys its section has."""
    errors = sorted(err.errors(), key=lambda e: e.get("type") != "extra_forbidden")
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "<root>"
    message = first["msg"]
    if first.get("type") == "extra_forbidden":
        message = "unknown key"
        close = _close_keys(model, tuple(str(p) for p in first["loc"]))
        if close:
            message += f" (did you mean {' or '.join(close)}?)"
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"invalid {what} {source}: {where}: {message}{more}"


def _close_keys(model: type[BaseModel] | None, loc: tuple[str, ...]) -> list[str]:
    """Keys of the section holding `loc`'s last part that are spelt like it, as dotted paths."""
    section: Any = model
    for part in loc[:-1]:
        field = getattr(section, "model_fields", {}).get(part)
        section = getattr(field, "annotation", None) if field is not None else None
        if not (isinstance(section, type) and issubclass(section, BaseModel)):
            return []
    known = list(getattr(section, "model_fields", {}))
    prefix = ".".join(loc[:-1])
    return [f"{prefix}.{k}" if prefix else k for k in difflib.get_close_matches(loc[-1], known, n=2, cutoff=0.6)]


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


# Keys that name files or folders. In a config file a relative one is relative to the file's folder
# (like `include` in most config formats), so `--config some/dir/x.toml` works from any directory; on the
# command line it stays relative to the current directory. `generator.model` may be a hub id
# ("org/name"): it is rebased only when it is explicitly relative (`./`, `../`) or names an existing path there.
_PATH_KEYS: dict[str, tuple[str, ...]] = {
    "lean": ("cassette", "project", "repl_binary"),
    "sweep": ("benchmark", "few_shot", "output"),
}


def _rebase_paths(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """`data` (a parsed config file) with its relative path keys made relative to `folder`."""

    def rebased(value: str) -> str:
        if value.startswith("~") or Path(value).is_absolute():
            return value
        return str(folder / value)

    out = dict(data)
    for section, keys in _PATH_KEYS.items():
        sec = out.get(section)
        if isinstance(sec, dict):
            out[section] = {k: rebased(v) if k in keys and isinstance(v, str) and v else v for k, v in sec.items()}
    gen = out.get("generator")
    if isinstance(gen, dict) and isinstance(gen.get("model"), str) and gen["model"]:
        model = gen["model"]
        explicit = model.startswith(("./", "../"))
        if not model.startswith("~") and not Path(model).is_absolute() and (explicit or (folder / model).exists()):
            out["generator"] = {**gen, "model": str(folder / model)}
    return out


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> ProverConfig:
    """Load a TOML config (if given) and apply nested `overrides` (CLI flags); `None` values are ignored."""
    return load_config_as(ProverConfig, path, overrides)


ConfigT = TypeVar("ConfigT", bound=BaseModel)


def load_config_as(
    model: type[ConfigT],
    path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    base: dict[str, Any] | None = None,
) -> ConfigT:
    """`load_config` for a model extending ProverConfig (e.g. the sweep's); `base` (a preset) sits under the TOML."""
    data: dict[str, Any] = {}
    source = "(defaults)"
    if path is not None:
        p = Path(path)
        source = str(p)
        data = _rebase_paths(read_toml(p), p.parent)
    if base:
        data = _deep_merge(base, data)
    given: set[tuple[str, str]] = set()  # (section, key) set by a command-line flag
    if overrides:
        cleaned = {s: {k: v for k, v in sec.items() if v is not None} for s, sec in overrides.items()}
        data = _deep_merge(data, {s: sec for s, sec in cleaned.items() if sec})
        given = {(s, k) for s, sec in cleaned.items() for k in sec}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        loc = tuple(str(p) for p in exc.errors()[0]["loc"][:2])
        # A bad value that came from a flag is the command line's, not the file's or the defaults'.
        raise ConfigError(_one_line(exc, "(command line)" if loc in given else source, model)) from None
