"""Tactic generation over vLLM (optional, GPU): the same contract as `HFGenerator`.

vLLM is imported only when a generator is built; without it, a one-line RuntimeError says how
to install it. Written against vLLM's own source (github.com/vllm-project/vllm, `main` as of
v0.11/v0.12): `vllm/entrypoints/llm.py` (`LLM.generate`, `LLM.beam_search`),
`vllm/sampling_params.py` (`SamplingParams`, `BeamSearchParams`), `vllm/beam_search.py`,
`vllm/outputs.py` (`RequestOutput`, `CompletionOutput`) and `vllm/v1/engine/async_llm.py`
(`AsyncLLM.generate`, an async iterator of `RequestOutput`s).

Decoding
--------
* `beam`: NOT `LLM.beam_search`. Its `BeamSearchParams` (beam_width, max_tokens, ignore_eos,
  temperature, length_penalty, include_stop_str_in_output) have no stop strings, so with the
  Llemma prompt every beam runs past `---` into invented text up to `max_tokens`, and that text is
  scored and counted too. `LLM.beam_search` is itself a loop of one-token `generate` calls with
  `SamplingParams(logprobs=2 * beam_width, max_tokens=1)` over token prompts; `StopAwareBeamSearch`
  is the same loop, written here, where a beam ends at the first stop string (or EOS). Its log-
  probability is the sum over the tactic's tokens plus the token that completed the stop string,
  as Llemma counts it (the end marker `\\n---` is part of the trained completion), and
  `num_tokens` counts the same tokens. vLLM's automatic prefix caching makes the repeated prompt
  prefixes cheap.
* `sample`: `SamplingParams(n=k, stop=template.stop, logprobs=0)`. vLLM fills
  `CompletionOutput.cumulative_logprob` only when `logprobs` is set (None otherwise, and this code
  used to read that as 0.0); `logprobs=0` returns just the sampled tokens' log-probabilities. A
  missing score raises instead of ranking every candidate 0.0. vLLM's default `logprobs_mode`
  (`raw_logprobs`) reports them under the untempered model, like `HFGenerator`.

`AsyncVLLMGenerator` does the same over `AsyncLLM`: every request is its own coroutine, so requests
from concurrent searches join vLLM's continuous batching instead of waiting for a whole batch call
(the sweep's generator actor uses it; see `benchmarks/sweep/actors.py`). For `n > 1` the async engine
streams one child completion per item unless the request asks for `RequestOutputKind.FINAL_ONLY`
(`vllm/v1/engine/parallel_sampling.py` `ParentRequest.get_outputs`; only `LLM.generate` forces it): the
requests ask for it, and the streamed completions are merged by `CompletionOutput.index` in any case.

Engine limits
-------------
* Prompts are tokenized here (`prover.generators.tokenizers.encode_prompt`, no second BOS) and cut from
  the left to `max_model_len - max_new_tokens` tokens, the HF path's rule: vLLM raises for a prompt over
  `max_model_len`, which would fail every state sent with it.
* A beam step answered with `logprobs=None` ran into `max_model_len`; as in `LLM.beam_search`, that beam
  is finished as it stands.
* Every end-of-sequence id of the model's generation config ends a beam (chat models end a turn with
  `<|im_end|>`, not the tokenizer's `<|endoftext|>`), read from the engine's
  `model_config.try_get_generation_config()` as vLLM's own sampling does.
* Sampling always sends temperature, top-p, top-k (0: off) and repetition penalty, so nothing is taken
  from a checkpoint's `generation_config.json`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prover.generators.combined import merge_candidates
from prover.generators.decoding import DecodingOptions
from prover.generators.sanitize import Sanitizer, best_candidates
from prover.generators.tokenizers import encode_prompt
from prover.templates import PromptTemplate, get_template
from search.types import Candidate, GenRequest, TacticGenerator

if TYPE_CHECKING:
    from prover.config import GeneratorConfig

INSTALL_HINT = "vLLM is not installed: `pip install vllm` on a CUDA machine (or use generator kind 'hf')"

# vLLM refuses `logprobs` above the engine's `max_logprobs` (20 by default); the beam loop asks for
# 2 * beam width next tokens per step, so the engine is started with room for beams up to 64 wide.
MAX_BEAM_WIDTH = 64

# (completion text, summed log-probability, token count): one decoded completion before sanitising.
RawSeq = tuple[str, float, int]


def import_vllm() -> Any:
    try:
        import vllm
    except ImportError:
        raise RuntimeError(INSTALL_HINT) from None
    return vllm


class MissingScoreError(RuntimeError):
    """vLLM returned a completion without `cumulative_logprob`: ranking it would be a guess."""


# ----------------------------------------------------------------------------- stop-aware beam search


@dataclass
class _Beam:
    generated: list[int]
    logprob: float


@dataclass
class _PromptBeams:
    prompt_ids: list[int]
    live: list[_Beam]
    done: list[tuple[_Beam, str]] = field(default_factory=list)


@dataclass(frozen=True)
class BeamConfig:
    """`width` beams per prompt, at most `max_tokens` new tokens; a beam ends at any of `eos_token_ids`, a
    `stop` string, or the engine's context limit."""

    width: int
    max_tokens: int
    stop: tuple[str, ...]
    eos_token_ids: tuple[int, ...] = ()
    length_penalty: float = 0.0


class StopAwareBeamSearch:
    """Beam search over a next-token oracle, with stop strings (sans I/O: the caller runs the model).

    Loop: `queries()` gives the full token list (prompt + generated) of every live beam; the caller
    answers with, for each, the `2 * width` most likely next tokens and their log-probabilities
    (what vLLM returns for `SamplingParams(max_tokens=1, logprobs=2 * width, temperature=0)`), or None
    where the engine generated nothing because the beam filled its context (the beam is then finished);
    `advance(answers)` extends and prunes the beams. When `finished`, `results()` gives, per prompt,
    up to `width` (text, logprob, num_tokens) best first, the text cut before the stop string.
    Beams are ranked by `logprob / num_tokens ** length_penalty` (HF's and vLLM's rule); the reported
    logprob is always the plain sum.
    """

    def __init__(self, prompts: Sequence[Sequence[int]], config: BeamConfig, decode: Callable[[list[int]], str]):
        if config.width < 1:
            raise ValueError("beam width must be >= 1")
        self.config = config
        self.decode = decode
        self.steps = 0
        self._prompts = [_PromptBeams(list(p), [_Beam([], 0.0)]) for p in prompts]

    def _score(self, beam: _Beam) -> float:
        n = max(len(beam.generated), 1)
        return beam.logprob / (n**self.config.length_penalty) if self.config.length_penalty else beam.logprob

    @property
    def finished(self) -> bool:
        return all(not p.live for p in self._prompts)

    def queries(self) -> list[list[int]]:
        return [p.prompt_ids + b.generated for p in self._prompts for b in p.live]

    def advance(self, answers: Sequence[dict[int, float] | None]) -> None:
        if len(answers) != sum(len(p.live) for p in self._prompts):
            raise RuntimeError(f"beam search got {len(answers)} answers for {len(self.queries())} beams")
        width = self.config.width
        pos = 0
        self.steps += 1
        for prompt in self._prompts:
            extended: list[_Beam] = []
            for beam in prompt.live:
                answer = answers[pos]
                pos += 1
                if answer is None:  # at the context limit: kept as it stands, as the token limit does
                    prompt.done.append((beam, self.decode(beam.generated)))
                    continue
                if not answer:
                    raise MissingScoreError("vLLM returned no next-token log-probabilities for a beam")
                for token, logprob in answer.items():
                    extended.append(_Beam([*beam.generated, token], beam.logprob + logprob))
            # As vLLM's loop does: candidates that end go to the finished pool, the best `width` others live
            # on. Walking in score order and stopping once `width` live, few candidates are ever decoded.
            extended.sort(key=self._score, reverse=True)
            live: list[_Beam] = []
            for beam in extended:
                if len(live) >= width:
                    break
                ended = self._ended(beam)
                if ended is not None:
                    prompt.done.append((beam, ended))
                else:
                    live.append(beam)
            if self.steps >= self.config.max_tokens:  # the token limit: what is left is kept as it stands
                prompt.done.extend((b, self.decode(b.generated)) for b in live)
                live = []
            prompt.live = self._prune(prompt, live)

    def _ended(self, beam: _Beam) -> str | None:
        """The completion text (cut before the stop string) when `beam` just ended, else None."""
        if beam.generated[-1] in self.config.eos_token_ids:
            return self.decode(beam.generated[:-1])
        if not self.config.stop:
            return None
        text = self.decode(beam.generated)
        cuts = [text.find(s) for s in self.config.stop if s in text]
        return text[: min(cuts)] if cuts else None

    def _prune(self, prompt: _PromptBeams, live: list[_Beam]) -> list[_Beam]:
        """Stop a prompt once `width` beams ended and no live beam can still beat the worst of them."""
        done = sorted(prompt.done, key=lambda d: self._score(d[0]), reverse=True)[: self.config.width]
        prompt.done = done
        if len(done) < self.config.width or not live:
            return live
        if self.config.length_penalty:  # a normalised score can still rise: keep going to the limit
            return live
        # Log-probabilities only fall as a beam grows, so a live beam below the worst ended one is lost.
        worst = done[-1][0].logprob
        return [b for b in live if b.logprob > worst]

    def results(self) -> list[list[RawSeq]]:
        out: list[list[RawSeq]] = []
        for prompt in self._prompts:
            ranked = sorted(prompt.done, key=lambda d: self._score(d[0]), reverse=True)[: self.config.width]
            out.append([(text, beam.logprob, max(len(beam.generated), 1)) for beam, text in ranked])
        return out


def _top_logprobs(completion: Any) -> dict[int, float] | None:
    """{token id: logprob} of the one generated position of a `max_tokens=1` request (vLLM `Logprob`s); None
    when the engine generated nothing (the sequence is at `max_model_len`, as `LLM.beam_search` reads it)."""
    positions = completion.logprobs
    if not positions:
        return None
    return {int(tok): float(getattr(lp, "logprob", lp)) for tok, lp in positions[0].items()}


def _merge_streamed(outputs: Sequence[Any]) -> Any:
    """One `RequestOutput` holding every completion of a streamed request, latest per `CompletionOutput.index`.

    For `n > 1` an item carries only the children that produced output since the last one
    (`ParentRequest.get_outputs` unless FINAL_ONLY); cumulative items replace earlier ones of the same index.
    """
    final = outputs[-1]
    by_index: dict[int, Any] = {}
    for out in outputs:
        for completion in out.outputs:
            by_index[int(getattr(completion, "index", 0))] = completion
    final.outputs = [by_index[i] for i in sorted(by_index)]
    return final


def _model_config(engine: Any) -> Any:
    """vLLM's `ModelConfig` of an `LLM` (`llm.llm_engine.model_config`) or an `AsyncLLM` (`engine.model_config`)."""
    for owner in (engine, getattr(engine, "llm_engine", None)):
        config = getattr(owner, "model_config", None)
        if config is not None:
            return config
    return None


@dataclass(frozen=True)
class EngineLimits:
    """What the engine's model allows: its context length and the ids that end a sequence."""

    max_model_len: int | None
    eos_token_ids: tuple[int, ...]


def engine_limits(engine: Any, tokenizer: Any) -> EngineLimits:
    """The context limit and end ids: the tokenizer's EOS plus the generation config's `eos_token_id` list."""
    config = _model_config(engine)
    limit = getattr(config, "max_model_len", None)
    eos: set[int] = set()
    tok_eos = getattr(tokenizer, "eos_token_id", None)
    if isinstance(tok_eos, int):
        eos.add(tok_eos)
    try:
        generation = config.try_get_generation_config() if config is not None else {}
    except Exception:  # noqa: BLE001 - an unreadable generation config leaves the tokenizer's EOS
        generation = {}
    listed = (generation or {}).get("eos_token_id")
    if isinstance(listed, int):
        eos.add(listed)
    elif isinstance(listed, list | tuple):
        eos.update(int(i) for i in listed)
    return EngineLimits(int(limit) if isinstance(limit, int) else None, tuple(sorted(eos)))


def _sampled(out: Any) -> list[RawSeq]:
    seqs: list[RawSeq] = []
    for c in out.outputs:
        if c.cumulative_logprob is None:
            raise MissingScoreError(
                "vLLM returned a completion without cumulative_logprob (SamplingParams.logprobs must be set)"
            )
        seqs.append((c.text, float(c.cumulative_logprob), max(len(c.token_ids), 1)))
    return seqs


# ----------------------------------------------------------------------------- generators


def _decoding_options(cfg: GeneratorConfig) -> DecodingOptions:
    return DecodingOptions(
        decoding=cfg.decoding,
        max_new_tokens=cfg.max_new_tokens,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        seed=cfg.seed,
    )


class _VLLMBase:
    """Prompting, decoding parameters and sanitising shared by the sync and async generators."""

    def __init__(self, template: PromptTemplate | str = "llemma", decode: DecodingOptions = DecodingOptions()) -> None:
        if decode.max_prompt_tokens is not None and decode.max_prompt_tokens < 1:
            raise ValueError("max_prompt_tokens must be >= 1")
        self.max_prompt_tokens = decode.max_prompt_tokens
        self.template = get_template(template) if isinstance(template, str) else template
        self.decoding = decode.decoding
        self.max_new_tokens = decode.max_new_tokens
        self.temperature = decode.temperature
        self.top_p = decode.top_p
        self.seed = decode.seed
        self.length_penalty = decode.length_penalty
        self.sanitizer = Sanitizer(self.template, allow_native_decide=decode.allow_native_decide)
        self._seeds = itertools.count(decode.seed)

    def prompt(self, request: GenRequest) -> str:
        return self.template.render_request(
            request.state, request.context, request.prefix, request.theorem_name, request.proof_before
        )

    def sampling_params(self, n: int) -> Any:
        vllm = import_vllm()
        options: dict[str, Any] = {}
        kind = getattr(getattr(vllm, "sampling_params", None), "RequestOutputKind", None)
        if kind is not None:  # the n samples in one final output, not one child per streamed item
            options["output_kind"] = kind.FINAL_ONLY
        return vllm.SamplingParams(
            n=n,
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=0,  # off, as in the HF path; never the checkpoint's own
            repetition_penalty=1.0,
            max_tokens=self.max_new_tokens,
            stop=list(self.template.stop) or None,
            seed=next(self._seeds),
            logprobs=0,  # the sampled tokens' own log-probabilities: fills cumulative_logprob
            **options,
        )

    def step_params(self, width: int) -> Any:
        vllm = import_vllm()
        return vllm.SamplingParams(n=1, max_tokens=1, temperature=0.0, logprobs=min(2 * width, 2 * MAX_BEAM_WIDTH))

    def beam_config(self, width: int, limits: EngineLimits) -> BeamConfig:
        if width > MAX_BEAM_WIDTH:
            raise ValueError(f"beam width {width} is above the engine's limit of {MAX_BEAM_WIDTH}")
        return BeamConfig(
            width=width,
            max_tokens=self.max_new_tokens,
            stop=self.template.stop,
            eos_token_ids=limits.eos_token_ids,
            length_penalty=self.length_penalty,
        )

    def prompt_budget(self, limits: EngineLimits) -> int | None:
        """Prompt tokens kept: `max_prompt_tokens`, else the context minus `max_new_tokens` (the HF path's rule)."""
        if self.max_prompt_tokens is not None:
            return self.max_prompt_tokens
        if limits.max_model_len is None:
            return None
        return max(limits.max_model_len - self.max_new_tokens, 1)

    def encode(self, prompts: Sequence[str], tokenizer: Any, limits: EngineLimits) -> list[list[int]]:
        budget = self.prompt_budget(limits)
        return [encode_prompt(tokenizer, p, budget) for p in prompts]

    def candidates(
        self, requests: Sequence[GenRequest], raws: Sequence[Sequence[RawSeq]], k: int
    ) -> list[list[Candidate]]:
        def rank(cand: Candidate) -> float:
            return self.template.rank_key(cand.logprob, cand.num_tokens)

        out: list[list[Candidate]] = []
        for request, seqs in zip(requests, raws, strict=True):
            # The prompt already held the completion prefix and the tactic prefix: put them back before cleaning.
            lead = self.template.completion_prefix + request.prefix if request.prefix else ""
            samples = ((lead + text, logprob, num) for text, logprob, num in seqs)
            out.append(best_candidates(samples, request.prefix, self.sanitizer, rank, k))
        return out


def _engine_kwargs(cfg: GeneratorConfig) -> dict[str, Any]:
    dtype = "bfloat16" if cfg.dtype == "auto" else cfg.dtype
    from prover.generators.checkpoint import require_remote_code_allowed

    require_remote_code_allowed(cfg.model, cfg.trust_remote_code)
    kwargs: dict[str, Any] = {
        "model": cfg.model,
        "dtype": dtype,
        "seed": cfg.seed,
        "max_logprobs": 2 * MAX_BEAM_WIDTH,
        "trust_remote_code": cfg.trust_remote_code,
        "tensor_parallel_size": cfg.tensor_parallel_size,
    }
    if cfg.max_model_len is not None:  # else the model's own context length
        kwargs["max_model_len"] = cfg.max_model_len
    return kwargs


def _one_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class VLLMGenerator(_VLLMBase):
    """`TacticGenerator` over a synchronous `vllm.LLM`."""

    def __init__(
        self, llm: Any, template: PromptTemplate | str = "llemma", decode: DecodingOptions = DecodingOptions()
    ) -> None:
        super().__init__(template, decode)
        self.llm = llm
        self._limits: EngineLimits | None = None

    def limits(self) -> EngineLimits:
        if self._limits is None:
            self._limits = engine_limits(self.llm, self.llm.get_tokenizer())
        return self._limits

    @classmethod
    def from_config(cls, cfg: GeneratorConfig, template: PromptTemplate) -> VLLMGenerator:
        vllm = import_vllm()
        engine_kwargs = _engine_kwargs(cfg)  # a refused model fails here, in its own words
        try:
            llm = vllm.LLM(**engine_kwargs)
        except Exception as exc:  # noqa: BLE001 - any engine start failure is reported as one line
            raise RuntimeError(f"cannot load model {cfg.model!r} with vLLM: {_one_line(exc)}") from None
        return cls(
            llm,
            template,
            _decoding_options(cfg),
        )

    def generate_raw(self, prompts: Sequence[str], n: int) -> list[list[RawSeq]]:
        """`n` completions per prompt: beams (stop-aware) or samples, as `decoding` says."""
        tokenizer = self.llm.get_tokenizer()
        ids = self.encode(prompts, tokenizer, self.limits())
        if self.decoding == "beam":
            return self._beam(ids, n, tokenizer)
        queries = [{"prompt_token_ids": q} for q in ids]
        outputs = self.llm.generate(queries, self.sampling_params(n), use_tqdm=False)
        return [_sampled(out) for out in outputs]

    def _beam(self, ids: list[list[int]], width: int, tokenizer: Any) -> list[list[RawSeq]]:
        search = StopAwareBeamSearch(ids, self.beam_config(width, self.limits()), _decoder(tokenizer))
        params = self.step_params(width)
        while not search.finished:
            queries = [{"prompt_token_ids": q} for q in search.queries()]
            outputs = self.llm.generate(queries, params, use_tqdm=False)
            search.advance([_top_logprobs(out.outputs[0]) for out in outputs])
        return search.results()

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        if k <= 0:
            return [[] for _ in requests]
        raws = self.generate_raw([self.prompt(r) for r in requests], k)
        return self.candidates(requests, raws, k)


def _decoder(tokenizer: Any) -> Callable[[list[int]], str]:
    def decode(ids: list[int]) -> str:
        return str(tokenizer.decode(ids, skip_special_tokens=True))

    return decode


class AsyncVLLMGenerator(_VLLMBase):
    """The same over vLLM's async engine (`vllm.v1.engine.async_llm.AsyncLLM`, or the older
    `AsyncLLMEngine`): `agenerate` is a coroutine per call, so concurrent callers share the engine's
    continuous batching. `fallback` (the fixed tactics) is merged in as `CombinedGenerator` does."""

    def __init__(
        self,
        engine: Any,
        template: PromptTemplate | str = "llemma",
        fallback: TacticGenerator | None = None,
        decode: DecodingOptions = DecodingOptions(),
    ) -> None:
        super().__init__(template, decode)
        self.engine = engine
        self.fallback = fallback
        self._ids = itertools.count()
        self._tokenizer: Any = None
        self._limits: EngineLimits | None = None

    @classmethod
    def from_config(cls, cfg: GeneratorConfig, template: PromptTemplate) -> AsyncVLLMGenerator:
        vllm = import_vllm()
        engine_kwargs = _engine_kwargs(cfg)  # a refused model fails here, in its own words
        try:
            # `vllm.AsyncLLMEngine` is V1's `AsyncLLM` in current releases; import it directly where it is not.
            engine_cls: Any = getattr(vllm, "AsyncLLMEngine", None)
            if engine_cls is None:
                from vllm.v1.engine.async_llm import AsyncLLM

                engine_cls = AsyncLLM
            engine = engine_cls.from_engine_args(vllm.AsyncEngineArgs(**engine_kwargs))
        except Exception as exc:  # noqa: BLE001 - any engine start failure is reported as one line
            raise RuntimeError(f"cannot load model {cfg.model!r} with vLLM: {_one_line(exc)}") from None
        fallback = None
        if cfg.combine_fixed:
            from prover.generators.fixed import FixedTacticGenerator

            fallback = FixedTacticGenerator(cfg.fixed_tactics)
        return cls(
            engine,
            template,
            fallback,
            _decoding_options(cfg),
        )

    async def _final(self, prompt: Any, params: Any) -> Any:
        """One `RequestOutput` with every completion of one request (the engine streams partial ones)."""
        streamed = [out async for out in self.engine.generate(prompt, params, f"prover-{next(self._ids)}")]
        if not streamed:
            raise RuntimeError("vLLM's engine returned no output")
        return _merge_streamed(streamed)

    async def _get_tokenizer(self) -> Any:
        if self._tokenizer is None:
            tok = self.engine.get_tokenizer()
            self._tokenizer = await tok if asyncio.iscoroutine(tok) else tok
        return self._tokenizer

    async def agenerate_raw(self, prompts: Sequence[str], n: int) -> list[list[RawSeq]]:
        tokenizer = await self._get_tokenizer()
        if self._limits is None:
            self._limits = engine_limits(self.engine, tokenizer)
        ids = self.encode(prompts, tokenizer, self._limits)
        if self.decoding == "sample":
            queries = [{"prompt_token_ids": q} for q in ids]
            outs = await asyncio.gather(*(self._final(q, self.sampling_params(n)) for q in queries))
            return [_sampled(out) for out in outs]
        search = StopAwareBeamSearch(ids, self.beam_config(n, self._limits), _decoder(tokenizer))
        params = self.step_params(n)
        while not search.finished:
            outs = await asyncio.gather(*(self._final({"prompt_token_ids": q}, params) for q in search.queries()))
            search.advance([_top_logprobs(out.outputs[0]) for out in outs])
        return search.results()

    async def agenerate(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        """Candidates for `requests`, as `TacticGenerator.__call__` gives them, without blocking the loop."""
        if k <= 0:
            return [[] for _ in requests]
        raws = await self.agenerate_raw([self.prompt(r) for r in requests], k)
        model = self.candidates(requests, raws, k)
        if self.fallback is None:
            return model
        fixed = self.fallback(requests, k)
        return [merge_candidates([m, f])[:k] for m, f in zip(model, fixed, strict=True)]
