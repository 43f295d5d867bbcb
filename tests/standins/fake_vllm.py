"""A stand-in `vllm` package (vLLM needs CUDA; it cannot be installed here), installed into `sys.modules`.

It follows vLLM's public API as its source defines it (github.com/vllm-project/vllm, main, v0.11/v0.12):

* `vllm/sampling_params.py`: `SamplingParams(n, temperature, top_p, max_tokens, stop, seed, logprobs, ...)`;
  `BeamSearchParams(beam_width, max_tokens, ignore_eos=False, temperature=0.0, length_penalty=1.0,
  include_stop_str_in_output=False)`: no stop strings.
* `vllm/outputs.py`: `RequestOutput(request_id, prompt, outputs, finished)`; `CompletionOutput(index, text,
  token_ids, cumulative_logprob, logprobs, finish_reason)`. `cumulative_logprob` and `logprobs` are None
  unless `SamplingParams.logprobs` is set; `logprobs` is one `{token_id: Logprob}` per generated token
  holding the top `logprobs` tokens and the sampled one.
* `vllm/logprobs.py`: `Logprob(logprob, rank, decoded_token)`.
* `vllm/beam_search.py` + `LLM.beam_search` (vllm/entrypoints/llm.py): a loop of one-token requests; a
  beam ends only at EOS or `max_tokens`; `BeamSearchSequence.tokens` holds prompt + generated tokens,
  `cum_logprob` their sum; sequences sorted by `cum_logprob / len ** length_penalty`.
* Stop strings (`vllm/v1/engine/detokenizer.py`): generation ends when the text contains a stop string;
  the text is cut before it (`include_stop_str_in_output=False`), `token_ids` keep every generated token.
* `AsyncLLMEngine.from_engine_args(AsyncEngineArgs(...))` / `vllm.v1.engine.async_llm.AsyncLLM`:
  `generate(prompt, sampling_params, request_id)` is an async iterator of `RequestOutput`s, the last one
  `finished`; `get_tokenizer()` is a coroutine.
* Parallel sampling (`vllm/v1/engine/parallel_sampling.py` `ParentRequest.get_outputs`, vllm-project/vllm
  commit 003d3ee22261b7937258b7531aee00e10393f1d6): a request with `n > 1` runs as `n` child requests. Unless
  `SamplingParams.output_kind` is `RequestOutputKind.FINAL_ONLY`, each streamed `RequestOutput` carries only
  the child that produced it (`[completion_output]`), so the last streamed item holds ONE of the `n`
  completions; with `FINAL_ONLY` the parent aggregates the `n` and yields them once. `output_kind` defaults
  to `CUMULATIVE` (`vllm/sampling_params.py`); only `LLM.generate` forces `FINAL_ONLY`.
* The context limit (`vllm/v1/engine/processor.py` `_validate_model_input`, commit 01055a4b): a prompt
  longer than `max_model_len` raises `ValueError("The decoder prompt (length N) is longer than the maximum
  model length of M. ...")`; generation stops with `finish_reason="length"` when prompt + output reach
  `max_model_len`. A prompt already at the limit finishes with no token and `logprobs=None`, which
  `LLM.beam_search` (`vllm/entrypoints/llm.py`) reads as a finished sequence ("if `logprobs` is None, it
  means the sequence is completed because of the max-model-len or abortion").
* End of sequence (`SamplingParams.update_from_generation_config`): besides the tokenizer's EOS, every id in
  the model's `generation_config.json` `eos_token_id` list stops a request; the engine's
  `model_config.try_get_generation_config()` (`vllm/config/model.py`) returns that file's non-default
  fields. Here the model's file lists EOS (id 0) and a turn end `TURN_END` (id 1, the character U+0000).

The "model" is a character-level trie language model: the completion of a prompt (the text after the
last `marker`, e.g. Llemma's `Next tactic:\\n---`) continues one of the weighted strings in `script`;
token id = code point + 1, id 0 is EOS.
"""

from __future__ import annotations

import asyncio
import enum
import math
import random
import sys
import types
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

EOS = 0
TURN_END = 1  # a second end id from the model's generation config (a chat model's turn end)


class CharTokenizer:
    eos_token_id = EOS
    chat_template = "{role}: {content}"

    def encode(self, text: str) -> list[int]:
        return [ord(c) + 1 for c in text]

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        return {"input_ids": self.encode(text)}

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        return "".join(chr(i - 1) for i in ids if i != EOS and not (skip_special_tokens and i == TURN_END))

    def apply_chat_template(self, messages: list[dict[str, str]], tokenize: bool, add_generation_prompt: bool) -> str:
        text = "".join(f"<|{m['role']}|>{m['content']}<|end|>" for m in messages)
        return text + ("<|assistant|>" if add_generation_prompt else "")


@dataclass
class TrieLM:
    """p(next char | completion so far) from weighted continuation strings; EOS where one ends."""

    script: dict[str, float]
    marker: str

    def completion(self, text: str) -> str:
        pos = text.rfind(self.marker)
        return text[pos + len(self.marker) :] if pos != -1 else ""

    def next_logprobs(self, completion: str) -> dict[int, float]:
        matching = {c: w for c, w in self.script.items() if c.startswith(completion)}
        total = sum(matching.values())
        if total <= 0:
            return {EOS: 0.0}
        mass: dict[int, float] = {}
        for c, w in matching.items():
            tok = EOS if len(c) == len(completion) else ord(c[len(completion)]) + 1
            mass[tok] = mass.get(tok, 0.0) + w
        return {t: math.log(m / total) for t, m in mass.items()}


@dataclass
class Logprob:
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


class RequestOutputKind(enum.Enum):
    CUMULATIVE = 0
    DELTA = 1
    FINAL_ONLY = 2


@dataclass(kw_only=True)
class SamplingParams:
    # Keyword fields with vLLM's defaults, as `vllm/sampling_params.py` declares them; `stop` is normalised
    # to a list in `__post_init__` there too.
    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_tokens: int | None = 16
    stop: str | list[str] | None = None
    seed: int | None = None
    logprobs: int | None = None
    include_stop_str_in_output: bool = False
    output_kind: RequestOutputKind = RequestOutputKind.CUMULATIVE
    repetition_penalty: float = 1.0

    def __post_init__(self) -> None:
        self.stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])


@dataclass
class BeamSearchParams:
    beam_width: int
    max_tokens: int
    ignore_eos: bool = False
    temperature: float = 0.0
    length_penalty: float = 1.0
    include_stop_str_in_output: bool = False


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None
    logprobs: list[dict[int, Logprob]] | None
    finish_reason: str | None = None


@dataclass
class RequestOutput:
    request_id: str
    prompt: str | None
    outputs: list[CompletionOutput]
    finished: bool = True


@dataclass
class BeamSearchSequence:
    tokens: list[int]
    logprobs: list[dict[int, Logprob]]
    cum_logprob: float = 0.0
    text: str | None = None


@dataclass
class BeamSearchOutput:
    sequences: list[BeamSearchSequence]


@dataclass
class EngineStats:
    calls: int = 0
    generated_tokens: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    params: list[SamplingParams] = field(default_factory=list)


@dataclass
class ModelConfig:
    """`vllm.config.ModelConfig`: the engine's context limit and the model's generation config."""

    max_model_len: int
    generation_config: dict[str, Any]

    def try_get_generation_config(self) -> dict[str, Any]:
        return dict(self.generation_config)


class _Core:
    # The model's `generation_config.json` (the non-default fields vLLM reads).
    generation_config: dict[str, Any] = {"eos_token_id": [EOS, TURN_END]}

    def __init__(self, lm: TrieLM, max_model_len: int | None = None) -> None:
        self.lm = lm
        self.tokenizer = CharTokenizer()
        self.stats = EngineStats()
        self.model_config = ModelConfig(max_model_len or 1 << 20, dict(_Core.generation_config))
        eos = self.model_config.generation_config.get("eos_token_id", EOS)
        self.stop_ids = {EOS} | ({eos} if isinstance(eos, int) else set(eos))

    def _prompt_text(self, prompt: Any) -> str:
        if isinstance(prompt, dict):
            return self.tokenizer.decode(prompt["prompt_token_ids"])
        return str(prompt)

    def run(self, prompt: Any, params: SamplingParams, index_seed: int) -> RequestOutput:
        self.stats.calls += 1
        self.stats.params.append(params)
        text = self._prompt_text(prompt)
        prompt_len = len(prompt["prompt_token_ids"]) if isinstance(prompt, dict) else len(self.tokenizer.encode(text))
        limit = self.model_config.max_model_len
        if prompt_len > limit:
            raise ValueError(
                f"The decoder prompt (length {prompt_len}) is longer than the maximum model length of {limit}. "
                "Make sure that `max_model_len` is no smaller than the number of text tokens."
            )
        rng = random.Random(params.seed if params.seed is not None else index_seed)
        outs = []
        for i in range(params.n):
            if prompt_len >= limit:  # no room for a token: finished at the limit, nothing generated
                outs.append(CompletionOutput(i, "", [], None, None, finish_reason="length"))
                continue
            completion = self.lm.completion(text)
            generated: list[int] = []
            positions: list[dict[int, Logprob]] = []
            total = 0.0
            finish = "length"
            cut_text: str | None = None
            for _ in range(min(params.max_tokens or 16, limit - prompt_len)):
                dist = self.lm.next_logprobs(completion)
                ranked = sorted(dist.items(), key=lambda kv: -kv[1])
                if params.temperature == 0.0:
                    tok = ranked[0][0]
                else:
                    r, acc, tok = rng.random(), 0.0, ranked[-1][0]
                    for t, lp in ranked:
                        acc += math.exp(lp)
                        if r <= acc:
                            tok = t
                            break
                generated.append(tok)
                total += dist[tok]
                if params.logprobs is not None:
                    top = {t: Logprob(lp, rank + 1) for rank, (t, lp) in enumerate(ranked[: params.logprobs])}
                    top[tok] = Logprob(dist[tok], [t for t, _ in ranked].index(tok) + 1)
                    positions.append(top)
                self.stats.generated_tokens += 1
                if tok in self.stop_ids:
                    finish = "stop"
                    break
                completion += chr(tok - 1)
                new_text = self.tokenizer.decode(generated)
                hits = [new_text.find(s) for s in params.stop or () if s in new_text]
                if hits:
                    finish, cut_text = "stop", new_text[: min(hits)]
                    break
            body = cut_text if cut_text is not None else self.tokenizer.decode(generated)
            outs.append(
                CompletionOutput(
                    index=i,
                    text=body,
                    token_ids=generated,
                    cumulative_logprob=total if params.logprobs is not None else None,
                    logprobs=positions if params.logprobs is not None else None,
                    finish_reason=finish,
                )
            )
        return RequestOutput(request_id=f"r{self.stats.calls}", prompt=text, outputs=outs)


class LLM:
    """`vllm.LLM` over the trie LM (`model` and engine keyword arguments are recorded, not used)."""

    lm: TrieLM = TrieLM({"\nsimp\n---": 1.0}, "Next tactic:\n---")
    last_kwargs: dict[str, Any] = {}

    def __init__(self, model: str = "", **kwargs: Any) -> None:
        LLM.last_kwargs = {"model": model, **kwargs}
        self.core = _Core(LLM.lm, kwargs.get("max_model_len"))
        self.llm_engine = types.SimpleNamespace(model_config=self.core.model_config)

    def get_tokenizer(self) -> CharTokenizer:
        return self.core.tokenizer

    def generate(
        self, prompts: Any, sampling_params: SamplingParams | None = None, use_tqdm: bool = True
    ) -> list[RequestOutput]:
        params = sampling_params or SamplingParams()
        items = prompts if isinstance(prompts, list) else [prompts]
        return [self.core.run(p, params, i) for i, p in enumerate(items)]

    def beam_search(self, prompts: list[dict[str, Any]], params: BeamSearchParams) -> list[BeamSearchOutput]:
        """vLLM's loop: one-token steps with `logprobs=2 * beam_width`; a beam ends only at EOS or max_tokens."""
        tok = self.core.tokenizer
        step = SamplingParams(n=1, max_tokens=1, temperature=0.0, logprobs=2 * params.beam_width)
        results = []
        for prompt in prompts:
            ids = tok.encode(prompt["prompt"])
            beams = [BeamSearchSequence(tokens=ids, logprobs=[], cum_logprob=0.0)]
            done: list[BeamSearchSequence] = []
            for _ in range(params.max_tokens):
                new: list[BeamSearchSequence] = []
                for beam in beams:
                    out = self.core.run({"prompt_token_ids": beam.tokens}, step, 0).outputs[0]
                    assert out.logprobs is not None
                    for t, lp in out.logprobs[0].items():
                        seq = BeamSearchSequence(
                            [*beam.tokens, t], [*beam.logprobs, {t: lp}], beam.cum_logprob + lp.logprob
                        )
                        (done if t == EOS and not params.ignore_eos else new).append(seq)
                beams = sorted(new, key=lambda b: b.cum_logprob / len(b.tokens) ** params.length_penalty, reverse=True)[
                    : params.beam_width
                ]
                if not beams:
                    break
            done += beams
            done.sort(key=lambda b: b.cum_logprob / len(b.tokens) ** params.length_penalty, reverse=True)
            for seq in done:
                seq.text = tok.decode(seq.tokens)
            results.append(BeamSearchOutput(done[: params.beam_width]))
        return results


@dataclass
class AsyncEngineArgs:
    model: str = ""
    dtype: str = "auto"
    seed: int = 0
    max_logprobs: int = 20
    max_model_len: int | None = None
    tensor_parallel_size: int = 1
    trust_remote_code: bool = False  # vllm/engine/arg_utils.py `EngineArgs.trust_remote_code`


class AsyncLLMEngine:
    """`AsyncLLM`: each `generate` call is its own request; `step_s` of simulated model time per request."""

    step_s: float = 0.0

    def __init__(self, args: AsyncEngineArgs) -> None:
        self.args = args
        self.core = _Core(LLM.lm, args.max_model_len)
        self.model_config = self.core.model_config

    @classmethod
    def from_engine_args(cls, args: AsyncEngineArgs) -> AsyncLLMEngine:
        return cls(args)

    async def get_tokenizer(self) -> CharTokenizer:
        return self.core.tokenizer

    async def generate(
        self, prompt: Any, sampling_params: SamplingParams, request_id: str
    ) -> AsyncIterator[RequestOutput]:
        stats = self.core.stats
        stats.in_flight += 1
        stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
        try:
            await asyncio.sleep(self.step_s)
            final = self.core.run(prompt, sampling_params, 0)
            if sampling_params.output_kind == RequestOutputKind.FINAL_ONLY:
                yield final
                return
            if sampling_params.n == 1:
                yield RequestOutput(request_id, final.prompt, [], finished=False)  # a streamed partial output
                yield final
                return
            # `ParentRequest.get_outputs` when not FINAL_ONLY: each child's output is streamed on its own; the
            # parent is finished with the last child's item, which holds that child only.
            for i, child in enumerate(final.outputs):
                last = i == len(final.outputs) - 1
                yield RequestOutput(request_id, final.prompt, [child], finished=last)
        finally:
            stats.in_flight -= 1


def install(monkeypatch: Any, script: dict[str, float], marker: str = "Next tactic:\n---") -> types.ModuleType:
    """Put this stand-in at `sys.modules['vllm']` (and its submodules) for one test."""
    LLM.lm = TrieLM(script, marker)
    root = types.ModuleType("vllm")
    sp = types.ModuleType("vllm.sampling_params")
    outputs = types.ModuleType("vllm.outputs")
    for name, obj in {
        "LLM": LLM,
        "SamplingParams": SamplingParams,
        "AsyncEngineArgs": AsyncEngineArgs,
        "AsyncLLMEngine": AsyncLLMEngine,
        "RequestOutput": RequestOutput,
        "CompletionOutput": CompletionOutput,
        "TokensPrompt": dict,
    }.items():
        setattr(root, name, obj)
    sp.SamplingParams = SamplingParams  # type: ignore[attr-defined]
    sp.BeamSearchParams = BeamSearchParams  # type: ignore[attr-defined]
    sp.RequestOutputKind = RequestOutputKind  # type: ignore[attr-defined]
    outputs.RequestOutput = RequestOutput  # type: ignore[attr-defined]
    outputs.CompletionOutput = CompletionOutput  # type: ignore[attr-defined]
    root.sampling_params = sp  # type: ignore[attr-defined]
    root.outputs = outputs  # type: ignore[attr-defined]
    for name, mod in {"vllm": root, "vllm.sampling_params": sp, "vllm.outputs": outputs}.items():
        monkeypatch.setitem(sys.modules, name, mod)
    return root
