"""Whole-proof sampling (informal-to-formal mode b) over `prover.generators.hf.HFGenerator`. Imports torch lazily."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from prover.config import GeneratorConfig
from prover.templates import WHOLE_PROOF_STOP, PromptTemplate

if TYPE_CHECKING:
    from prover.generators.hf import HFGenerator

# The whole-proof prompt is built by the sweep; the model continues it until the closing code fence.
WHOLE_PROOF_TEMPLATE = PromptTemplate(name="whole-proof", prompt="{state}", stop=WHOLE_PROOF_STOP)


class HFCompleter:
    """One sampled completion per prompt, cut at the closing code fence (the model loads once, here)."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        from prover.generators.hf import HFGenerator

        self.generator: HFGenerator = HFGenerator.from_pretrained(
            cfg.model,
            WHOLE_PROOF_TEMPLATE,
            device=cfg.device,
            dtype=cfg.dtype,
            decoding="sample",  # pass@N needs independent samples, not the N best beams
            max_new_tokens=cfg.max_new_tokens,
            batch_size=cfg.batch_size,
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            seed=cfg.seed,
        )

    def __call__(self, prompts: Sequence[str]) -> list[str]:
        return [raws[0].text if raws else "" for raws in self.generator.generate_raw(prompts, 1)]
