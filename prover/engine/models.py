"""Adapters from the project's model seams to the engine's strategies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prover.engine.strategies import Sample
from prover.engine.target import ProofTarget


def count_tokens(tokenizer: Any, text: str) -> int:
    """Tokens of `text` by the model's own tokenizer (0 when there is none to ask)."""
    encode = getattr(tokenizer, "encode", None)
    if not callable(encode):
        return 0
    return len(encode(text, add_special_tokens=False))


@dataclass(frozen=True)
class SetupSampler:
    """Whole proofs from a loaded whole-proof model (`prover.generators.whole_proof.WholeProofSetup`): the
    request in the model's template (few-shot or chat), rendered with its tokenizer, `n` samples."""

    setup: Any  # WholeProofSetup

    def __call__(self, target: ProofTarget, n: int) -> list[Sample]:
        from prover.generators.whole_proof import render_prompt, whole_proof_request

        request = target.prompt or whole_proof_request(target.theorem, target.context, self.setup.template)
        prompt = render_prompt(self.setup.template, request, self.setup.tokenizer)
        [completions] = self.setup.model([prompt], n)
        return [Sample(text, count_tokens(self.setup.tokenizer, text)) for text in completions]

    def extract(self, completion: str, theorem_name: str) -> str | None:
        from prover.generators.whole_proof import extract_whole_proof

        return extract_whole_proof(completion, theorem_name, self.setup.template.continuation)
