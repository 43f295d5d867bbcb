"""Whole-proof sampling with a Hugging Face causal LM (informal-to-formal mode b). Imports torch lazily."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prover.config import GeneratorConfig
from prover.templates import WHOLE_PROOF_STOP


class HFCompleter:
    """One sampled completion per prompt, cut at the closing code fence."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.cfg = cfg
        device = cfg.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype: Any = "auto" if cfg.dtype == "auto" else getattr(torch, cfg.dtype)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(cfg.model)
            self.model = AutoModelForCausalLM.from_pretrained(cfg.model, dtype=dtype).to(device)
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot load model {cfg.model!r}: {str(exc).splitlines()[0]}") from None
        self.model.eval()
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "left"
        self.device = device
        self._torch = torch
        torch.manual_seed(cfg.seed)

    def __call__(self, prompts: Sequence[str]) -> list[str]:
        torch = self._torch
        batch = self.tokenizer(list(prompts), return_tensors="pt", padding=True).to(self.device)
        with torch.no_grad():
            out = self.model.generate(
                **batch,
                do_sample=True,
                temperature=self.cfg.temperature,
                top_p=self.cfg.top_p,
                max_new_tokens=self.cfg.max_new_tokens,
                pad_token_id=self.tokenizer.pad_token_id,
                stop_strings=list(WHOLE_PROOF_STOP),
                tokenizer=self.tokenizer,
            )
        new_tokens = out[:, batch["input_ids"].shape[1] :]
        texts: list[str] = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        return texts
