"""Proofsteps to token ids with the prover's own prompt templates; only the tactic tokens carry loss."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prover.templates import PromptTemplate
from train.data import ProofStep

IGNORE_INDEX = -100  # the label value torch's cross-entropy skips


@dataclass(frozen=True)
class TokenizedExample:
    input_ids: list[int]
    labels: list[int]  # IGNORE_INDEX on prompt tokens

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def num_target_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


def format_texts(step: ProofStep, template: PromptTemplate, blank_state: bool = False) -> tuple[str, str]:
    """(prompt, completion): exactly what the generator renders, and what it should produce."""
    return template.render("" if blank_state else step.state), template.completion(step.tactic)


def _ids(tokenizer: Any, text: str, special: bool) -> list[int]:
    return list(tokenizer(text, add_special_tokens=special)["input_ids"])


def tokenize_step(
    step: ProofStep,
    template: PromptTemplate,
    tokenizer: Any,
    max_length: int,
    blank_state: bool = False,
) -> TokenizedExample | None:
    """Prompt and completion are tokenised separately (as at generation time) and EOS ends the completion.

    A prompt that does not fit loses the start of its state (the goal `⊢ ...` is at the end). Returns
    None when even the completion alone does not fit.
    """
    prompt, completion = format_texts(step, template, blank_state)
    target = _ids(tokenizer, completion, special=False) + [tokenizer.eos_token_id]
    prompt_ids = _ids(tokenizer, prompt, special=True)
    budget = max_length - len(target)
    if budget < len(_ids(tokenizer, template.render(""), special=True)) + 1:
        return None
    state = step.state
    while len(prompt_ids) > budget and state:
        # Drop state tokens from the left by the overflow, then re-render (tokenisation is not additive).
        enc = tokenizer(state, add_special_tokens=False, return_offsets_mapping=True)
        overflow = len(prompt_ids) - budget
        offsets = enc["offset_mapping"]
        cut = offsets[min(overflow, len(offsets) - 1)][0] if overflow < len(offsets) else len(state)
        state = state[max(cut, 1) :]
        prompt_ids = _ids(tokenizer, template.render(state), special=True)
    return TokenizedExample(
        input_ids=prompt_ids + target,
        labels=[IGNORE_INDEX] * len(prompt_ids) + target,
    )


def tokenize_steps(
    steps: Sequence[ProofStep],
    template: PromptTemplate,
    tokenizer: Any,
    max_length: int,
    blank_state: bool = False,
) -> tuple[list[TokenizedExample], int]:
    """Tokenised examples and how many were dropped as too long."""
    out: list[TokenizedExample] = []
    dropped = 0
    for step in steps:
        ex = tokenize_step(step, template, tokenizer, max_length, blank_state)
        if ex is None:
            dropped += 1
        else:
            out.append(ex)
    return out, dropped
