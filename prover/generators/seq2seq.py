"""Tactic generation with an encoder-decoder model (ReProver's ByT5 tactic generators), on CPU or GPU.

The encoder reads the proof state (optionally with retrieved premises prepended, ReProver's
`format_augmented_state`), the decoder writes the tactic and stops at EOS. Many states go through one
`generate` call; a tactic prefix (Lean Copilot's `prefix`) is forced as the start of the decoder's input,
so states are batched per prefix.

Each candidate's log-probability is the true sum of its generated tokens' log-probabilities under the
model, EOS included (the chance that the tactic ends there): after `generate`, the chosen sequences are
scored once more by a teacher-forced decoder pass over the same encoder output. Beam scores are steered by
the length penalty and sampling by temperature/top-p; neither leaks into the score.

It takes the causal generator's parameter objects: `DecodingOptions` (`prover.generators.decoding`; its
`max_prompt_tokens` defaults here to ReProver's 2048-byte input, cut on the right as upstream's tokenizer does)
and `HFOptions` (batch size, oversample, the batch token budget; the KV-cache and prefill knobs do not apply).

The memory plan is the decoder's: each row caches its self-attention keys/values for every generated
token and its cross-attention keys/values for every input token, so a batch costs
rows x (input length + new tokens) cached tokens (`prover.generators.hf.batch_cache_tokens`).
"""

from __future__ import annotations

import math
import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from prover.generators.decoding import DecodingOptions
from prover.generators.sanitize import Sanitizer, best_candidates
from search.types import Candidate, GenRequest

if TYPE_CHECKING:
    from prover.config import GeneratorConfig
    from prover.generators.hf import HFOptions

# Hub ids of ReProver's Lean 4 checkpoints (huggingface.co/kaiyuy): the tactic generator without and with
# retrieval, and the retriever's encoder.
REPROVER_MODEL = "kaiyuy/leandojo-lean4-tacgen-byt5-small"
REPROVER_RETRIEVAL_MODEL = "kaiyuy/leandojo-lean4-retriever-tacgen-byt5-small"
REPROVER_RETRIEVER = "kaiyuy/leandojo-lean4-retriever-byt5-small"
# ByT5-small's fp32 safetensors (the hub's file listing of each checkpoint): shown once before a download.
REPROVER_DOWNLOAD_MB = 1200
# lean-dojo/ReProver@fd6d99c prover/evaluate.py: `max_inp_seq_len: int = 2048`, `max_oup_seq_len: int = 512`
# (ByT5 tokens are bytes, so the input budget is in bytes).
REPROVER_MAX_INPUT = 2048
REPROVER_MAX_OUTPUT = 512
# Presets whose models are encoder-decoders, with the hub id each preset runs when no model is named.
SEQ2SEQ_PRESET_MODELS: dict[str, str] = {"reprover": REPROVER_MODEL, "reprover-retrieval": REPROVER_RETRIEVAL_MODEL}

# Rows x (input + new tokens) per `generate` call on CPU; like the causal generator's cap, beyond it the
# per-step cache reordering of beam search falls out of the CPU caches.
CPU_MAX_BATCH_TOKENS = 16384


# --- CPU threads -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CpuBudget:
    """How many CPUs this process may use, and what decided it."""

    cpus: int
    reason: str


def _cgroup_quota_cpus(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs the cgroup's CPU quota allows (v2 `cpu.max`, v1 `cpu.cfs_quota_us`/`cpu.cfs_period_us`); None
    when there is no quota."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        if quota != "max":
            return int(quota) / int(period)
        return None
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def available_cpus(environ: dict[str, str] | None = None, cgroup_root: Path = Path("/sys/fs/cgroup")) -> CpuBudget:
    """`OMP_NUM_THREADS` when set (the user's word), else the CPUs this process may run on (its affinity
    mask) capped by the cgroup's CPU quota (a container limited to 2 CPUs on a 64-core host)."""
    env = os.environ if environ is None else environ
    omp = env.get("OMP_NUM_THREADS", "").strip()
    if omp:
        try:
            if int(omp) >= 1:
                return CpuBudget(int(omp), "OMP_NUM_THREADS")
        except ValueError:
            pass
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        affinity = os.cpu_count() or 1
    quota = _cgroup_quota_cpus(cgroup_root)
    if quota is not None and math.ceil(quota) < affinity:
        return CpuBudget(max(1, math.ceil(quota)), f"cgroup CPU quota {quota:g}")
    return CpuBudget(max(1, affinity), "CPUs this process may run on")


_threads_lock = threading.Lock()
_threads_set: CpuBudget | None = None


def configure_torch_threads(print_to: Any = None) -> CpuBudget:
    """Set torch's intra-op threads to the CPUs available (`available_cpus`) and say so once per process."""
    global _threads_set
    with _threads_lock:
        if _threads_set is not None:
            return _threads_set
        import torch

        budget = available_cpus()
        torch.set_num_threads(budget.cpus)
        stream = sys.stderr if print_to is None else print_to
        print(f"torch: {budget.cpus} CPU thread(s) ({budget.reason})", file=stream, flush=True)
        _threads_set = budget
        return budget


# --- which model a command uses when none is named ---------------------------------------------------------

DeviceChoice = Literal["auto", "cpu", "cuda"]


@dataclass(frozen=True)
class DefaultModel:
    """The model `suggest` and `serve` run when no model is named, and why."""

    model: str
    reason: str


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def interactive_default(device: DeviceChoice, default_model: str, has_cuda: bool | None = None) -> DefaultModel:
    """`reprover` (ByT5-small, ~300M parameters, fast on a laptop CPU) when the model will run on a CPU:
    `--device cpu`, or `auto` without a CUDA device; else `default_model` (the 7B model `prove` and `sweep`
    keep, which needs a GPU)."""
    if device == "cpu":
        return DefaultModel(REPROVER_MODEL, "--device cpu")
    if device == "auto":
        has_cuda = cuda_available() if has_cuda is None else has_cuda
        if not has_cuda:
            return DefaultModel(REPROVER_MODEL, "no CUDA device")
        return DefaultModel(default_model, "a CUDA device is available")
    return DefaultModel(default_model, "--device cuda")


def apply_device(cfg: GeneratorConfig, device: str | None, model_given: bool) -> GeneratorConfig:
    """`cfg` for `suggest`/`serve` with `--device` applied and, when no model was named (flag, config key or
    template), the interactive default (`interactive_default`) as its model. ValueError for another device."""
    if device is not None and device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"--device must be auto, cpu or cuda, got {device!r}")
    updates: dict[str, Any] = {}
    if device is not None:
        updates["device"] = device
    chosen = device if device is not None else cfg.device
    named = model_given or "model" in cfg.model_fields_set or "template" in cfg.model_fields_set
    if cfg.kind == "hf" and not named and chosen in ("auto", "cpu", "cuda"):
        default = interactive_default(cast(DeviceChoice, chosen), cfg.model)
        if default.model != cfg.model:
            updates["model"] = default.model
    return cfg.model_copy(update=updates) if updates else cfg


# --- loading -----------------------------------------------------------------------------------------------


def is_seq2seq_model(model: str) -> bool:
    """Whether `model` (hub id or folder) is an encoder-decoder: a known ReProver id, or a local folder whose
    config says `is_encoder_decoder`. Hub ids are not fetched here (no network needed to decide)."""
    if model in SEQ2SEQ_PRESET_MODELS.values():
        return True
    path = Path(model).expanduser()
    config = path / "config.json"
    if not config.is_file():
        return False
    import json

    try:
        return bool(json.loads(config.read_text(encoding="utf-8")).get("is_encoder_decoder"))
    except (OSError, ValueError):
        return False


def _hub_cached(model: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(model, "config.json"), str)
    except Exception:  # noqa: BLE001 - any hub-cache failure just means "not known to be cached"
        return False


def first_use_note(model: str) -> str | None:
    """The one line shown before a ReProver checkpoint is downloaded for the first time; None otherwise."""
    if model not in SEQ2SEQ_PRESET_MODELS.values() or _hub_cached(model):
        return None
    return f"note: first use downloads {model} (about {REPROVER_DOWNLOAD_MB / 1000:.1f} GB) from the Hugging Face hub"


def load_seq2seq(model_or_path: str, device: str = "auto", dtype: str = "auto") -> tuple[Any, Any]:
    """Load an encoder-decoder model and its tokenizer for inference; failures become one-line RuntimeErrors."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from prover.generators.hf import resolve_device, resolve_dtype

    device = resolve_device(device)
    path = Path(model_or_path).expanduser()
    local = model_or_path.startswith(("/", "./", "../", "~")) or path.exists()
    if local and not path.exists():
        raise RuntimeError(f"cannot load model {model_or_path!r}: no such local path")
    source = str(path) if local else model_or_path
    note = None if local else first_use_note(model_or_path)
    if note:
        print(note, file=sys.stderr, flush=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model: Any = AutoModelForSeq2SeqLM.from_pretrained(source, dtype=resolve_dtype(dtype, device))
    except Exception as exc:  # noqa: BLE001 - any loading failure is reported as one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        where = "" if local else " (not a local path, and the Hugging Face hub could not provide it)"
        raise RuntimeError(f"cannot load model {model_or_path!r}{where}: {first}") from None
    model.to(device)
    model.eval()
    return model, tokenizer


# --- the generator -----------------------------------------------------------------------------------------


InputBuilder = Callable[[GenRequest], str]


def state_input(request: GenRequest) -> str:
    """ReProver's input without retrieval: the pretty-printed state itself (prover/tactic_generator.py's
    `HuggingFaceGenerator` with its default template "%s")."""
    return request.state


def retrieval_input(cfg: GeneratorConfig) -> InputBuilder:
    """The generator input for `cfg`: ReProver's retrieval-augmented input when the model is
    `reprover-retrieval` and `premises_project` names an indexed project (`prover index`), else the state."""
    from prover.generators.presets import apply_preset

    resolved = apply_preset(cfg)
    if resolved.preset is None or resolved.preset.name != "reprover-retrieval":
        return state_input
    if cfg.premises_project is None:
        print(
            "note: reprover-retrieval without generator.premises_project reads the state alone (no premises)",
            file=sys.stderr,
            flush=True,
        )
        return state_input
    from prover.premises.index import DEFAULT_CACHE, PremiseIndex, RetrieverEncoder
    from prover.premises.query import RetrievalInput, lean_version, project_revision

    project = Path(cfg.premises_project).expanduser()
    index = PremiseIndex(Path(cfg.premises_cache) if cfg.premises_cache else DEFAULT_CACHE, lean_version(project))
    encoder = RetrieverEncoder.from_pretrained(REPROVER_RETRIEVER, device=cfg.device)
    return RetrievalInput(index, project_revision(project), encoder)


@dataclass(frozen=True)
class ScoredSequence:
    """One decoded output before sanitising: text (prefix included), the summed log-probability of its
    generated tokens (`token_ids`: after the prefix, through EOS when it ended), and their count."""

    text: str
    logprob: float
    num_tokens: int
    token_ids: tuple[int, ...] = ()


@dataclass
class Seq2SeqGenerator:
    """`TacticGenerator` over a transformers encoder-decoder (`AutoModelForSeq2SeqLM`).

    Beam decoding uses `num_beams = num_return_sequences = ceil(k * oversample)`; sampling draws as many.
    Outputs go through the same sanitiser and tactic filter as the causal generator, are deduplicated
    (best log-probability kept) and ranked best first.
    """

    model: Any
    tokenizer: Any
    decoding: DecodingOptions = field(default_factory=DecodingOptions)
    batching: HFOptions | None = None
    build_input: InputBuilder = state_input
    name: str = ""
    # No EOS before this many tokens (a benchmark's fixed output length); 0 in real use.
    min_new_tokens: int = 0

    def __post_init__(self) -> None:
        from prover.generators.hf import HFOptions

        if self.batching is None:
            self.batching = HFOptions()
        if not 0 <= self.min_new_tokens <= self.decoding.max_new_tokens:
            raise ValueError("min_new_tokens must be in 0..max_new_tokens")
        if self.batching.oversample < 1.0:
            raise ValueError("oversample must be >= 1")
        # ReProver truncates its input on the right at 2048 bytes (tokenizer default, prover/evaluate.py).
        self.max_input_tokens: int = self.decoding.max_prompt_tokens or REPROVER_MAX_INPUT
        self.sanitizer = Sanitizer(None, allow_native_decide=self.decoding.allow_native_decide)
        first = next(self.model.parameters())
        self.device_type: str = first.device.type
        if self.device_type == "cpu":
            configure_torch_threads()
        budget = self.batching.max_batch_tokens
        self.max_batch_tokens: int | None = (
            (CPU_MAX_BATCH_TOKENS if self.device_type == "cpu" else None) if budget == "auto" else budget
        )
        self._calls = 0
        self._lock = threading.Lock()  # one `generate` at a time: torch's threads are already all in use

    @classmethod
    def from_config(cls, cfg: GeneratorConfig, build_input: InputBuilder = state_input) -> Seq2SeqGenerator:
        from prover.generators.hf import HFOptions

        model, tokenizer = load_seq2seq(cfg.model, device=cfg.device, dtype=cfg.dtype)
        decoding = DecodingOptions(
            decoding=cfg.decoding,
            max_new_tokens=cfg.max_new_tokens,
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            seed=cfg.seed,
        )
        return cls(model, tokenizer, decoding, HFOptions(batch_size=cfg.batch_size), build_input, name=cfg.model)

    # -- planning

    def _encode_lengths(self, texts: Sequence[str]) -> list[int]:
        lengths = [len(ids) for ids in self.tokenizer(list(texts))["input_ids"]]
        return [min(n, self.max_input_tokens) for n in lengths]

    def plan_batches(self, inputs: Sequence[str], prefixes: Sequence[str], n: int) -> list[list[int]]:
        """Group request indices into `generate` calls: one prefix per call, similar input lengths together,
        at most `batch_size` states and `max_batch_tokens` cached tokens each (a state over the cap alone
        still gets a call of its own)."""
        from prover.generators.hf import batch_cache_tokens

        lengths = self._encode_lengths(inputs)
        order = sorted(range(len(inputs)), key=lambda i: (prefixes[i], lengths[i]))
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order:
            longest = max([lengths[i], *(lengths[j] for j in current)])
            cost = batch_cache_tokens(len(current) + 1, n, longest, self.decoding.max_new_tokens)
            over = self.max_batch_tokens is not None and cost > self.max_batch_tokens
            other_prefix = bool(current) and prefixes[current[0]] != prefixes[i]
            assert self.batching is not None
            if current and (len(current) >= self.batching.batch_size or over or other_prefix):
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
        return batches

    # -- generation

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        if k <= 0:
            return [[] for _ in requests]
        assert self.batching is not None
        n = max(k, math.ceil(k * self.batching.oversample))
        inputs = [self.build_input(r) for r in requests]
        prefixes = [r.prefix for r in requests]
        out: list[list[Candidate]] = [[] for _ in requests]
        with self._lock:
            for chunk in self.plan_batches(inputs, prefixes, n):
                scored = self.generate_scored([inputs[i] for i in chunk], n, prefixes[chunk[0]])
                for i, seqs in zip(chunk, scored, strict=True):
                    out[i] = self._candidates(requests[i], seqs, k)
        return out

    def _candidates(self, request: GenRequest, seqs: list[ScoredSequence], k: int) -> list[Candidate]:
        # The decoder was forced to start with the prefix, so each text holds it already; rank by log-probability.
        samples = ((seq.text, seq.logprob, seq.num_tokens) for seq in seqs)
        return best_candidates(samples, request.prefix, self.sanitizer, lambda c: c.logprob, k)

    def generate_scored(self, inputs: Sequence[str], n: int, prefix: str = "") -> list[list[ScoredSequence]]:
        """`n` outputs per input from one `generate` call, each starting with `prefix`, with the summed
        log-probability of the tokens after the prefix."""
        import torch
        from transformers import GenerationConfig as _GenerationConfig

        GenerationConfig: Any = _GenerationConfig
        tok = self.tokenizer
        device = next(self.model.parameters()).device
        enc = tok(list(inputs), return_tensors="pt", padding=True, truncation=True, max_length=self.max_input_tokens)
        enc = {key: value.to(device) for key, value in enc.items()}
        start = self.model.config.decoder_start_token_id
        if start is None:
            start = tok.pad_token_id
        prefix_ids = [int(i) for i in tok(prefix, add_special_tokens=False)["input_ids"]] if prefix else []
        decoder_input = torch.tensor([[start, *prefix_ids]] * len(inputs), dtype=torch.long, device=device)
        forced = decoder_input.shape[1]
        params = self.decoding
        common: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "min_new_tokens": self.min_new_tokens or None,
            "num_return_sequences": n,
            "pad_token_id": tok.pad_token_id,
            "eos_token_id": tok.eos_token_id,
            "decoder_start_token_id": start,
            "return_dict_in_generate": True,
            "top_k": None,
        }
        if params.decoding == "beam":
            gen_config = GenerationConfig(
                num_beams=n,
                do_sample=False,
                length_penalty=params.length_penalty,
                early_stopping=False,
                temperature=None,
                top_p=None,
                **common,
            )
        else:
            gen_config = GenerationConfig(
                num_beams=1, do_sample=True, temperature=params.temperature, top_p=params.top_p, **common
            )
            torch.manual_seed(params.seed + self._calls)
        self._calls += 1
        with torch.inference_mode():
            encoder_outputs = self.model.get_encoder()(
                input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], return_dict=True
            )
            # `generate` expands the encoder output it is given in place (one row per beam): keep the original.
            hidden = encoder_outputs.last_hidden_state
            result = self.model.generate(
                encoder_outputs=encoder_outputs,
                attention_mask=enc["attention_mask"],
                decoder_input_ids=decoder_input,
                generation_config=gen_config,
            )
            sequences = result.sequences
            logprobs, lengths = self._score(hidden, enc["attention_mask"], sequences, n, forced)
        scored: list[list[ScoredSequence]] = [[] for _ in inputs]
        for row, (ids, lp, length) in enumerate(zip(sequences.tolist(), logprobs, lengths, strict=True)):
            if length <= 0:
                continue
            text = str(tok.decode(ids[1 : forced + length], skip_special_tokens=True))
            token_ids = tuple(ids[forced : forced + length])
            scored[row // n].append(ScoredSequence(text=text, logprob=lp, num_tokens=length, token_ids=token_ids))
        return scored

    def _score(
        self, encoder_hidden: Any, attention_mask: Any, sequences: Any, n: int, forced: int
    ) -> tuple[list[float], list[int]]:
        """Teacher-forced log-probabilities of each sequence's generated tokens (through its first EOS)."""
        import torch

        hidden = encoder_hidden.repeat_interleave(n, dim=0)
        mask = attention_mask.repeat_interleave(n, dim=0)
        logits = self.model(
            encoder_outputs=(hidden,),
            attention_mask=mask,
            decoder_input_ids=sequences[:, :-1],
            use_cache=False,
        ).logits
        token_lp = torch.log_softmax(logits.float(), dim=-1).gather(-1, sequences[:, 1:].unsqueeze(-1)).squeeze(-1)
        generated = sequences[:, forced:]
        eos = self.tokenizer.eos_token_id
        ends = {eos} if isinstance(eos, int) else set(eos or [])
        lps: list[float] = []
        lengths: list[int] = []
        for ids, row_lp in zip(generated.tolist(), token_lp[:, forced - 1 :].tolist(), strict=True):
            # Tokens through the first EOS; after it `generate` pads (T5's pad is its decoder start, never EOS).
            length = next((i + 1 for i, t in enumerate(ids) if t in ends), len(ids))
            lengths.append(length)
            lps.append(float(sum(row_lp[:length])))
        return lps, lengths

    def __repr__(self) -> str:
        name = self.name or getattr(self.model.config, "_name_or_path", type(self.model).__name__)
        return f"Seq2SeqGenerator({name!r}, decoding={self.decoding.decoding!r})"
