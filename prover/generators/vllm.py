"""Tactic generation over vLLM (optional, GPU): the same contract as `HFGenerator`.

vLLM is imported only when this generator is built; without it, a one-line RuntimeError
says how to install it. Beam decoding uses `LLM.beam_search` (vLLM >= 0.6.3), which has no
stop strings, so completions are cut with the template afterwards; sampling stops at them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from prover.generators.sanitize import Sanitizer
from prover.templates import PromptTemplate, get_template
from search.types import Candidate, GenRequest

if TYPE_CHECKING:
    from prover.config import GeneratorConfig

INSTALL_HINT = "vLLM is not installed: `pip install vllm` on a CUDA machine (or use generator kind 'hf')"


def import_vllm() -> Any:
    try:
        import vllm
    except ImportError:
        raise RuntimeError(INSTALL_HINT) from None
    return vllm


class VLLMGenerator:
    """`TacticGenerator` over a vLLM engine; log-probabilities are the engine's cumulative ones."""

    def __init__(
        self,
        llm: Any,
        template: PromptTemplate | str = "llemma",
        *,
        decoding: str = "beam",
        max_new_tokens: int = 256,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seed: int = 0,
        length_penalty: float = 0.0,
        allow_native_decide: bool = False,
    ) -> None:
        if decoding not in ("beam", "sample"):
            raise ValueError(f"decoding must be 'beam' or 'sample', got {decoding!r}")
        self.llm = llm
        self.template = get_template(template) if isinstance(template, str) else template
        self.decoding = decoding
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.seed = seed
        self.length_penalty = length_penalty
        self.sanitizer = Sanitizer(self.template, allow_native_decide=allow_native_decide)

    @classmethod
    def from_config(cls, cfg: GeneratorConfig, template: PromptTemplate) -> VLLMGenerator:
        vllm = import_vllm()
        dtype = "bfloat16" if cfg.dtype == "auto" else cfg.dtype
        try:
            llm = vllm.LLM(model=cfg.model, dtype=dtype, seed=cfg.seed)
        except Exception as exc:  # noqa: BLE001 - any engine start failure is reported as one line
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise RuntimeError(f"cannot load model {cfg.model!r} with vLLM: {first}") from None
        return cls(
            llm,
            template,
            decoding=cfg.decoding,
            max_new_tokens=cfg.max_new_tokens,
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            seed=cfg.seed,
        )

    def prompt(self, request: GenRequest) -> str:
        return self.template.render_request(request.state, request.context, request.prefix)

    def _raw(self, prompts: list[str], n: int) -> list[list[tuple[str, float, int]]]:
        vllm = import_vllm()
        if self.decoding == "beam":
            from vllm.sampling_params import BeamSearchParams

            params = BeamSearchParams(beam_width=n, max_tokens=self.max_new_tokens, length_penalty=self.length_penalty)
            outputs = self.llm.beam_search([{"prompt": p} for p in prompts], params)
            tokenizer = self.llm.get_tokenizer()
            result = []
            for prompt, out in zip(prompts, outputs, strict=True):
                # Beam sequences hold the prompt tokens too; decode only the completion.
                prompt_len = len(tokenizer(prompt)["input_ids"])
                seqs = []
                for seq in out.sequences:
                    generated = list(seq.tokens[prompt_len:])
                    text = tokenizer.decode(generated, skip_special_tokens=True)
                    seqs.append((text, float(seq.cum_logprob), max(len(generated), 1)))
                result.append(seqs)
            return result
        params = vllm.SamplingParams(
            n=n,
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_new_tokens,
            stop=list(self.template.stop) or None,
            seed=self.seed,
        )
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        return [
            [(c.text, float(c.cumulative_logprob or 0.0), max(len(c.token_ids), 1)) for c in out.outputs]
            for out in outputs
        ]

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        if k <= 0:
            return [[] for _ in requests]
        raws = self._raw([self.prompt(r) for r in requests], k)
        out: list[list[Candidate]] = []
        for request, seqs in zip(requests, raws, strict=True):
            best: dict[str, Candidate] = {}
            for text, logprob, num in seqs:
                if not math.isfinite(logprob):
                    continue
                if request.prefix:
                    text = self.template.completion_prefix + request.prefix + text
                tactic = self.sanitizer(text, request.prefix)
                if tactic is None:
                    continue
                if tactic not in best or logprob > best[tactic].logprob:
                    best[tactic] = Candidate(tactic=tactic, logprob=logprob, num_tokens=num)
            out.append(sorted(best.values(), key=lambda c: -c.logprob)[:k])
        return out
