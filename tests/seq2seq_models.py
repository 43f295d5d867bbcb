"""Tiny random encoder-decoder models (ByT5-shaped: byte vocabulary, T5 layers) built in-process.

ByT5's tokenizer maps bytes to ids 3..258 and needs no vocabulary file, so no hub access is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def tiny_byt5(seed: int = 0, d_model: int = 32, layers: int = 2) -> tuple[Any, Any]:
    import torch
    import transformers

    config = transformers.T5Config(
        vocab_size=384,
        d_model=d_model,
        d_kv=8,
        d_ff=2 * d_model,
        num_layers=layers,
        num_decoder_layers=layers,
        num_heads=4,
        pad_token_id=0,
        eos_token_id=1,
    )
    config.decoder_start_token_id = 0  # a T5 config attribute that transformers 5 no longer lists as a parameter
    torch.manual_seed(seed)
    model = transformers.T5ForConditionalGeneration(config).eval()
    return model, transformers.ByT5Tokenizer()


def save_tiny_byt5(folder: Path, seed: int = 0) -> Path:
    model, tokenizer = tiny_byt5(seed)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
