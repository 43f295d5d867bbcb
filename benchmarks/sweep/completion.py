"""Whole-proof sampling for the sweep (informal-to-formal mode b): `prover.generators.whole_proof` does the work.

The model, its prompt template (the model's preset: DeepSeek-Prover-V1.5's few-shot continuation, or a chat
template for DeepSeek-Prover-V2, Goedel-Prover-V2, Kimina-Prover) and its decoding come from the config;
torch/vLLM load only when the completer is built (in the generator actor).
"""

from __future__ import annotations

from prover.config import GeneratorConfig
from prover.generators.whole_proof import WholeProofCompleter, load_whole_proof_model


class HFCompleter(WholeProofCompleter):
    """One sampled completion per request (kind `hf` or `vllm`); the model loads once, here."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__(load_whole_proof_model(cfg))
