"""Whole-proof generation: a model writes the whole proof of a theorem, N samples per theorem, each verified.

Used by `prover prove --mode whole` and `prover sweep --mode whole` (the sweep's generator actor
wraps `WholeProofCompleter`). The prompt formats are `prover.templates.WHOLE_TEMPLATES`, chosen by
the model's preset (`prover.generators.presets`):

* DeepSeek-Prover-V1.5 continues a prompt that ends inside an open ```` ```lean4 ```` fence after
  `:= by`; its completion is the tactic block, up to the closing fence.
* DeepSeek-Prover-V2, Goedel-Prover-V2 and Kimina-Prover are chat models that reason first (a
  proof plan, or a `<think>` block) and then give the whole theorem in a ```` ```lean4 ```` block; the
  last complete block is the answer, and the proof is what follows the theorem's `:= by` there.

Only the tactic block is kept, with the theorem/lemma declarations the model wrote before the theorem when
the block uses them (`WholeProof.helpers`, which the verifier judges): the verifier rebuilds the source from
the benchmark's own header and statement, so a model that restates the theorem differently cannot change
what is proved. A completion stopped by the token limit (`Completion.hit_limit`, or a reasoning block left
open) is told apart from one that holds no proof. Sampling N proofs and verifying them is the engine's
`whole` strategy (`prover.engine.strategies.WholeStrategy`). Heavy libraries load only when a model
generator is built.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from lean_env.types import Theorem
from prover.generators.decoding import DecodingOptions
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
    from lean_env.checks.verdict import ProofVerifier, Verdict
    from prover.config import GeneratorConfig

_OPEN_FENCE = re.compile(r"^[ \t]*```[ \t]*(lean4|lean)[ \t]*$", re.MULTILINE)
_CLOSE_FENCE = re.compile(r"^[ \t]*```[ \t]*$", re.MULTILINE)
_DECL = re.compile(r"^(?:@\[[^\]]*\]\s*)?(?:(?:private|protected|noncomputable)\s+)*(theorem|lemma|example)\b", re.M)


@dataclass(frozen=True)
class Completion:
    """One sampled completion; `hit_limit`: the model was stopped by the token limit (`max_new_tokens`), not by
    EOS or a stop string, so a reasoning model may have been cut off before it wrote any proof."""

    text: str
    hit_limit: bool = False


def as_completion(item: str | Completion) -> Completion:
    """`item` as a `Completion` (a plain string: a completion of unknown length, not known to be cut)."""
    return item if isinstance(item, Completion) else Completion(item)


class WholeProofModel(Protocol):
    """Raw completions: `n` sampled completions for each already rendered prompt."""

    def __call__(self, prompts: Sequence[str], n: int) -> Sequence[Sequence[str | Completion]]: ...


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


@dataclass(frozen=True)
class WholeProof:
    """What a whole-proof completion stands for: the judged theorem's tactic block and, where the model wrote
    lemmas before the theorem and the proof uses them, those declarations (`helpers`, as the model wrote them).

    The verifier decides whether the helpers may stand before the theorem
    (`lean_env.checks.static.helper_declarations_problem`: attribute-free `theorem`/`lemma` with fresh names
    only); nothing here judges them."""

    proof: str
    helpers: str = ""


# Header commands a model repeats at the top of its answer (Kimina-Prover's `split_proof_header` drops the
# `import` lines; Goedel-Prover-V2's `clean_code_string` drops `import`, `set_option` and `open` lines): the
# verifier uses the benchmark's own header, so before the first declaration these lines go.
_HEADER_LINE = re.compile(r"^(?:import|set_option|open)\b.*$", re.MULTILINE)
_DECL_NAME = re.compile(r"\s*(«[^»]+»|[^\s:({\[]+)")


def _decl_name(code: str, decl: re.Match[str]) -> str:
    found = _DECL_NAME.match(code, decl.end())
    return found.group(1).strip("«»") if found else ""


def _mentions(proof: str, name: str) -> bool:
    short = name.rsplit(".", 1)[-1]
    return bool(short) and re.search(rf"(?<![\w.']){re.escape(short)}(?![\w'])", proof) is not None


def _helpers_before(code: str, decls: list[re.Match[str]], chosen: re.Match[str], proof: str) -> str:
    """The text the model wrote between its header lines and the judged theorem, when the proof uses a
    theorem or lemma declared there (else nothing: a tactic block that stands alone is checked alone)."""
    before = [d for d in decls if d.start() < chosen.start()]
    names = [_decl_name(code, d) for d in before]
    if not any(_mentions(proof, name) for name in names if name):
        return ""
    first = before[0].start()
    helpers = _HEADER_LINE.sub("", code[:first]) + code[first : chosen.start()]
    # Comments after the last helper (the theorem's own doc comment) are not part of any helper.
    from lean_env.source.lexer import LexError, tokenize

    try:
        tokens = tokenize(helpers, keep_comments=False)
    except LexError:
        tokens = []
    if tokens:
        helpers = helpers[: tokens[-1].end]
    return helpers.strip("\n").rstrip()


def _proof_of(code: str, theorem_name: str | None) -> WholeProof | None:
    """The tactic block after `:= by` of the named theorem in `code` (else of its last theorem), with the
    helper lemmas written before it that the block uses (Kimina-Prover's extractor, `kimina_prover_demo/
    utils.py` `extract_proof_from_text`, keeps the whole last lean4 block)."""
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
    if not proof:
        return None
    return WholeProof(proof, _helpers_before(code, decls, chosen, proof))


def _dedent(block: str) -> str:
    lines = block.split("\n")
    indents = [len(ln) - len(ln.lstrip()) for ln in lines if ln.strip()]
    cut = min(indents, default=0)
    return "\n".join(ln[cut:] for ln in lines)


def read_whole_proof(
    completion: str, theorem_name: str | None = None, continuation: bool | None = None
) -> WholeProof | None:
    """The proof a whole-proof completion stands for (tactic block and helper lemmas), or None when it holds none.

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
        return WholeProof(_dedent(body).strip("\n")) if body.strip() else None
    code = _last_lean_block(text)
    if code is None:
        return None
    return _proof_of(code, theorem_name)


def extract_whole_proof(
    completion: str, theorem_name: str | None = None, continuation: bool | None = None
) -> str | None:
    """The tactic block of `read_whole_proof` (helper lemmas left out), or None."""
    found = read_whole_proof(completion, theorem_name, continuation)
    return found.proof if found is not None else None


def cut_while_reasoning(completion: str) -> bool:
    """Whether the completion ends inside an open reasoning block: the token limit stopped the model before
    it answered (`sanitize.drop_reasoning`)."""
    return drop_reasoning(completion.replace("\r\n", "\n")) is None


def verify_whole_proof(verifier: ProofVerifier, theorem: Theorem, found: WholeProof) -> Verdict:
    """`verifier`'s verdict on `found`: helper lemmas go to a verifier that takes them (`helpers`, the REPL
    verifier, which judges them); any other verifier refuses a proof that needs them, in one line."""
    if not found.helpers.strip():
        return verifier.verify(theorem, found.proof)
    import inspect

    from lean_env.checks.verdict import Rejected

    try:
        takes_helpers = "helpers" in inspect.signature(verifier.verify).parameters
    except (TypeError, ValueError):
        takes_helpers = False
    if not takes_helpers:
        return Rejected(
            f"the proof uses lemmas written before the theorem, which {type(verifier).__name__} cannot check"
        )
    verdict: Verdict = verifier.verify(theorem, found.proof, helpers=found.helpers)  # type: ignore[call-arg]
    return verdict


# ----------------------------------------------------------------------------- models


class HFWholeProofModel:
    """Sampled completions from an `HFGenerator` (its prompt template is the identity; stops per template).

    The prompts x samples go through the generator's memory plan, as tactic generation does: a pass@32 of
    16K-token proofs is split over several `generate` calls (and halved again on out-of-memory)."""

    def __init__(self, generator: Any) -> None:
        self.generator = generator
        self.tokenizer = generator.tokenizer

    def __call__(self, prompts: Sequence[str], n: int) -> list[list[Completion]]:
        # A sample without an end token runs to the limit (`RawSequence.num_tokens` counts through EOS).
        limit = self.generator.max_new_tokens
        return [
            [Completion(raw.text, raw.num_tokens >= limit) for raw in raws]
            for raws in self.generator.generate_planned(list(prompts), n)
        ]


class VLLMWholeProofModel:
    """Sampled completions from a `vllm.LLM` (`SamplingParams(n=...)`, stopping at the template's stops)."""

    def __init__(self, generator: Any) -> None:
        self.generator = generator
        self.tokenizer = generator.llm.get_tokenizer()

    def __call__(self, prompts: Sequence[str], n: int) -> list[list[Completion]]:
        # `len(token_ids)` reaches `max_tokens` only when vLLM stopped for length (finish_reason "length").
        limit = self.generator.max_new_tokens
        return [
            [Completion(text, tokens >= limit) for text, _, tokens in seqs]
            for seqs in self.generator.generate_raw(list(prompts), n)
        ]


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
    sampling = DecodingOptions(
        decoding="sample",
        max_new_tokens=cfg.max_new_tokens,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        seed=cfg.seed,
    )
    if cfg.kind == "vllm":
        from prover.generators.vllm import VLLMGenerator, _engine_kwargs, _one_line, import_vllm

        vllm = import_vllm()
        engine_kwargs = _engine_kwargs(cfg)  # a refused model fails here, in its own words
        try:
            llm = vllm.LLM(**engine_kwargs)
        except Exception as exc:  # noqa: BLE001 - any engine start failure is reported as one line
            raise RuntimeError(f"cannot load model {cfg.model!r} with vLLM: {_one_line(exc)}") from None
        vmodel = VLLMWholeProofModel(VLLMGenerator(llm, identity, sampling))
        return WholeProofSetup(vmodel, template, vmodel.tokenizer)
    if cfg.kind != "hf":
        raise ValueError(f"whole-proof generation needs a model (generator kind 'hf' or 'vllm'), not {cfg.kind!r}")
    from prover.generators.hf import HFGenerator, HFOptions, prompt_budget

    hf = HFGenerator.from_pretrained(
        cfg.model,
        identity,
        device=cfg.device,
        dtype=cfg.dtype,
        trust_remote_code=cfg.trust_remote_code,
        device_map=cfg.device_map,
        decode=replace(sampling, max_prompt_tokens=prompt_budget(cfg)),
        hf=HFOptions(batch_size=cfg.batch_size),
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

    def __call__(self, prompts: Sequence[str]) -> list[Completion]:
        rendered = [render_prompt(self.setup.template, p, self.setup.tokenizer) for p in prompts]
        return [as_completion(outs[0]) if outs else Completion("") for outs in self.setup.model(rendered, 1)]

    def chat(self, conversations: Sequence[list[dict[str, str]]]) -> list[Completion]:
        """One reply per conversation, each rendered by the tokenizer's own chat template (self-correction)."""
        rendered = [self._render(c) for c in conversations]
        return [as_completion(outs[0]) if outs else Completion("") for outs in self.setup.model(rendered, 1)]

    def prompt_tokens(self, conversation: list[dict[str, str]]) -> int:
        """The rendered conversation's size in the model's tokens (the correction's 3/4-of-context rule)."""
        encode = getattr(self.setup.tokenizer, "encode", None)
        return len(encode(self._render(conversation), add_special_tokens=False)) if callable(encode) else 0

    def _render(self, conversation: list[dict[str, str]]) -> str:
        if not self.setup.template.chat or self.setup.tokenizer is None:
            raise ValueError(f"self-correction continues a chat; the {self.setup.template.name!r} prompt is not one")
        return str(self.setup.tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True))
