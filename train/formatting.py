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


def completion_ids(tokenizer: Any, prompt: str, completion: str) -> tuple[list[int], list[int]]:
    """(prompt ids, completion ids) as generation sees them: the completion tokenised after the prompt.

    Generation feeds `tokenizer(prompt)` (with BOS) and the model continues it, so the completion's
    tokens are the ones that follow the prompt in `tokenizer(prompt + completion)`. Tokenising the
    completion on its own is wrong for SentencePiece-style tokenizers: Llama's `Metaspace(replacement="▁",
    prepend_scheme="first")` pre-tokenizer (transformers v5.24.0 src/transformers/models/llama/
    tokenization_llama.py; `_get_prepend_scheme` in tokenization_utils_base.py) puts "▁" (id 29871 in
    Llama 2) before the first piece of every separately encoded text, a token inference never produces.

    When the tokenizer merges characters across the seam (the joint ids do not start with the prompt's
    own ids), the joint tokenisation is used for the whole example and the completion starts at the
    first token that reaches past the prompt text (fast tokenizers; others fall back to the prompt's ids
    plus the completion's joint-suffix ids).
    """
    prompt_ids = _ids(tokenizer, prompt, special=True)
    joint = _ids(tokenizer, prompt + completion, special=True)
    if joint[: len(prompt_ids)] == prompt_ids:
        return prompt_ids, joint[len(prompt_ids) :]
    try:
        offsets = tokenizer(prompt + completion, add_special_tokens=True, return_offsets_mapping=True)["offset_mapping"]
    except (NotImplementedError, ValueError, TypeError):  # slow tokenizers have no offsets
        offsets = None
    if offsets is None:
        return prompt_ids, joint[len(prompt_ids) :]
    # Special tokens have (0, 0) spans; the first token ending past the prompt opens the completion.
    cut = next((i for i, (_, end) in enumerate(offsets) if end > len(prompt)), len(joint))
    return joint[:cut], joint[cut:]


def tokenize_step(
    step: ProofStep,
    template: PromptTemplate,
    tokenizer: Any,
    max_length: int,
    blank_state: bool = False,
) -> TokenizedExample | None:
    """Prompt ids exactly as the generator tokenises the prompt, then the completion's ids as they follow
    it in the joint tokenisation (`completion_ids`), then EOS.

    A prompt that does not fit loses the start of its state (the goal `⊢ ...` is at the end). Returns
    None when even the completion alone does not fit. The template's text ends every prompt, so the
    completion's ids do not depend on how much of the state is kept.
    """
    prompt, completion = format_texts(step, template, blank_state)
    prompt_ids, tail = completion_ids(tokenizer, prompt, completion)
    target = tail + [tokenizer.eos_token_id]
    budget = max_length - len(target)
    if budget < len(_ids(tokenizer, template.render(""), special=True)) + 1:
        return None
    state = "" if blank_state else step.state
    while len(prompt_ids) > budget and state:
        # Drop state tokens from the left by the overflow, then re-render (tokenisation is not additive).
        enc = tokenizer(state, add_special_tokens=False, return_offsets_mapping=True)
        overflow = len(prompt_ids) - budget
        offsets = enc["offset_mapping"]
        cut = offsets[min(overflow, len(offsets) - 1)][0] if overflow < len(offsets) else len(state)
        state = state[max(cut, 1) :]
        prompt_ids, tail = completion_ids(tokenizer, template.render(state), completion)
        target = tail + [tokenizer.eos_token_id]
    if len(prompt_ids) + len(target) > max_length:
        return None
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
