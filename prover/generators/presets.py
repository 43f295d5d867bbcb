"""Model presets: how each open prover model is prompted, decoded and read, from its own card.

A preset names a mode (`step`: one tactic per proof state, used by `prove`, `suggest`, `serve` and
sweep search; `whole`: a whole proof per theorem, used by `prove --mode whole` and
`sweep --mode whole`), a prompt template (`prover.templates`), decoding defaults and the model ids
it applies to. Sources are listed in docs/generators.md.

Resolution (`apply_preset`): an explicit `template` (config key or `--template`, a preset or a
template name) wins; else a trained checkpoint's recorded template; else the preset whose pattern
the model id contains; else Llemma's, with a one-line warning (once per model id). Decoding keys
the user did not set (`decoding`, `temperature`, `top_p`, `max_new_tokens`) come from the preset.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from prover.templates import TEMPLATES, WHOLE_TEMPLATES

if TYPE_CHECKING:
    from prover.config import GeneratorConfig

Mode = Literal["step", "whole"]


@dataclass(frozen=True)
class ModelPreset:
    """One model family's settings. `patterns` are lower-case substrings of hub ids that select it."""

    name: str
    mode: Mode
    template: str
    patterns: tuple[str, ...]
    source: str
    decoding: Literal["beam", "sample"] = "beam"
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 256


PRESETS: dict[str, ModelPreset] = {
    p.name: p
    for p in (
        # The reference: Llemma's few-shot tactic prompt and beam search (../shared/data/PROMPTS.md).
        ModelPreset("llemma", "step", "llemma", ("llemma",), "https://github.com/wellecks/llemma_formal2formal"),
        ModelPreset(
            "bfs-prover-v2",
            "step",
            "bfs",
            ("bfs-prover",),
            "https://huggingface.co/ByteDance-Seed/BFS-Prover-V2-7B",
            max_new_tokens=128,
        ),
        # InternLM-Math minif2f/proofsearch_internLM2.5-StepProver.py: beam search (`temperatures` [0.0],
        # `use_beam_search=temperature==0.0`, length_penalty 0), 32 samples, `max_tokens=256`. Its checkpoints
        # ship their own modeling code: `trust_remote_code = true`.
        ModelPreset(
            "internlm2.5-step-prover",
            "step",
            "internlm-step",
            ("internlm2_5-step-prover", "internlm2.5-step-prover"),
            "https://github.com/InternLM/InternLM-Math/blob/main/minif2f/proofsearch_internLM2.5-StepProver.py",
        ),
        # The same search for InternLM2-StepProver (minif2f/proofsearch_internLM2-StepProver.py).
        ModelPreset(
            "internlm2-step-prover",
            "step",
            "internlm2-step",
            ("internlm2-step-prover",),
            "https://github.com/InternLM/InternLM-Math/blob/main/minif2f/proofsearch_internLM2-StepProver.py",
        ),
        # ReProver's ByT5 tactic generators (lean-dojo/ReProver@fd6d99c prover/tactic_generator.py): the input is
        # the pretty-printed state (with retrieval: premises prepended, `prover.premises.reprover_format`), the
        # tactic ends at EOS, beam search with length penalty 0 and at most 512 output bytes (prover/evaluate.py).
        ModelPreset(
            "reprover",
            "step",
            "reprover",
            ("leandojo-lean4-tacgen-byt5",),
            "https://huggingface.co/kaiyuy/leandojo-lean4-tacgen-byt5-small",
            max_new_tokens=512,
        ),
        ModelPreset(
            "reprover-retrieval",
            "step",
            "reprover",
            ("leandojo-lean4-retriever-tacgen-byt5",),
            "https://huggingface.co/kaiyuy/leandojo-lean4-retriever-tacgen-byt5-small",
            max_new_tokens=512,
        ),
        # DeepSeek-Prover-V1.5's official sampling config (configs/sampling.py) runs the RL model in CoT mode
        # (`mode='cot'`: prover/utils.py `cot_prompt`), temperature 1, top-p 0.95, 2048 tokens; checked first,
        # so `-RL` ids get it. The non-CoT prompt stays: `--template deepseek-prover-v1.5`.
        ModelPreset(
            "deepseek-prover-v1.5-cot",
            "whole",
            "deepseek-v1.5-cot",
            ("deepseek-prover-v1.5-rl",),
            "https://github.com/deepseek-ai/DeepSeek-Prover-V1.5/blob/main/configs/sampling.py",
            decoding="sample",
            temperature=1.0,
            top_p=0.95,
            max_new_tokens=2048,
        ),
        ModelPreset(
            "deepseek-prover-v1.5",
            "whole",
            "deepseek-v1.5",
            ("deepseek-prover-v1.5",),
            "https://huggingface.co/deepseek-ai/DeepSeek-Prover-V1.5-RL",
            decoding="sample",
            temperature=1.0,
            top_p=0.95,
            max_new_tokens=2048,
        ),
        # Goedel-Prover-SFT (V1): eval/step1_inference.py formats DeepSeek-Prover-V1.5's CoT prompt, samples at
        # temperature 1.0, top_p 0.95, max_tokens 2048, and reads the first lean4 block of prompt + output.
        ModelPreset(
            "goedel-prover-sft",
            "whole",
            "deepseek-v1.5-cot",
            ("goedel-prover-sft",),
            "https://github.com/Goedel-LM/Goedel-Prover/blob/main/eval/step1_inference.py",
            decoding="sample",
            temperature=1.0,
            top_p=0.95,
            max_new_tokens=2048,
        ),
        ModelPreset(
            "deepseek-prover-v2",
            "whole",
            "deepseek-v2",
            ("deepseek-prover-v2",),
            "https://huggingface.co/deepseek-ai/DeepSeek-Prover-V2-7B",
            decoding="sample",
            temperature=1.0,
            top_p=0.95,
            max_new_tokens=8192,
        ),
        ModelPreset(
            "goedel-prover-v2",
            "whole",
            "goedel-v2",
            ("goedel-prover-v2",),
            "https://github.com/Goedel-LM/Goedel-Prover-V2",
            decoding="sample",
            temperature=1.0,
            top_p=0.95,
            # README: "the standard 32K" output tokens; scripts/pipeline.sh runs vLLM with MAX_MODEL_LEN=40960.
            max_new_tokens=32768,
        ),
        ModelPreset(
            "kimina-prover",
            "whole",
            "kimina",
            ("kimina-prover",),
            "https://huggingface.co/AI-MO/Kimina-Prover-72B",
            decoding="sample",
            temperature=0.6,
            top_p=0.95,
            max_new_tokens=8192,
        ),
    )
}

_DECODING_KEYS = ("decoding", "temperature", "top_p", "max_new_tokens")

# Prover ids known to have no preset, and why (the fallback warning says so).
WITHOUT_PRESET: dict[str, str] = {
    "deepseek-prover-v1": "its model card and paper publish no prompt format or evaluation code",
}

log = logging.getLogger(__name__)
_warned: set[str] = set()


def fallback_warning(model: str) -> str:
    """The one-line warning for a model id that gets Llemma's prompt only because nothing else is known of it."""
    name = model.strip().rstrip("/").lower()
    why = next((reason for pattern, reason in WITHOUT_PRESET.items() if pattern in name), None)
    detail = f"no preset ({why})" if why else "no preset and no recorded prompt template"
    return (
        f"model {model!r} has {detail}: it gets Llemma's few-shot tactic prompt; "
        "pick its format with --template (docs/generators.md lists the presets)"
    )


def _warn_fallback(model: str) -> None:
    # Once per model id and process: the preset is resolved several times per command.
    if model not in _warned:
        _warned.add(model)
        log.warning("warning: %s", fallback_warning(model))


def preset_for_model(model: str) -> ModelPreset | None:
    """The preset whose pattern the model id (or folder name) contains, case-insensitively; None if none."""
    name = model.strip().rstrip("/").lower()
    for preset in PRESETS.values():
        if any(p in name for p in preset.patterns):
            return preset
    return None


def preset_for_template(name: str) -> ModelPreset | None:
    """The preset called `name`, or the one that uses template `name` (e.g. `bfs`); None for other names."""
    if name in PRESETS:
        return PRESETS[name]
    return next((p for p in PRESETS.values() if p.template == name), None)


def template_mode(name: str) -> Mode:
    """`step` for a tactic template, `whole` for a whole-proof template; ValueError for an unknown name."""
    preset = PRESETS.get(name)
    if preset is not None:
        return preset.mode
    if name in TEMPLATES:
        return "step"
    if name in WHOLE_TEMPLATES:
        return "whole"
    known = ", ".join(sorted({*PRESETS, *TEMPLATES, *WHOLE_TEMPLATES}))
    raise ValueError(f"unknown template {name!r} (known: {known})")


@dataclass(frozen=True)
class ResolvedGenerator:
    """`config` with the preset's template and decoding defaults filled in; `mode` is what it can do."""

    config: GeneratorConfig
    preset: ModelPreset | None
    mode: Mode
    template: str  # a key of TEMPLATES or WHOLE_TEMPLATES (custom prompts: "custom")


def apply_preset(cfg: GeneratorConfig) -> ResolvedGenerator:
    """Resolve `cfg`'s preset. Keys the user set (TOML or flags: pydantic's `model_fields_set`) are kept."""
    if cfg.kind == "fixed" or cfg.custom_prompt is not None:
        return ResolvedGenerator(cfg, None, "step", "custom" if cfg.custom_prompt is not None else cfg.template)
    explicit = cfg.model_fields_set
    preset: ModelPreset | None
    if "template" in explicit:
        template_mode(cfg.template)  # unknown names fail here, in one line
        preset = preset_for_template(cfg.template)
        template = preset.template if preset is not None and cfg.template in PRESETS else cfg.template
    else:
        from prover.generators.checkpoint import read_template_record

        recorded = read_template_record(cfg.model)
        if recorded is not None:  # a checkpoint trained here knows its template; decoding stays as configured
            return ResolvedGenerator(cfg, None, "step", recorded.name)
        preset = preset_for_model(cfg.model)
        if preset is None:
            _warn_fallback(cfg.model)
            preset = PRESETS["llemma"]
        template = preset.template
    updates: dict[str, object] = {"template": template}
    if preset is not None:
        updates.update({k: getattr(preset, k) for k in _DECODING_KEYS if k not in explicit})
    resolved = cfg.model_copy(update=updates)
    return ResolvedGenerator(resolved, preset, template_mode(template), template)


def require_mode(resolved: ResolvedGenerator, mode: Mode, command: str) -> None:
    """One-line ValueError when the resolved model cannot run in `mode` (e.g. Kimina-Prover in tactic search)."""
    if resolved.mode == mode:
        return
    what = f"preset {resolved.preset.name!r}" if resolved.preset else f"template {resolved.template!r}"
    if mode == "step":
        hint = "it writes whole proofs: use `prover prove --mode whole` or `prover sweep --mode whole`"
    else:
        hint = "it proposes single tactics: use tactic search (`--mode search`)"
    raise ValueError(f"{command}: model {resolved.config.model!r} uses the {what}; {hint}, or pick --template")
