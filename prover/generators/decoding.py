"""How a model generator decodes: the options the transformers (`hf.py`) and vLLM (`vllm.py`) generators share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Decoding = Literal["beam", "sample"]


@dataclass(frozen=True)
class DecodingOptions:
    """`decoding`: beam search or sampling; `temperature`/`top_p`/`seed` apply to sampling and `length_penalty`
    to ranking beams; `max_prompt_tokens` keeps the end of longer prompts (None: the model's context minus
    `max_new_tokens`); `allow_native_decide` lets the sanitiser pass `native_decide`."""

    decoding: Decoding = "beam"
    max_new_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0
    length_penalty: float = 0.0
    allow_native_decide: bool = False
    max_prompt_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.decoding not in ("beam", "sample"):
            raise ValueError(f"decoding must be 'beam' or 'sample', got {self.decoding!r}")
