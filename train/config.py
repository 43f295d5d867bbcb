"""Training configuration: one pydantic model loaded from TOML. Unknown keys are errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from prover.config import ConfigError, read_toml
from prover.paths import REPO_ROOT, shared_dir

PACKAGED_CONFIGS = Path(__file__).resolve().parent / "configs"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


DataFormat = Literal["jsonl", "leandojo", "proofpile", "hf"]


class DataSource(_Section):
    """One input: a file, a folder of files, or (format "hf") a Hugging Face dataset id/path."""

    format: DataFormat = "jsonl"
    path: str
    split: str = "train"  # hf: the dataset split; leandojo: a split folder's <split>.json
    hf_config: str | None = None  # hf only: dataset config name
    streaming: bool = False  # hf only
    max_rows: int | None = Field(None, ge=1)
    state_field: str = "state_before"  # hf only: column names
    tactic_field: str = "tactic"
    theorem_field: str | None = "theorem"

    def resolved_path(self) -> str:
        """`{shared}` expands to the shared data folder; relative local paths stay relative to the cwd."""
        return self.path.replace("{shared}", str(shared_dir()))


class DataSection(_Section):
    sources: list[DataSource] = Field(min_length=1)
    validation_fraction: float = Field(0.1, gt=0, lt=1)
    max_length: int = Field(1024, ge=16)  # tokens per example; states are cut from the left
    check_minif2f: bool = True
    minif2f_path: str | None = None  # default: prover.paths.minif2f_path()


class ModelSection(_Section):
    """`name_or_path` set: fine-tune that model. Unset: a fresh Llama of this shape (CPU default)."""

    name_or_path: str | None = None
    tokenizer: str | None = None  # default: the model's own, or one trained on the data when from scratch
    hidden_size: int = Field(256, ge=8)
    num_hidden_layers: int = Field(4, ge=1)
    num_attention_heads: int = Field(4, ge=1)
    num_key_value_heads: int | None = Field(None, ge=1)
    intermediate_size: int = Field(768, ge=8)
    max_position_embeddings: int = Field(1024, ge=16)
    vocab_size: int = Field(4096, ge=300)  # tokenizer trained locally to this size
    tie_word_embeddings: bool = True
    attention_dropout: float = Field(0.0, ge=0, lt=1)
    attn_implementation: str = "sdpa"
    trust_remote_code: bool = False

    @model_validator(mode="after")
    def _heads_divide(self) -> ModelSection:
        if self.name_or_path is None and self.hidden_size % self.num_attention_heads:
            raise ValueError("hidden_size must be a multiple of num_attention_heads")
        return self


# Attention and MLP projections per architecture (config.json `model_type`). Llama and most decoders name them
# q/k/v/o_proj and gate/up/down_proj; InternLM2's own modeling code (modeling_internlm2.py shipped with
# internlm/internlm2-step-prover and internlm2_5-step-prover: `InternLM2Attention.wqkv`/`wo`,
# `InternLM2MLP.w1`/`w2`/`w3`) packs q, k and v in one layer.
LLAMA_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
LORA_TARGETS: dict[str, tuple[str, ...]] = {"internlm2": ("wqkv", "wo", "w1", "w2", "w3")}


def lora_target_modules(model_type: str | None) -> list[str]:
    """The LoRA target modules for a model of `model_type`: its known projection names, else Llama's."""
    return list(LORA_TARGETS.get(model_type or "", LLAMA_LORA_TARGETS))


class LoraSection(_Section):
    enabled: bool = False
    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    # None: every attention and MLP projection of the model's architecture (`lora_target_modules`).
    target_modules: list[str] | None = None
    merge_on_save: bool = True  # save a plain model that loads without peft


class TrainingSection(_Section):
    epochs: float = Field(1.0, gt=0)
    max_steps: int = -1  # > 0 overrides epochs
    batch_size: int = Field(8, ge=1)  # per device
    gradient_accumulation_steps: int = Field(1, ge=1)
    learning_rate: float = Field(2e-5, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    warmup_ratio: float = Field(0.03, ge=0, lt=1)
    lr_scheduler: str = "cosine"
    packing: bool = True
    bf16: bool = False
    gradient_checkpointing: bool = False
    logging_steps: int = Field(10, ge=1)
    save_steps: int | None = Field(None, ge=1)  # default: save at the end of every epoch
    save_total_limit: int | None = Field(2, ge=1)
    dataloader_num_workers: int = Field(0, ge=0)
    # CPU threads for torch; None keeps torch's default (all cores). 1 is far faster on a loaded machine,
    # where multi-threaded kernels stall waiting for descheduled threads.
    torch_threads: int | None = Field(None, ge=1)
    deepspeed: str | None = None  # path to a DeepSpeed JSON config (multi-GPU through accelerate launch)
    report_to: list[str] = Field(default_factory=list)


class EvalSection(_Section):
    enabled: bool = True
    blank_state_ablation: bool = True
    topk: int = Field(5, ge=1)
    num_beams: int = Field(5, ge=1)
    max_new_tokens: int = Field(64, ge=1)
    max_examples: int | None = Field(None, ge=1)  # cap on held-out rows for the (slow) generation metrics
    batch_size: int = Field(16, ge=1)


class TrainConfig(_Section):
    template: str = "proofsteps"  # a name from prover.templates.TEMPLATES
    output_dir: str = "runs/train"
    seed: int = 0
    data: DataSection
    model: ModelSection = Field(default_factory=lambda: ModelSection.model_validate({}))
    lora: LoraSection = Field(default_factory=lambda: LoraSection.model_validate({}))
    training: TrainingSection = Field(default_factory=lambda: TrainingSection.model_validate({}))
    eval: EvalSection = Field(default_factory=lambda: EvalSection.model_validate({}))

    @model_validator(mode="after")
    def _known_template(self) -> TrainConfig:
        from prover.templates import TEMPLATES

        if self.template not in TEMPLATES:
            raise ValueError(f"unknown template {self.template!r} (known: {', '.join(sorted(TEMPLATES))})")
        if self.lora.enabled and self.model.name_or_path is None:
            raise ValueError("LoRA needs a pretrained model (set model.name_or_path)")
        return self


def _one_line(err: ValidationError, source: str) -> str:
    """One line naming the first problem, a misspelt key before the required one it leaves missing."""
    from prover.config import _one_line as config_line

    return config_line(err, source, TrainConfig, "training config")


def resolve_config_path(path: str | Path) -> Path:
    """A path as given, else relative to the repository, else a packaged config name (`cpu-tiny`)."""
    p = Path(path)
    for candidate in (p, REPO_ROOT / p, PACKAGED_CONFIGS / p, PACKAGED_CONFIGS / f"{p}.toml"):
        if candidate.is_file():
            return candidate
    return p


def parse_train_config(data: dict[str, Any], source: str = "(dict)") -> TrainConfig:
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, source)) from None


def load_train_config(path: str | Path) -> TrainConfig:
    p = resolve_config_path(path)
    return parse_train_config(read_toml(p, "training config"), str(p))
