"""Fine-tune (or train from scratch) a causal LM on proofsteps with the transformers Trainer.

Output folder layout (`output_dir`):
- the final model (`save_pretrained`), its tokenizer and `prover_template.json`: load it with
  `prover prove --model OUTPUT_DIR`;
- `checkpoints/checkpoint-N/`: Trainer checkpoints for `--resume`;
- `tokenizer/`: the locally trained tokenizer (from-scratch runs), reused on resume;
- `eval.json`: held-out metrics; `data_split.json`: split statistics.
Multi-GPU: run under `accelerate launch --config_file train/configs/accelerate-*.yaml`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prover.templates import PromptTemplate, get_template
from train.config import TrainConfig, lora_target_modules
from train.data import PreparedData, ProofStep, prepare_data
from train.evaluate import EvalReport, evaluate_checkpoint
from train.formatting import format_texts, tokenize_steps
from train.packing import PackedCollator, PaddingCollator, as_dicts, pack_examples, packing_efficiency

CHECKPOINTS = "checkpoints"
TOKENIZER_DIR = "tokenizer"


class TrainError(RuntimeError):
    """A training run cannot start or continue; one-line message."""


@dataclass(frozen=True)
class TrainResult:
    output_dir: Path
    global_step: int
    train_loss: float | None
    eval: EvalReport | None
    train_examples: int
    validation_examples: int
    packing_efficiency: float | None


class ListDataset:
    """A map-style dataset over prebuilt dict rows (what the collators take)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.rows[index]


def _leave_process_group() -> None:
    """End this rank's part in a distributed run once it has no collective left to join.

    A rank that exits with its gloo/NCCL process group still alive can abort in the group's teardown
    ("terminate called without an active exception", SIGABRT), and torchrun then reports the whole run failed
    although every rank finished. PyTorch asks every rank to call `destroy_process_group` before exit
    (torch/distributed/distributed_c10d.py). A rank that destroys its group while another still works can hang
    there, so every rank first waits at a barrier for rank 0's evaluation, then all leave together.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def load_or_train_tokenizer(
    cfg: TrainConfig, train: Sequence[ProofStep], template: PromptTemplate, out: Path, resume: bool = False
) -> Any:
    from transformers import AutoTokenizer

    source = cfg.model.tokenizer or cfg.model.name_or_path
    if source is not None:
        tok = AutoTokenizer.from_pretrained(source, trust_remote_code=cfg.model.trust_remote_code)
        if tok.pad_token_id is None:
            # Padding is always masked out (labels and attention), so reusing EOS is safe.
            tok.pad_token = tok.eos_token
        return tok
    saved = out / TOKENIZER_DIR
    if resume and (saved / "tokenizer.json").is_file():
        # Resume (or re-run) must see exactly the same token ids as the first run.
        return AutoTokenizer.from_pretrained(str(saved))
    from train.tokenizer import train_bpe_tokenizer

    texts = ["".join(format_texts(step, template)) for step in train]
    tok = train_bpe_tokenizer(texts, cfg.model.vocab_size)
    if _is_main_process():
        tok.save_pretrained(str(saved))
    return tok


def build_model(cfg: TrainConfig, tokenizer: Any) -> Any:
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    m = cfg.model
    model: Any
    dtype = torch.bfloat16 if cfg.training.bf16 else torch.float32
    if m.name_or_path is None:
        if m.max_position_embeddings < cfg.data.max_length:
            raise TrainError("model.max_position_embeddings must be at least data.max_length")
        attention: dict[str, Any] = {"attn_implementation": m.attn_implementation}
        config: Any = LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=m.hidden_size,
            num_hidden_layers=m.num_hidden_layers,
            num_attention_heads=m.num_attention_heads,
            num_key_value_heads=m.num_key_value_heads or m.num_attention_heads,
            intermediate_size=m.intermediate_size,
            max_position_embeddings=m.max_position_embeddings,
            tie_word_embeddings=m.tie_word_embeddings,
            attention_dropout=m.attention_dropout,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            **attention,
        )
        model = LlamaForCausalLM(config)
    else:
        try:
            model = AutoModelForCausalLM.from_pretrained(
                m.name_or_path,
                dtype=dtype,
                attn_implementation=m.attn_implementation,
                trust_remote_code=m.trust_remote_code,
            )
        except (OSError, ValueError) as exc:
            raise TrainError(f"cannot load model {m.name_or_path!r}: {str(exc).splitlines()[0]}") from None
        if len(tokenizer) > model.get_input_embeddings().num_embeddings:
            model.resize_token_embeddings(len(tokenizer))
    # Packed rows rely on position ids with no attention mask and no cache (block-diagonal masking).
    model.config.use_cache = False
    if cfg.lora.enabled:
        from peft import LoraConfig

        from train.peft_compat import get_lora_model

        if cfg.training.gradient_checkpointing:
            model.enable_input_require_grads()
        model = get_lora_model(
            model,
            LoraConfig(
                task_type="CAUSAL_LM",
                r=cfg.lora.r,
                lora_alpha=cfg.lora.alpha,
                lora_dropout=cfg.lora.dropout,
                target_modules=cfg.lora.target_modules
                or lora_target_modules(getattr(model.config, "model_type", None)),
            ),
        )
    return model


def _last_checkpoint(folder: Path) -> str | None:
    from transformers import trainer_utils

    if not folder.is_dir():
        return None
    found: str | None = trainer_utils.get_last_checkpoint(str(folder))  # type: ignore[no-untyped-call]
    return found


def checkpointing_argument() -> str:
    """The `TrainingArguments` field that turns on activation (gradient) checkpointing.

    transformers 5.24 renamed `gradient_checkpointing` to `activation_checkpointing` and keeps the old
    name as a deprecated alias until v6 (v5.24.0 src/transformers/training_args.py); 5.17-5.23 know only
    `gradient_checkpointing` and reject the new name. Read the dataclass's fields instead of the version.
    """
    import dataclasses

    from transformers import TrainingArguments

    names = {f.name for f in dataclasses.fields(TrainingArguments)}
    return "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"


def _training_arguments(cfg: TrainConfig, out: Path) -> Any:
    from transformers import TrainingArguments

    t = cfg.training
    extra: dict[str, Any] = {}
    if t.gradient_checkpointing:
        extra[checkpointing_argument()] = True
    return TrainingArguments(
        output_dir=str(out / CHECKPOINTS),
        num_train_epochs=t.epochs,
        max_steps=t.max_steps,
        per_device_train_batch_size=t.batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        learning_rate=t.learning_rate,
        weight_decay=t.weight_decay,
        warmup_steps=t.warmup_ratio,
        lr_scheduler_type=t.lr_scheduler,
        logging_steps=t.logging_steps,
        logging_first_step=True,
        save_strategy="steps" if t.save_steps else "epoch",
        save_steps=t.save_steps or 500,
        save_total_limit=t.save_total_limit,
        bf16=t.bf16,
        dataloader_num_workers=t.dataloader_num_workers,
        deepspeed=t.deepspeed,
        seed=cfg.seed,
        data_seed=cfg.seed,
        remove_unused_columns=False,
        report_to=t.report_to or "none",
        disable_tqdm=False,
        dataloader_pin_memory=False,
        **extra,
    )


def _save_final_model(trainer: Any, cfg: TrainConfig, out: Path) -> Any | None:
    """Save the trained model into `out` with every rank taking part; the in-memory model on one process.

    Under FSDP and DeepSpeed ZeRO-3 the weights are sharded and `Trainer.save_model` gathers the full
    state dict on every rank before the main process writes (transformers v5.24.0
    src/transformers/trainer.py `save_model`: `accelerator.get_state_dict` /
    `_zero3_consolidated_16bit_state_dict`, then `_save`, which only the main process runs through), so
    it must be called on all ranks: called on rank 0 alone it waits forever for the others. A LoRA
    model is merged in memory on one process; with several, rank 0 merges from the saved adapter.
    Returns the model to evaluate in memory, or None when it has to be read back from `out`.
    """
    merge = cfg.lora.enabled and cfg.lora.merge_on_save
    distributed = int(trainer.args.world_size) > 1
    if merge and not distributed:
        final: Any = trainer.model.merge_and_unload()
        final.config.use_cache = True
        if trainer.is_world_process_zero():
            final.save_pretrained(str(out))
        return final
    trainer.model.config.use_cache = True
    trainer.save_model(str(out))  # a collective under FSDP / ZeRO-3: every rank calls it
    if merge and trainer.is_world_process_zero():
        from peft import AutoPeftModelForCausalLM

        # The base model is loaded again here: one with its own modeling code needs the same permission.
        merged = AutoPeftModelForCausalLM.from_pretrained(
            str(out), trust_remote_code=cfg.model.trust_remote_code
        ).merge_and_unload()
        merged.config.use_cache = True
        for adapter_file in ("adapter_model.safetensors", "adapter_model.bin", "adapter_config.json"):
            (out / adapter_file).unlink(missing_ok=True)
        merged.save_pretrained(str(out))
    return None if distributed else trainer.model


def _load_saved(out: Path, cfg: TrainConfig) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    # In the dtype it was trained in: a float32 copy of a 7B model alone needs 28 GB.
    dtype = torch.bfloat16 if cfg.training.bf16 else torch.float32
    model: Any = AutoModelForCausalLM.from_pretrained(
        str(out), trust_remote_code=cfg.model.trust_remote_code, dtype=dtype
    )
    model.eval()
    return model


def run_training(
    cfg: TrainConfig,
    *,
    resume: bool | str = False,
    output_dir: str | None = None,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Prepare data, train, save a prover-loadable checkpoint, evaluate on the held-out split."""
    import torch

    threads = torch.get_num_threads()
    if cfg.training.torch_threads is not None:
        torch.set_num_threads(cfg.training.torch_threads)
    try:
        return _run_training(cfg, resume=resume, output_dir=output_dir, log=log)
    finally:
        torch.set_num_threads(threads)  # the setting is process-wide; callers keep theirs


def _run_training(
    cfg: TrainConfig,
    *,
    resume: bool | str,
    output_dir: str | None,
    log: Callable[[str], None],
) -> TrainResult:
    from transformers import Trainer, set_seed

    out = Path(output_dir or cfg.output_dir).expanduser()
    checkpoint: str | None = None
    if resume:
        checkpoint = str(resume) if isinstance(resume, str) else _last_checkpoint(out / CHECKPOINTS)
        if checkpoint is None or not Path(checkpoint).is_dir():
            raise TrainError(f"nothing to resume: no checkpoint under {out / CHECKPOINTS}")
    out.mkdir(parents=True, exist_ok=True)
    set_seed(cfg.seed)
    if checkpoint is None and _last_checkpoint(out / CHECKPOINTS) is not None:
        log(
            f"note: {out / CHECKPOINTS} holds checkpoints of an earlier run; this run starts afresh (use --resume to continue)"
        )

    data: PreparedData = prepare_data(cfg.data, cfg.seed)
    template = get_template(cfg.template)
    log(
        f"data: {data.stats.read} rows read, {data.stats.kept} kept ({data.stats.duplicates} duplicates); "
        f"train {len(data.train)} rows / {data.split.train_groups} theorems, "
        f"validation {len(data.validation)} rows / {data.split.validation_groups} theorems"
    )
    tokenizer = load_or_train_tokenizer(cfg, data.train, template, out, resume=checkpoint is not None)
    examples, dropped = tokenize_steps(data.train, template, tokenizer, cfg.data.max_length)
    if not examples:
        raise TrainError("no training example fits data.max_length")
    efficiency: float | None = None
    if cfg.training.packing:
        rows = pack_examples(examples, cfg.data.max_length, tokenizer.pad_token_id)
        efficiency = packing_efficiency(rows)
        dataset = ListDataset(as_dicts(rows))
        collator: Any = PackedCollator()
        log(
            f"packing: {len(examples)} examples into {len(rows)} rows of {cfg.data.max_length} tokens ({efficiency:.1%} real)"
        )
    else:
        dataset = ListDataset(as_dicts(examples))
        collator = PaddingCollator(tokenizer.pad_token_id)
    if dropped:
        log(f"note: {dropped} examples dropped (tactic longer than data.max_length)")
    if _is_main_process():
        (out / "data_split.json").write_text(
            json.dumps(
                {
                    "train_rows": len(data.train),
                    "validation_rows": len(data.validation),
                    "train_groups": data.split.train_groups,
                    "validation_groups": data.split.validation_groups,
                    "dropped_too_long": dropped,
                    "packing_efficiency": efficiency,
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )

    model = build_model(cfg, tokenizer)
    trainer = Trainer(model=model, args=_training_arguments(cfg, out), train_dataset=dataset, data_collator=collator)
    result = trainer.train(resume_from_checkpoint=checkpoint)
    train_loss = float(result.training_loss) if result.training_loss == result.training_loss else None

    final = _save_final_model(trainer, cfg, out)
    main = trainer.is_world_process_zero()
    if main:
        tokenizer.save_pretrained(str(out))
        from prover.generators.checkpoint import write_template_record

        write_template_record(out, template)
        log(f"saved checkpoint to {out} (load it with: prover prove --model {out})")

    report: EvalReport | None = None
    if cfg.eval.enabled and main:
        # Only rank 0 evaluates, on a model no other rank needs: in-memory when the run had one process,
        # else the saved whole model (a sharded FSDP/ZeRO-3 model's forward is a collective).
        log("evaluating on the held-out split ...")
        if final is None:
            final = _load_saved(out, cfg)
        report = evaluate_checkpoint(
            final,
            tokenizer,
            template,
            data.train,
            data.validation,
            max_length=cfg.data.max_length,
            settings=cfg.eval,
        )
        (out / "eval.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    _leave_process_group()
    return TrainResult(
        output_dir=out,
        global_step=int(trainer.state.global_step),
        train_loss=train_loss,
        eval=report,
        train_examples=len(examples),
        validation_examples=len(data.validation),
        packing_efficiency=efficiency,
    )
