"""Tactic generators: one interface (`search.types.TacticGenerator`), several implementations.

- `HFGenerator` (hf.py): a Hugging Face causal LM, batched beam search or sampling.
- `Seq2SeqGenerator` (seq2seq.py): an encoder-decoder (ReProver's ByT5 models), CPU-friendly.
- `VLLMGenerator` (vllm.py): the same over vLLM (optional, GPU).
- `FixedTacticGenerator` (fixed.py): automation tactics with priors; a baseline and a fallback.
- `CombinedGenerator` (combined.py): model + fallback, merged and deduplicated.
- `presets.py`: per-model prompt/decoding presets (Llemma, BFS-Prover-V2, InternLM2.5-StepProver,
  DeepSeek-Prover-V1.5/V2, Goedel-Prover-V2, Kimina-Prover); a known model id picks its preset.
- `whole_proof.py`: whole-proof generation (N proofs per theorem) for the whole-proof presets.

Heavy libraries (torch, transformers, vllm) are imported only when a model generator is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prover.config import GeneratorConfig
from prover.generators.checkpoint import read_template_record, write_template_record
from prover.generators.combined import CombinedGenerator, merge_candidates
from prover.generators.fixed import DEFAULT_FIXED_TACTICS, FixedTacticGenerator
from prover.generators.presets import PRESETS, ModelPreset, apply_preset, preset_for_model, require_mode
from prover.generators.sanitize import Sanitizer, clean_tactic, sanitize_tactic
from prover.generators.seq2seq import is_seq2seq_model
from prover.templates import PromptTemplate, custom_template, get_template
from search.types import TacticGenerator

if TYPE_CHECKING:
    from prover.generators.hf import HFGenerator
    from prover.generators.vllm import VLLMGenerator

DEFAULT_TEMPLATE = GeneratorConfig.model_fields["template"].default

__all__ = [
    "DEFAULT_FIXED_TACTICS",
    "CombinedGenerator",
    "FixedTacticGenerator",
    "PRESETS",
    "HFGenerator",
    "ModelPreset",
    "Sanitizer",
    "VLLMGenerator",
    "clean_tactic",
    "make_generator",
    "merge_candidates",
    "apply_preset",
    "preset_for_model",
    "read_template_record",
    "resolve_template",
    "sanitize_tactic",
    "write_template_record",
]


def __getattr__(name: str) -> Any:
    # Lazy exports keep `import prover.generators` free of torch.
    if name == "HFGenerator":
        from prover.generators.hf import HFGenerator

        return HFGenerator
    if name == "VLLMGenerator":
        from prover.generators.vllm import VLLMGenerator

        return VLLMGenerator
    raise AttributeError(f"module 'prover.generators' has no attribute {name!r}")


def resolve_template(cfg: GeneratorConfig) -> PromptTemplate:
    """The tactic prompt for `cfg`: a custom prompt, else an explicitly chosen template or preset (config key or
    `--template`), else the checkpoint's record, else the preset the model id names (`presets.apply_preset`),
    else Llemma's. A whole-proof model raises a one-line ValueError: it has no tactic prompt.
    """
    if cfg.custom_prompt is not None:
        return custom_template(cfg.custom_prompt, stop=cfg.custom_stop)
    if cfg.kind == "fixed":
        return get_template(cfg.template)
    resolved = apply_preset(cfg)
    require_mode(resolved, "step", "tactic generation")
    recorded = (
        read_template_record(cfg.model) if resolved.preset is None and "template" not in cfg.model_fields_set else None
    )
    return recorded if recorded is not None else get_template(resolved.template)


def make_generator(cfg: GeneratorConfig) -> TacticGenerator:
    """Build the generator `cfg` describes, with its model's preset applied (template and decoding defaults).

    Model loading problems raise a one-line ValueError/RuntimeError; so does a whole-proof model (see
    `prover.generators.whole_proof` for those).
    """
    fixed = FixedTacticGenerator(cfg.fixed_tactics)
    if cfg.kind == "fixed":
        return fixed
    template = resolve_template(cfg)
    if cfg.custom_prompt is None:
        cfg = apply_preset(cfg).config
    model: TacticGenerator
    if cfg.kind == "hf" and cfg.custom_prompt is None and is_seq2seq_model(cfg.model):
        # An encoder-decoder (ReProver's ByT5): its own generator; the template only names the input.
        from prover.generators.seq2seq import Seq2SeqGenerator, retrieval_input

        model = Seq2SeqGenerator.from_config(cfg, retrieval_input(cfg))
    elif cfg.kind == "hf":
        from prover.generators.hf import HFGenerator

        model = HFGenerator.from_config(cfg, template)
    elif cfg.kind == "vllm":
        from prover.generators.vllm import VLLMGenerator

        model = VLLMGenerator.from_config(cfg, template)
    else:  # pragma: no cover - pydantic restricts `kind`
        raise ValueError(f"unknown generator kind {cfg.kind!r}")
    return CombinedGenerator(model, fixed) if cfg.combine_fixed else model
