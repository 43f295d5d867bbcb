"""Adapters from the project's model seams to the engine's strategies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prover.engine.correction import ChatTurn
from prover.engine.strategies import Sample
from prover.engine.target import ProofTarget

if TYPE_CHECKING:
    from prover.generators.whole_proof import Completion, WholeProof


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
        from prover.generators.whole_proof import as_completion, render_prompt, whole_proof_request

        request = target.prompt or whole_proof_request(target.theorem, target.context, self.setup.template)
        prompt = render_prompt(self.setup.template, request, self.setup.tokenizer)
        [completions] = self.setup.model([prompt], n)
        return [_sample(as_completion(c), self.setup.tokenizer) for c in completions]

    def extract(self, completion: str, theorem_name: str) -> WholeProof | None:
        from prover.generators.whole_proof import read_whole_proof

        return read_whole_proof(completion, theorem_name, self.setup.template.continuation)

    # The chat seam of the `correct` strategy (prover.engine.correct.ChatSampler).

    def opening(self, target: ProofTarget) -> list[ChatTurn]:
        from prover.generators.whole_proof import whole_proof_request

        if not self.setup.template.chat:
            raise ValueError(f"self-correction continues a chat; the {self.setup.template.name!r} prompt is not one")
        request = target.prompt or whole_proof_request(target.theorem, target.context, self.setup.template)
        return [ChatTurn(m["role"], m["content"]) for m in self.setup.template.messages(request)]

    def render(self, turns: Sequence[ChatTurn]) -> str:
        """The conversation in the model's own chat template (the tokenizer's, at run time)."""
        messages = [t.to_json() for t in turns]
        return str(self.setup.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))

    def chat(self, target: ProofTarget, turns: Sequence[ChatTurn], round_number: int, n: int) -> list[Sample]:
        from prover.generators.whole_proof import as_completion

        [completions] = self.setup.model([self.render(turns)], n)
        return [_sample(as_completion(c), self.setup.tokenizer) for c in completions]

    def prompt_tokens(self, turns: Sequence[ChatTurn]) -> int:
        return count_tokens(self.setup.tokenizer, self.render(turns))

    def context_tokens(self, default: int = 32768) -> int:
        """The model's context length as its tokenizer states it (a placeholder huge value means unknown)."""
        value = getattr(self.setup.tokenizer, "model_max_length", None)
        return int(value) if isinstance(value, int) and 0 < value < 10**7 else default


def _sample(completion: Completion, tokenizer: Any) -> Sample:
    return Sample(completion.text, count_tokens(tokenizer, completion.text), completion.hit_limit)
