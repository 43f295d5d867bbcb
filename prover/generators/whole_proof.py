"""Whole-proof generation: a model writes the whole proof of a theorem, N samples per theorem, each verified.

Used by `prover prove --mode whole` and `prover sweep --mode whole` (the sweep's generator actor
wraps `WholeProofCompleter`). The prompt formats are `prover.templates.WHOLE_TEMPLATES`, chosen by
the model's preset (`prover.generators.presets`):

* DeepSeek-Prover-V1.5 continues a prompt that ends inside an open ```` ```lean4 ```` fence after
  `:= by`; its completion is the tactic block, up to the closing fence.
* DeepSeek-Prover-V2, Goedel-Prover-V2 and Kimina-Prover are chat models that reason first (a
  proof plan, or a `<think>` block) and then give the whole theorem in a ```` ```lean4 ```` block; the
  last complete block is the answer, and the proof is what follows the theorem's `:= by` there.

Only the tactic block is kept: the verifier rebuilds the source from the benchmark's own header and
statement, so a model that restates the theorem differently cannot change what is proved.
Heavy libraries load only when a model generator is built.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from lean_env.types import Theorem, indent_block
from prover.generators.sanitize import drop_reasoning
from prover.templates import (
    DEEPSEEK_HEADER,
    FewShotExample,
    PromptTemplate,
    WholeProofTemplate,
    get_whole_template,
)
from search.types import InformalContext

if TYPE_CHECKING:
    from lean_env.checks.verdict import ProofVerifier
    from prover.config import GeneratorConfig

_OPEN_FENCE = re.compile(r"^[ \t]*```[ \t]*(lean4|lean)[ \t]*$", re.MULTILINE)
_CLOSE_FENCE = re.compile(r"^[ \t]*```[ \t]*$", re.MULTILINE)
_DECL = re.compile(r"^(?:@\[[^\]]*\]\s*)?(?:(?:private|protected|noncomputable)\s+)*(theorem|lemma|example)\b", re.M)


class WholeProofModel(Protocol):
    """Raw completions: `n` sampled completions for each already rendered prompt."""

    def __call__(self, prompts: Sequence[str], n: int) -> list[list[str]]: ...


# ----------------------------------------------------------------------------- prompts


def whole_proof_request(
    theorem: Theorem,
    context: InformalContext | None = None,
    template: WholeProofTemplate | str = "deepseek-v1.5",
    examples: Iterable[FewShotExample] = (),
) -> str:
    """The prompt text (continuation templates) or user message (chat templates) for `theorem`.

    `context` (informal-to-formal) adds the informal statement and proof as the template places them."""
    tpl = get_whole_template(template) if isinstance(template, str) else template
    return tpl.user_message(
        theorem.statement,
        header=theorem.header or DEEPSEEK_HEADER,
        informal_statement=context.statement if context else None,
        informal_proof=context.proof if context else None,
        examples=examples,
    )


def render_prompt(template: WholeProofTemplate, request: str, tokenizer: Any | None) -> str:
    """What the model is fed: the request as is, or wrapped in the tokenizer's own chat template.

    Raises a one-line ValueError when a chat template is needed and the tokenizer has none."""
    if not template.chat:
        return request
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        raise ValueError(f"the {template.name!r} prompt needs the model's chat template, and its tokenizer has none")
    return str(tokenizer.apply_chat_template(template.messages(request), tokenize=False, add_generation_prompt=True))


# ----------------------------------------------------------------------------- reading the answer


def _last_lean_block(text: str) -> str | None:
    """The body of the last complete ```` ```lean4 ```` (or ```` ```lean ````) block, or None."""
    body: str | None = None
    for opening in _OPEN_FENCE.finditer(text):
        closing = _CLOSE_FENCE.search(text, opening.end())
        if closing is not None:
            body = text[opening.end() + 1 : closing.start()]
    return body


def _proof_of(code: str, theorem_name: str | None) -> str | None:
    """The tactic block after `:= by` of the named theorem in `code` (else of its last theorem)."""
    decls = list(_DECL.finditer(code))
    if not decls:
        return None
    chosen = decls[-1]
    if theorem_name:
        short = theorem_name.rsplit(".", 1)[-1]
        named = [d for d in decls if re.match(rf"\s*«?{re.escape(short)}»?[\s:({{\[]", code[d.end() :])]
        if named:
            chosen = named[-1]
    start = chosen.end()
    following = [d.start() for d in decls if d.start() > start]
    end = min(following) if following else len(code)
    decl = code[start:end]
    by = re.search(r":=\s*by\b", decl)
    if by is None:
        return None
    body = decl[by.end() :]
    # The first line may hold tactics (`:= by simp`); the rest is the indented block.
    first, _, rest = body.partition("\n")
    lines = [first.strip()] if first.strip() else []
    lines += _dedent(rest.rstrip()).split("\n") if rest.strip() else []
    proof = "\n".join(lines).strip("\n")
    return proof or None


def _dedent(block: str) -> str:
    lines = block.split("\n")
    indents = [len(ln) - len(ln.lstrip()) for ln in lines if ln.strip()]
    cut = min(indents, default=0)
    return "\n".join(ln[cut:] for ln in lines)


def extract_whole_proof(
    completion: str, theorem_name: str | None = None, continuation: bool | None = None
) -> str | None:
    """The tactic block a whole-proof completion stands for, or None when it holds none.

    `continuation=True`: the completion continues a prompt that ended at `:= by` inside an open fence (the
    text up to the closing fence). False: the last complete ```` ```lean4 ```` block holds the theorem.
    None: told apart by the text (reasoning dropped first; a tagged opening fence means a code block).
    """
    text = drop_reasoning(completion.replace("\r\n", "\n"))
    if text is None:
        return None
    if continuation is None:
        continuation = _OPEN_FENCE.search(text) is None
    if continuation:
        closing = _CLOSE_FENCE.search(text)
        body = text[: closing.start()] if closing else text
        body = body.rstrip()
        return _dedent(body).strip("\n") if body.strip() else None
    code = _last_lean_block(text)
    if code is None:
        return None
    return _proof_of(code, theorem_name)


# ----------------------------------------------------------------------------- models


class HFWholeProofModel:
    """Sampled completions from an `HFGenerator` (its prompt template is the identity; stops per template).

    The prompts x samples go through the generator's memory plan, as tactic generation does: a pass@32 of
    16K-token proofs is split over several `generate` calls (and halved again on out-of-memory)."""

    def __init__(self, generator: Any) -> None:
        self.generator = generator
        self.tokenizer = generator.tokenizer

    def __call__(self, prompts: Sequence[str], n: int) -> list[list[str]]:
        return [[raw.text for raw in raws] for raws in self.generator.generate_planned(list(prompts), n)]


class VLLMWholeProofModel:
    """Sampled completions from a `vllm.LLM` (`SamplingParams(n=...)`, stopping at the template's stops)."""

    def __init__(self, generator: Any) -> None:
        self.generator = generator
        self.tokenizer = generator.llm.get_tokenizer()

    def __call__(self, prompts: Sequence[str], n: int) -> list[list[str]]:
        return [[text for text, _, _ in seqs] for seqs in self.generator.generate_raw(list(prompts), n)]


@dataclass(frozen=True)
class WholeProofSetup:
    """A loaded whole-proof model and the template its prompts use."""

    model: WholeProofModel
    template: WholeProofTemplate
    tokenizer: Any


def whole_template_for(cfg: GeneratorConfig, strict: bool = True) -> WholeProofTemplate:
    """The whole-proof template `cfg` resolves to.

    A tactic (step) model raises a one-line ValueError when `strict`; otherwise it is prompted the
    DeepSeek-Prover-V1.5 way (few-shot continuation), as `sweep --mode whole` has always done for any model."""
    from prover.generators.presets import apply_preset, require_mode

    resolved = apply_preset(cfg)
    if resolved.mode != "whole" and not strict:
        return get_whole_template("deepseek-v1.5")
    require_mode(resolved, "whole", "whole-proof generation")
    return get_whole_template(resolved.template)


def load_whole_proof_model(cfg: GeneratorConfig) -> WholeProofSetup:
    """Load `cfg`'s model for whole proofs: sampling (pass@N needs independent samples), the preset's decoding."""
    from prover.generators.presets import apply_preset

    template = whole_template_for(cfg, strict=False)
    cfg = apply_preset(cfg).config
    identity = PromptTemplate(name=f"whole:{template.name}", prompt="{state}", stop=template.stop)
    common: dict[str, Any] = {
        "decoding": "sample",
        "max_new_tokens": cfg.max_new_tokens,
        "temperature": cfg.temperature,
        "top_p": cfg.top_p,
        "seed": cfg.seed,
    }
    if cfg.kind == "vllm":
        from prover.generators.vllm import VLLMGenerator, _engine_kwargs, _one_line, import_vllm

        vllm = import_vllm()
        engine_kwargs = _engine_kwargs(cfg)  # a refused model fails here, in its own words
        try:
            llm = vllm.LLM(**engine_kwargs)
        except Exception as exc:  # noqa: BLE001 - any engine start failure is reported as one line
            raise RuntimeError(f"cannot load model {cfg.model!r} with vLLM: {_one_line(exc)}") from None
        vmodel = VLLMWholeProofModel(VLLMGenerator(llm, identity, **common))
        return WholeProofSetup(vmodel, template, vmodel.tokenizer)
    if cfg.kind != "hf":
        raise ValueError(f"whole-proof generation needs a model (generator kind 'hf' or 'vllm'), not {cfg.kind!r}")
    from prover.generators.hf import HFGenerator, prompt_budget

    hf = HFGenerator.from_pretrained(
        cfg.model,
        identity,
        device=cfg.device,
        dtype=cfg.dtype,
        trust_remote_code=cfg.trust_remote_code,
        device_map=cfg.device_map,
        batch_size=cfg.batch_size,
        max_prompt_tokens=prompt_budget(cfg),
        **common,
    )
    hmodel = HFWholeProofModel(hf)
    return WholeProofSetup(hmodel, template, hmodel.tokenizer)


class WholeProofCompleter:
    """The sweep's `ProofCompleter`: one completion per request, chat-wrapped as the template needs."""

    def __init__(self, setup: WholeProofSetup) -> None:
        self.setup = setup

    @classmethod
    def from_config(cls, cfg: GeneratorConfig) -> WholeProofCompleter:
        return cls(load_whole_proof_model(cfg))

    def __call__(self, prompts: Sequence[str]) -> list[str]:
        rendered = [render_prompt(self.setup.template, p, self.setup.tokenizer) for p in prompts]
        return [outs[0] if outs else "" for outs in self.setup.model(rendered, 1)]


# ----------------------------------------------------------------------------- prove: N proofs, verify each


@dataclass(frozen=True)
class WholeProofAttempt:
    """One sampled proof: the tactic block (None if the completion held none) and the verdict's reason."""

    proof: str | None
    verified: bool
    reason: str | None = None
    checker: str | None = None


@dataclass(frozen=True)
class WholeProofResult:
    """`proof` is the first verified tactic block (None if none was); `attempts` lists every sample."""

    theorem: str
    proof: str | None
    attempts: tuple[WholeProofAttempt, ...] = ()
    checker: str | None = None  # the verifier that accepted `proof`
    model_time_s: float = 0.0
    verify_time_s: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def proved(self) -> bool:
        return self.proof is not None


def prove_whole(
    theorem: Theorem,
    setup: WholeProofSetup,
    verifier: ProofVerifier,
    n: int,
    context: InformalContext | None = None,
    examples: Iterable[FewShotExample] = (),
) -> WholeProofResult:
    """Sample `n` whole proofs of `theorem` and verify each distinct one until one is verified.

    Nothing is reported proved unless `verifier` returned `Verified` for that exact tactic block."""
    from lean_env.checks.verdict import Verified

    if n < 1:
        raise ValueError("the number of whole proofs per theorem must be >= 1")
    request = whole_proof_request(theorem, context, setup.template, examples)
    prompt = render_prompt(setup.template, request, setup.tokenizer)
    t0 = time.perf_counter()
    [completions] = setup.model([prompt], n)
    model_time = time.perf_counter() - t0
    attempts: list[WholeProofAttempt] = []
    seen: set[str] = set()
    proof: str | None = None
    t1 = time.perf_counter()
    for completion in completions:
        body = extract_whole_proof(completion, theorem.name, setup.template.continuation)
        if body is None:
            attempts.append(WholeProofAttempt(None, False, "no proof in the completion"))
            continue
        if body in seen:
            continue
        seen.add(body)
        try:
            verdict = verifier.verify(theorem, body)
        except Exception as exc:  # a verifier crash is never a proof
            attempts.append(WholeProofAttempt(body, False, f"verifier failed: {type(exc).__name__}: {exc}"))
            continue
        ok = isinstance(verdict, Verified)
        checker = getattr(verdict, "checker", None) or None
        attempts.append(WholeProofAttempt(body, ok, None if ok else getattr(verdict, "reason", None), checker))
        if ok:
            proof = body
            break
    return WholeProofResult(
        theorem=theorem.name,
        proof=proof,
        attempts=tuple(attempts),
        checker=attempts[-1].checker if proof is not None else None,
        model_time_s=model_time,
        verify_time_s=time.perf_counter() - t1,
        stats={"samples": len(completions), "distinct": len(seen)},
    )


def render_proof(theorem: Theorem, proof: str) -> str:
    """`theorem` with `proof` as its tactic block, as the verifier checks it (for reports)."""
    return f"{theorem.statement.rstrip()} := by\n{indent_block(proof, 2)}"
