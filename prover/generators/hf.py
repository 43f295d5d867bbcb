"""Tactic generation with a Hugging Face causal LM: batched beam search or sampling.

Many states go through one `generate` call with left padding. Each candidate carries the true
sum of its token log-probabilities (length penalty only steers the beam, it never leaks into
the score) and its token count, so the search can length-normalise. Generation stops at the
template's stop strings (or EOS); outputs are sanitised and deduplicated.

The log-probabilities are recorded by small logits processors instead of
`output_scores=True`, which would keep a (states x beams x vocabulary) tensor per step.

Decoding is exactly this module's: `generate` fills every unset field of the generation config from the
checkpoint's `generation_config.json`, then from transformers' global defaults (top-k 50)
(`generation/utils.py` `_prepare_generation_config`, transformers 5.17 and 5.25), so a file with
`repetition_penalty` would change beam scores and a Qwen3-style file (temperature 0.6, top-k 20) would
override the preset's sampling. During a call the model's generation config is a clean one holding only
the checkpoint's special-token ids (every `eos_token_id` it lists), and the call's own config sets
temperature, top-k and top-p to their neutral values; the sampling warpers are added here.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from prover.generators.decoding import DecodingOptions
from prover.generators.sanitize import Sanitizer, best_candidates
from prover.generators.tokenizers import encode_prompt
from prover.templates import PromptTemplate, get_template
from search.types import Candidate, GenRequest

if TYPE_CHECKING:
    import torch

    from prover.config import GeneratorConfig

# transformers' own annotations are too loose for mypy to add anything here.
PreTrainedModel = Any
PreTrainedTokenizerBase = Any

# On CPU, beam search is bound by copying the KV cache every step; batches beyond this many
# cached tokens (rows x padded length) fall out of the CPU caches and get slower per state.
CPU_MAX_BATCH_TOKENS = 8192
# On CUDA the same token budget comes from memory: this share of the free memory (after the weights are
# loaded) may hold one batch's KV cache. The rest covers beam search's per-step cache reordering copies,
# logits and activations, and other users of the GPU.
CUDA_CACHE_MEMORY_FRACTION = 0.5


def kv_cache_bytes_per_token(config: Any, dtype_bytes: int) -> int:
    """Bytes of KV cache one cached token (one row, one position) takes in every layer.

    layers x kv_heads x head_dim x 2 (keys and values) x `dtype_bytes`, read from a transformers config
    (`num_key_value_heads` for grouped-query attention, `head_dim` when the config sets it, else
    hidden_size / num_attention_heads). For a 7B Llama 2 in bf16: 32 x 32 x 128 x 2 x 2 = 512 KiB.
    Raises ValueError when the config lacks the sizes.
    """
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    layers = getattr(text, "num_hidden_layers", None)
    heads = getattr(text, "num_attention_heads", None)
    hidden = getattr(text, "hidden_size", None)
    if not layers or not heads:
        raise ValueError("the model config has no num_hidden_layers / num_attention_heads")
    kv_heads = getattr(text, "num_key_value_heads", None) or heads
    head_dim = getattr(text, "head_dim", None) or (hidden // heads if hidden else None)
    if not head_dim:
        raise ValueError("the model config has neither head_dim nor hidden_size")
    return int(layers) * int(kv_heads) * int(head_dim) * 2 * int(dtype_bytes)


def batch_cache_tokens(states: int, beams: int, longest_prompt: int, max_new_tokens: int) -> int:
    """Cached tokens of one `generate` call: states x beams rows, each (padded prompt + new tokens) long.

    Times `kv_cache_bytes_per_token` this is the batch's KV-cache bytes: the static cache preallocates
    exactly that, a dynamic one grows to it.
    """
    return states * beams * (longest_prompt + max_new_tokens)


def is_out_of_memory(exc: BaseException) -> bool:
    """A CUDA (or other accelerator) out-of-memory error: `torch.OutOfMemoryError` (torch >= 2.5;
    `torch.cuda.OutOfMemoryError` is the same class)."""
    import torch

    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    return oom is not None and isinstance(exc, oom)


@dataclass(frozen=True)
class RawSequence:
    """One decoded completion before sanitising: its text, summed log-probability and token count."""

    text: str
    logprob: float
    num_tokens: int


@dataclass(frozen=True)
class GenerationCall:
    """One `generate` call of a plan: these prompt indices, each with `samples` rows (beams or samples)."""

    prompts: tuple[int, ...]
    samples: int


def end_token_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> tuple[int, ...]:
    """Every id that ends a sequence: the checkpoint's generation config `eos_token_id` (an int or a list, e.g.
    Qwen's `<|endoftext|>` and `<|im_end|>`), else the model config's, plus the tokenizer's EOS."""
    ids: set[int] = set()
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    for source in (getattr(base, "generation_config", None), getattr(base, "config", None)):
        value = getattr(source, "eos_token_id", None)
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list | tuple):
            ids.update(int(i) for i in value)
        if ids:
            break
    if isinstance(tokenizer.eos_token_id, int):
        ids.add(tokenizer.eos_token_id)
    return tuple(sorted(ids))


@contextmanager
def isolated_generation_config(
    model: PreTrainedModel, eos_token_ids: Sequence[int], pad_token_id: int | None
) -> Iterator[None]:
    """The model's generation config replaced, for one `generate` call, by one with only the special-token ids.

    `generate` reads every field the call leaves unset from `model.generation_config` (the checkpoint's
    `generation_config.json`): sampling settings, `repetition_penalty`, `no_repeat_ngram_size`,
    `min_length`, `suppress_tokens`... none of which this module's decoding may inherit.
    """
    from transformers import GenerationConfig

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    saved = getattr(base, "generation_config", None)
    bos = getattr(saved, "bos_token_id", None)
    factory: Any = GenerationConfig
    base.generation_config = factory(bos_token_id=bos, eos_token_id=list(eos_token_ids), pad_token_id=pad_token_id)
    try:
        yield
    finally:
        base.generation_config = saved


def prompt_budget(cfg: GeneratorConfig) -> int | None:
    """Prompt tokens kept under `[generator] max_model_len` (None: the model's own context decides)."""
    if cfg.max_model_len is None:
        return None
    return max(cfg.max_model_len - cfg.max_new_tokens, 1)


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but CUDA is not available")
    return device


def resolve_dtype(dtype: str, device: str) -> torch.dtype:
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[dtype]


def attention_implementation(device: str) -> str:
    """flash-attention 2 on CUDA when installed, else PyTorch SDPA."""
    if device.startswith("cuda") and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def cache_kwarg(model: PreTrainedModel) -> str:
    """The keyword under which `model.generate` / `model.forward` take a prebuilt KV cache.

    transformers renamed `past_key_values` to `cache` in 5.24 (v5.24.0 src/transformers/generation/utils.py:
    `@deprecate_kwarg("past_key_values", "6.0.0", new_name="cache")`, and `cache: Cache | None` in
    models/llama/modeling_llama.py); 5.17-5.23 reject `cache` as an unused model kwarg. The model's own
    forward signature says which name it reads (a PEFT wrapper is looked through to its base model).
    """
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        params = inspect.signature(type(base).forward).parameters
    except (TypeError, ValueError):  # no introspectable forward: the pre-5.24 name is accepted everywhere
        return "past_key_values"
    return "cache" if "cache" in params else "past_key_values"


def _looks_local(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~")) or Path(model).expanduser().exists()


def load_model_and_tokenizer(
    model_or_path: str,
    device: str = "auto",
    dtype: str = "auto",
    trust_remote_code: bool = False,
    device_map: str | None = None,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a causal LM and its tokenizer for inference; failures become one-line RuntimeErrors.

    `device_map` (e.g. "auto") places the layers over several devices through accelerate instead of moving
    the whole model to `device`: the way a model larger than one GPU loads.

    A checkpoint that ships its own modeling code (InternLM2) loads only with `trust_remote_code`; without it
    the error names the `[generator] trust_remote_code` key (`checkpoint.RemoteCodeRequired`)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from prover.generators.checkpoint import remote_code_error, require_remote_code_allowed

    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    placement: dict[str, Any] = {"device_map": device_map} if device_map is not None else {}
    local = _looks_local(model_or_path)
    if local and not Path(model_or_path).expanduser().exists():
        raise RuntimeError(f"cannot load model {model_or_path!r}: no such local path")
    source = str(Path(model_or_path).expanduser()) if local else model_or_path
    require_remote_code_allowed(source, trust_remote_code)
    try:
        # Passed explicitly: left at None, transformers asks on stdin (with a timeout) before running the code.
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
        model: Any = AutoModelForCausalLM.from_pretrained(
            source,
            dtype=torch_dtype,
            attn_implementation=attention_implementation(device),
            trust_remote_code=trust_remote_code,
            **placement,
        )
    except Exception as exc:  # noqa: BLE001 - any loading failure is reported as one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if not trust_remote_code and isinstance(exc, ValueError) and "trust_remote_code" in str(exc):
            # transformers' refusal (`resolve_trust_remote_code`) is a plain ValueError; it is not a network
            # problem, whatever the source (e.g. a tokenizer_config.json `auto_map` not caught above).
            raise remote_code_error(model_or_path) from None
        if local:
            raise RuntimeError(f"cannot load model {model_or_path!r}: {first}") from None
        raise RuntimeError(
            f"cannot load model {model_or_path!r}: not a local path and it could not be fetched from the "
            f"Hugging Face hub (no network access?): {first}"
        ) from None
    if device_map is None:
        model.to(device)
    model.eval()
    return model, tokenizer


def prepare_tokenizer(tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """Left padding (needed for batched decoder-only generation); pad with EOS when there is no pad token."""
    tokenizer.padding_side = "left"
    tokenizer.truncation_side = "left"
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token is None:
            raise ValueError("the tokenizer has neither a pad nor an EOS token")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _logits_processor_base() -> type:
    from transformers import LogitsProcessor

    return LogitsProcessor


class _BeamTopK:
    """Records each step's top log-probabilities per beam row (the chosen token is always among them)."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.values: list[torch.Tensor] = []
        self.indices: list[torch.Tensor] = []

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        values, indices = scores.topk(min(self.k, scores.shape[-1]), dim=-1)
        self.values.append(values)
        self.indices.append(indices)
        return scores

    def token_logprobs(self, sequences: torch.Tensor, beam_indices: torch.Tensor, prompt_len: int) -> torch.Tensor:
        """(sequences, steps) log-probabilities of the generated tokens; 0 where a sequence had ended."""
        import torch

        steps = beam_indices.shape[1]
        if steps == 0:
            return torch.zeros(beam_indices.shape, dtype=torch.float32)
        values = torch.stack(self.values[:steps]).float()  # (S, rows, K)
        indices = torch.stack(self.indices[:steps])
        valid = beam_indices >= 0
        rows = beam_indices.clamp(min=0).long()
        step_ids = torch.arange(steps, device=rows.device).expand_as(rows)
        tokens = sequences[:, prompt_len : prompt_len + steps]
        row_values = values[step_ids, rows]  # (N, S, K)
        row_indices = indices[step_ids, rows]
        match = row_indices == tokens.unsqueeze(-1)
        found = torch.where(match, row_values, torch.zeros_like(row_values)).sum(-1)
        # A chosen token outside the recorded top-K can only tie with the K-th value.
        logprobs = torch.where(match.any(-1), found, row_values[..., -1])
        return torch.where(valid, logprobs, torch.zeros_like(logprobs))


class _SampledLogprobs:
    """Records the (untempered) log-probability of each sampled token.

    It must run before temperature/top-p; the token chosen at step t is read at step t+1.
    """

    def __init__(self) -> None:
        self.pending: torch.Tensor | None = None
        self.steps: list[torch.Tensor] = []

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        if self.pending is not None:
            self.steps.append(self.pending.gather(-1, input_ids[:, -1:]).squeeze(-1))
        self.pending = torch.log_softmax(scores.float(), dim=-1)
        return scores

    def token_logprobs(self, sequences: torch.Tensor) -> torch.Tensor:
        import torch

        steps = list(self.steps)
        if self.pending is not None:
            steps.append(self.pending.gather(-1, sequences[:, -1:]).squeeze(-1))
        if not steps:
            return torch.zeros((sequences.shape[0], 0))
        return torch.stack(steps, dim=1)


class _MaskTokens:
    """Forbids token ids (e.g. ids past the tokenizer's vocabulary in a padded embedding)."""

    def __init__(self, token_ids: Sequence[int]) -> None:
        self.token_ids = list(token_ids)
        self._mask: torch.Tensor | None = None

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        if self._mask is None or self._mask.device != scores.device or self._mask.shape[-1] != scores.shape[-1]:
            mask = torch.zeros(scores.shape[-1], dtype=torch.bool, device=scores.device)
            ids = [i for i in self.token_ids if i < scores.shape[-1]]
            mask[ids] = True
            self._mask = mask
        return scores.masked_fill(self._mask, float("-inf"))


def _as_processor(obj: Any) -> Any:
    """Wrap a callable as a transformers LogitsProcessor instance (their lists type-check members)."""
    base = _logits_processor_base()
    wrapper = type(f"_{type(obj).__name__}Processor", (base,), {"__call__": lambda self, i, s: obj(i, s)})
    return wrapper()


KvCache = Literal["auto", "static", "dynamic"]


@dataclass(frozen=True)
class HFOptions:
    """The transformers generator's own options: `batch_size` prompts per `generate` call; beams or samples
    per state are `ceil(k * oversample)` for `k` tactics; `forbidden_token_ids` are never generated;
    `share_prefill` encodes a prompt once for all its beams; `kv_cache` (`auto`: static, dynamic under
    flash-attention 2); a call's token budget is `max_batch_tokens`, else `max_cache_bytes` of KV cache, else
    (`auto`) `cache_memory_fraction` of free CUDA memory or `CPU_MAX_BATCH_TOKENS` on CPU."""

    batch_size: int = 16
    oversample: float = 1.0
    forbidden_token_ids: Sequence[int] = ()
    share_prefill: bool = True
    kv_cache: KvCache = "auto"
    max_batch_tokens: int | None | Literal["auto"] = "auto"
    max_cache_bytes: int | None = None
    cache_memory_fraction: float = CUDA_CACHE_MEMORY_FRACTION

    def __post_init__(self) -> None:
        if self.kv_cache not in ("auto", "static", "dynamic"):
            raise ValueError(f"kv_cache must be 'auto', 'static' or 'dynamic', got {self.kv_cache!r}")
        if not 0 < self.cache_memory_fraction <= 1:
            raise ValueError("cache_memory_fraction must be in (0, 1]")
        if self.max_cache_bytes is not None and self.max_cache_bytes < 1:
            raise ValueError("max_cache_bytes must be >= 1")


def _prompt_token_limit(model: PreTrainedModel, decode: DecodingOptions) -> int | None:
    """`max_prompt_tokens`, else the model's positions minus `max_new_tokens` (None when it states none)."""
    if decode.max_prompt_tokens is not None:
        return decode.max_prompt_tokens
    positions = getattr(model.config, "max_position_embeddings", None)
    return max(int(positions) - decode.max_new_tokens, 1) if positions else None


def _kv_cache_kind(model: PreTrainedModel, kv_cache: KvCache) -> Literal["static", "dynamic"]:
    if kv_cache != "auto":
        return kv_cache
    # Static caches are the faster choice for SDPA/eager attention; flash-attention 2 handles padding through
    # unpadding and is the well-trodden path with dynamic ones.
    attn = getattr(model.config, "_attn_implementation", None)
    return "dynamic" if attn == "flash_attention_2" else "static"


class HFGenerator:
    """`TacticGenerator` over a transformers causal LM.

    Beam decoding uses `num_beams = num_return_sequences = ceil(k * oversample)` and returns up to
    `k` unique valid tactics, best (highest summed log-probability) first; fewer only when the beams
    do not contain `k` distinct tactics that survive sanitising. Sampling draws the same number of
    samples; its log-probabilities are under the untempered model.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        template: PromptTemplate | str = "llemma",
        decode: DecodingOptions = DecodingOptions(),
        hf: HFOptions = HFOptions(),
    ) -> None:
        if hf.batch_size < 1 or decode.max_new_tokens < 1:
            raise ValueError("batch_size and max_new_tokens must be >= 1")
        if hf.oversample < 1.0:
            raise ValueError("oversample must be >= 1")
        self.model = model
        self.tokenizer = prepare_tokenizer(tokenizer)
        self.eos_token_ids = end_token_ids(model, self.tokenizer)
        self.template = get_template(template) if isinstance(template, str) else template
        self.decoding = decode.decoding
        self.max_new_tokens = decode.max_new_tokens
        self.batch_size = hf.batch_size
        self.temperature = decode.temperature
        self.top_p = decode.top_p
        self.seed = decode.seed
        self.length_penalty = decode.length_penalty
        self.oversample = hf.oversample
        self.sanitizer = Sanitizer(self.template, allow_native_decide=decode.allow_native_decide)
        vocab_size = getattr(model.config, "vocab_size", None) or len(tokenizer)
        # Ids the tokenizer cannot decode (padded embeddings) are never generated.
        self.forbidden_token_ids = sorted(set(hf.forbidden_token_ids) | set(range(len(tokenizer), vocab_size)))
        self.max_prompt_tokens = _prompt_token_limit(model, decode)
        self.share_prefill = hf.share_prefill
        self.kv_cache = _kv_cache_kind(model, hf.kv_cache)
        first = next(model.parameters())
        self.device_type: str = first.device.type
        try:
            self.cache_bytes_per_token: int | None = kv_cache_bytes_per_token(model.config, first.element_size())
        except ValueError:
            self.cache_bytes_per_token = None
        self.max_batch_tokens: int | None = self._batch_token_budget(first.device, hf)
        self.oom_retries = 0  # batches split after an out-of-memory error, over this generator's life
        self._calls = 0

    def _batch_token_budget(self, device: Any, hf: HFOptions) -> int | None:
        """Tokens one `generate` call may hold: `max_batch_tokens`, or `max_cache_bytes` (by default a share of
        free CUDA memory) at this model's KV-cache bytes per token, or the CPU default."""
        max_batch_tokens = hf.max_batch_tokens
        max_cache_bytes = hf.max_cache_bytes
        if max_cache_bytes is None and max_batch_tokens == "auto" and self.device_type == "cuda":
            import torch

            free, _total = torch.cuda.mem_get_info(device)
            max_cache_bytes = max(int(free * hf.cache_memory_fraction), 1)
        if max_cache_bytes is not None:
            # One mechanism for every device: a memory budget is a token budget at this model's bytes per token.
            if self.cache_bytes_per_token is None:
                raise ValueError("max_cache_bytes needs a model config with layer and head sizes")
            return max(max_cache_bytes // self.cache_bytes_per_token, 1)
        if max_batch_tokens == "auto":
            return CPU_MAX_BATCH_TOKENS if self.device_type == "cpu" else None
        if max_batch_tokens is not None and max_batch_tokens < 1:
            raise ValueError("max_batch_tokens must be >= 1")
        return max_batch_tokens

    @classmethod
    def from_pretrained(
        cls,
        model_or_path: str,
        template: PromptTemplate | str | None = None,
        *,
        device: str = "auto",
        dtype: str = "auto",
        trust_remote_code: bool = False,
        device_map: str | None = None,
        decode: DecodingOptions = DecodingOptions(),
        hf: HFOptions = HFOptions(),
    ) -> HFGenerator:
        """Load `model_or_path` (hub id or local folder); `template=None` uses the checkpoint's record or llemma."""
        from prover.generators.checkpoint import read_template_record

        if template is None:
            template = read_template_record(model_or_path) or get_template("llemma")
        model, tokenizer = load_model_and_tokenizer(
            model_or_path, device=device, dtype=dtype, trust_remote_code=trust_remote_code, device_map=device_map
        )
        return cls(model, tokenizer, template, decode, hf)

    @classmethod
    def from_config(cls, cfg: GeneratorConfig, template: PromptTemplate) -> HFGenerator:
        return cls.from_pretrained(
            cfg.model,
            template,
            device=cfg.device,
            dtype=cfg.dtype,
            trust_remote_code=cfg.trust_remote_code,
            device_map=cfg.device_map,
            decode=DecodingOptions(
                decoding=cfg.decoding,
                max_new_tokens=cfg.max_new_tokens,
                temperature=cfg.temperature,
                top_p=cfg.top_p,
                seed=cfg.seed,
                max_prompt_tokens=prompt_budget(cfg),
            ),
            hf=HFOptions(batch_size=cfg.batch_size),
        )

    def prompt(self, request: GenRequest) -> str:
        """The prompt for one state; a Lean Copilot prefix is appended so the model continues it."""
        return self.template.render_request(
            request.state, request.context, request.prefix, request.theorem_name, request.proof_before
        )

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        if k <= 0:
            return [[] for _ in requests]
        n = max(k, math.ceil(k * self.oversample))
        raws = self.generate_planned([self.prompt(r) for r in requests], n)
        return [self._candidates(request, seqs, k) for request, seqs in zip(requests, raws, strict=True)]

    def generate_planned(self, prompts: Sequence[str], n: int) -> list[list[RawSequence]]:
        """`n` completions per prompt over as many `generate` calls as the memory plan (`plan_calls`) needs.

        An out-of-memory error halves the call (its prompts, or a lone prompt's samples when sampling) and
        retries instead of failing every prompt in it; later calls plan with a budget below the one that
        failed.
        """
        out: list[list[RawSequence]] = [[] for _ in prompts]
        pending = self.plan_calls(prompts, n)
        while pending:
            call = pending.pop(0)
            chunk = [prompts[i] for i in call.prompts]
            try:
                raws = self.generate_raw(chunk, call.samples)
            except Exception as exc:
                if not is_out_of_memory(exc) or (len(call.prompts) == 1 and not self._splits_samples(call)):
                    raise
                self._after_oom(chunk, call.samples)
                if len(call.prompts) > 1:
                    half = len(call.prompts) // 2
                    pending[:0] = [
                        GenerationCall(call.prompts[:half], call.samples),
                        GenerationCall(call.prompts[half:], call.samples),
                    ]
                else:
                    half = call.samples // 2
                    pending[:0] = [
                        GenerationCall(call.prompts, half),
                        GenerationCall(call.prompts, call.samples - half),
                    ]
                continue
            for i, seqs in zip(call.prompts, raws, strict=True):
                out[i].extend(seqs)
        return out

    def _splits_samples(self, call: GenerationCall) -> bool:
        # Samples are independent draws, so they can go to several calls; beams of one search cannot.
        return self.decoding == "sample" and call.samples > 1

    def plan_calls(self, prompts: Sequence[str], n: int) -> list[GenerationCall]:
        """The `generate` calls for `n` completions of each prompt under the memory plan.

        Prompts are grouped by `plan_batches`. When sampling, a prompt whose `n` rows alone exceed the
        token budget (a whole-proof pass@32 of long proofs) gets its samples spread over several calls of
        as many rows as fit; beams stay in one call.
        """
        if self.decoding != "sample" or self.max_batch_tokens is None:
            return [GenerationCall(tuple(batch), n) for batch in self.plan_batches(prompts, n)]
        lengths = self._prompt_lengths(prompts)
        per_row = {i: batch_cache_tokens(1, 1, lengths[i], self.max_new_tokens) for i in range(len(prompts))}
        fits = [i for i in range(len(prompts)) if per_row[i] * n <= self.max_batch_tokens]
        calls: list[GenerationCall] = []
        if fits:
            grouped = self.plan_batches([prompts[i] for i in fits], n)
            calls += [GenerationCall(tuple(fits[j] for j in batch), n) for batch in grouped]
        for i in range(len(prompts)):
            if i in fits:
                continue
            rows = max(self.max_batch_tokens // per_row[i], 1)
            left = n
            while left > 0:
                calls.append(GenerationCall((i,), min(rows, left)))
                left -= rows
        return calls

    def _after_oom(self, prompts: Sequence[str], n: int) -> None:
        import gc

        import torch

        self.oom_retries += 1
        failed = batch_cache_tokens(len(prompts), n, max(self._prompt_lengths(prompts)), self.max_new_tokens)
        budget = max(failed // 2, 1)
        self.max_batch_tokens = budget if self.max_batch_tokens is None else min(self.max_batch_tokens, budget)
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _prompt_lengths(self, prompts: Sequence[str]) -> list[int]:
        return [len(ids) for ids in self._encode(prompts)]

    def _encode(self, prompts: Sequence[str]) -> list[list[int]]:
        """Each prompt's ids, tokenized as the model card does (one BOS) and cut to `max_prompt_tokens`."""
        return [encode_prompt(self.tokenizer, p, self.max_prompt_tokens) for p in prompts]

    def plan_batches(self, prompts: Sequence[str], n: int) -> list[list[int]]:
        """Group prompt indices into forward passes: similar lengths together, at most `batch_size`
        states and (when set) at most `max_batch_tokens` cached tokens (`batch_cache_tokens`) each.

        Each state's candidates do not depend on its batch companions, so the grouping is free;
        sorting by length keeps padding small, and the token cap keeps the KV cache, which beam
        search copies every step, within what the device handles well (CPU: `CPU_MAX_BATCH_TOKENS`;
        CUDA: a share of free memory over `kv_cache_bytes_per_token`). A state over the cap alone
        still gets a batch of its own.
        """
        lengths = self._prompt_lengths(prompts)
        order = sorted(range(len(prompts)), key=lambda i: lengths[i])
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order:
            longest = max(lengths[i], max((lengths[j] for j in current), default=0))
            cost = batch_cache_tokens(len(current) + 1, n, longest, self.max_new_tokens)
            over_budget = self.max_batch_tokens is not None and cost > self.max_batch_tokens
            if current and (len(current) >= self.batch_size or over_budget):
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
        return batches

    def _candidates(self, request: GenRequest, raws: list[RawSequence], k: int) -> list[Candidate]:
        # The prompt already held the completion prefix and the tactic prefix: put them back before cleaning.
        lead = self.template.completion_prefix + request.prefix if request.prefix else ""
        samples = ((lead + raw.text, raw.logprob, raw.num_tokens) for raw in raws)
        return best_candidates(samples, request.prefix, self.sanitizer, self._rank, k)

    def _rank(self, cand: Candidate) -> float:
        return self.template.rank_key(cand.logprob, cand.num_tokens)

    def generate_raw(self, prompts: Sequence[str], n: int) -> list[list[RawSequence]]:
        """`n` completions per prompt (one `generate` call), with summed log-probabilities."""
        import torch
        from transformers import GenerationConfig as _GenerationConfig
        from transformers import LogitsProcessorList

        GenerationConfig: Any = _GenerationConfig

        tok = self.tokenizer
        device = next(self.model.parameters()).device
        enc = self._left_padded(self._encode(prompts), device)
        prompt_len = enc["input_ids"].shape[1]
        eos = list(self.eos_token_ids)
        stop = [s for s in self.template.stop if s]
        common: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "num_return_sequences": n,
            "pad_token_id": tok.pad_token_id,
            "eos_token_id": eos,
            "return_dict_in_generate": True,
            "output_scores": False,
            "stop_strings": stop or None,
        }
        processors: list[Any] = []
        mask = _MaskTokens(self.forbidden_token_ids) if self.forbidden_token_ids else None
        beam_rec: _BeamTopK | None = None
        sample_rec: _SampledLogprobs | None = None
        if self.decoding == "beam":
            gen_config = GenerationConfig(
                num_beams=n, do_sample=False, length_penalty=self.length_penalty, early_stopping=False, **common
            )
            if mask is not None:
                processors.append(_as_processor(mask))
            beam_rec = _BeamTopK(max(2, 1 + len(eos)) * n)
            processors.append(_as_processor(beam_rec))
        else:
            # Neutral, not None: None would be filled from the model's generation config, then top-k 50.
            gen_config = GenerationConfig(num_beams=1, do_sample=True, top_k=0, temperature=1.0, top_p=1.0, **common)
            sample_rec = _SampledLogprobs()
            processors.append(_as_processor(sample_rec))
            if mask is not None:
                processors.append(_as_processor(mask))
            from transformers import TemperatureLogitsWarper, TopPLogitsWarper

            if self.temperature != 1.0:
                processors.append(TemperatureLogitsWarper(self.temperature))
            if self.top_p < 1.0:
                processors.append(TopPLogitsWarper(self.top_p))
            torch.manual_seed(self.seed + self._calls)
        self._calls += 1
        with torch.inference_mode():
            try:
                cache = self._shared_prefill(enc, n)
            except (TypeError, ValueError, AttributeError, NotImplementedError):
                # A model family without these cache APIs: `generate` does the prefill per row.
                self.share_prefill = False
                cache = None
            if cache is not None:
                enc[cache_kwarg(self.model)] = cache
            with isolated_generation_config(self.model, eos, tok.pad_token_id):
                result = self.model.generate(
                    **enc,
                    generation_config=gen_config,
                    logits_processor=LogitsProcessorList(processors),
                    tokenizer=tok if stop else None,
                )
        sequences = result.sequences
        if beam_rec is not None:
            token_lp = beam_rec.token_logprobs(sequences, result.beam_indices, prompt_len)
            lengths = (result.beam_indices >= 0).sum(dim=1).tolist()
        else:
            assert sample_rec is not None
            token_lp = sample_rec.token_logprobs(sequences)
            lengths = self._sampled_lengths(sequences[:, prompt_len:], stop)
        generated = sequences[:, prompt_len:].tolist()
        token_lp_rows = token_lp.float().cpu().tolist()
        raws: list[list[RawSequence]] = [[] for _ in prompts]
        for row, (ids, lps, length) in enumerate(zip(generated, token_lp_rows, lengths, strict=True)):
            if length <= 0:
                continue
            text = str(tok.decode(ids[:length], skip_special_tokens=True))
            raws[row // n].append(RawSequence(text=text, logprob=float(sum(lps[:length])), num_tokens=int(length)))
        return raws

    def _left_padded(self, ids: list[list[int]], device: Any) -> dict[str, Any]:
        """`input_ids` and `attention_mask` tensors, each row padded on the left to the longest."""
        import torch

        width = max(len(row) for row in ids)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(row)) + row for row in ids], dtype=torch.long)
        mask = torch.tensor([[0] * (width - len(row)) + [1] * len(row) for row in ids], dtype=torch.long)
        return {"input_ids": input_ids.to(device), "attention_mask": mask.to(device)}

    def _shared_prefill(self, enc: dict[str, Any], n: int) -> Any:
        """The prompts' KV cache computed once per state, then repeated for its `n` beams or samples.

        `generate` would otherwise run each prompt through the model once per beam. The last
        prompt token is left for `generate`, which needs at least one uncached input. With
        `kv_cache="static"` the repeated cache is preallocated for the whole generation, so the
        decoding steps write in place instead of re-concatenating the cache every token.
        """
        ids, mask = enc["input_ids"], enc["attention_mask"]
        if not self.share_prefill or ids.shape[1] < 2:
            return None
        positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
        out = self.model(
            input_ids=ids[:, :-1],
            attention_mask=mask[:, :-1],
            position_ids=positions[:, :-1],
            use_cache=True,
            logits_to_keep=1,
        )
        dynamic = getattr(out, "cache", None) or getattr(out, "past_key_values", None)
        layers = getattr(dynamic, "layers", None)
        if dynamic is None or not layers or not all(hasattr(layer, "keys") for layer in layers):
            return None
        if self.kv_cache == "static":
            from transformers import StaticCache

            static = StaticCache(config=self.model.config, max_cache_len=ids.shape[1] + self.max_new_tokens)
            for index, layer in enumerate(layers):
                static.update(layer.keys.repeat_interleave(n, dim=0), layer.values.repeat_interleave(n, dim=0), index)
            return static
        if n > 1:
            dynamic.batch_repeat_interleave(n)
        return dynamic

    def _sampled_lengths(self, generated: torch.Tensor, stop: list[str]) -> list[int]:
        """Tokens that belong to each sample: through EOS, or through the token completing a stop string.

        After a sample finishes, `generate` fills it with pad tokens, which may equal EOS.
        """
        tok = self.tokenizer
        eos_ids = set(self.eos_token_ids)
        ends = eos_ids | {tok.pad_token_id}
        lengths = []
        for ids in generated.tolist():
            first_end = next((i for i, t in enumerate(ids) if t in ends), len(ids))
            if first_end == len(ids):
                lengths.append(first_end)
                continue
            text = tok.decode(ids[:first_end], skip_special_tokens=True)
            stopped_by_string = any(s in text for s in stop)
            sampled_eos = ids[first_end] in eos_ids and not stopped_by_string
            lengths.append(first_end + 1 if sampled_eos else first_end)
        return lengths

    def __repr__(self) -> str:
        name = getattr(self.model.config, "_name_or_path", type(self.model).__name__)
        return f"HFGenerator({name!r}, template={self.template.name!r}, decoding={self.decoding!r})"
