"""A prepared GPU check: batched generation, KV-cache memory against the sizing rule, LoRA training speed.

Run from the repository root (nothing needs installing; the project is imported from the checkout):

    python benchmarks/gpu_check.py                 # GPU: a random ~1B Llama in bf16, well under 10 minutes
    python benchmarks/gpu_check.py --tiny          # CPU: a tiny model, seconds (CI runs this)
    python benchmarks/gpu_check.py --json out.json # also write the figures to a file

It builds a randomly initialised Llama-architecture model (no hub, no network) and prints, as a table and
then as one JSON object:
1. batched vs one-state-at-a-time generation throughput through the project's `HFGenerator`
   (beam 8 and 32, 64 new tokens, 16 states; target: batched >= 8x one-at-a-time at 16 states);
2. the peak GPU memory of one beam-32 batch of 16 states against the sizing rule `HFGenerator` batches by
   (states x beams x (prompt + new tokens) x `kv_cache_bytes_per_token`);
3. tokens/s of a few LoRA training steps with gradient checkpointing;
4. whole-proof sampling (pass@32 of one prompt) under a KV-cache budget that holds fewer than 32 rows:
   the samples go over >= 2 `generate` calls, each within the budget, and (GPU) the peak memory above the
   weights stays within the memory the plan reserves (budget / `CUDA_CACHE_MEMORY_FRACTION`);
5. generation-config isolation: with a checkpoint generation config of temperature 0.6, top-k 20, top-p 0.8
   and repetition penalty 1.3, beam scores still equal a plain forward pass and no transformers logits
   processor runs that this project did not ask for.

Imports: torch, transformers, peft (section 3 only) and the project's `prover.generators.hf`, loaded
without `prover.generators/__init__.py` (which needs pydantic). If a machine still lacks a pure-Python
package, bring it as a wheel from a machine with an index (docs/generators.md, "GPU check"):
    pip download --no-deps -d wheels/ NAME==VERSION        # here, for each missing package
    pip install --no-index --find-links wheels/ NAME        # there, after carrying wheels/ over
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
import types
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Size:
    """Model shape and workload of one check."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int
    dtype: str  # "bfloat16" or "float32"
    states: int
    beams: tuple[int, ...]
    new_tokens: int
    lora_batch: int
    lora_seq: int
    lora_steps: int


# Llama 3.2 1B's shape (16 layers, hidden 2048, 32 heads, 8 KV heads, MLP 8192) with a 32k vocabulary.
FULL = Size(2048, 16, 32, 8, 8192, 32000, "bfloat16", 16, (8, 32), 64, 8, 512, 5)
TINY = Size(64, 2, 4, 2, 128, 300, "float32", 4, (2, 4), 8, 2, 32, 2)
SPEEDUP_TARGET = 8.0
WHOLE_PROOF_SAMPLES = 32
# A Qwen3-style generation_config.json plus a repetition penalty (section 5).
OPINIONATED_GENERATION = {"do_sample": True, "temperature": 0.6, "top_k": 20, "top_p": 0.8, "repetition_penalty": 1.3}


def import_generator_modules() -> tuple[Any, Any]:
    """`prover.generators.hf` and `.tokenizers` without running the package's __init__ (pydantic-free)."""
    if "prover.generators" not in sys.modules:
        import prover

        package = types.ModuleType("prover.generators")
        package.__path__ = [str(ROOT / "prover" / "generators")]
        sys.modules["prover.generators"] = package
        prover.generators = package
    import prover.generators.hf as hf
    import prover.generators.tokenizers as tokenizers

    return hf, tokenizers


def synthetic_states(n: int) -> list[str]:
    """Lean-goal-like states of about 300 characters, different per index (so prompts vary in length)."""
    states = []
    for i in range(n):
        hyps = "\n".join(f"h{j} : x{j} * {i + j} + {j} ≤ x{(j + 1) % 5} ^ 2" for j in range(3 + i % 4))
        states.append(f"x0 x1 x2 x3 x4 : ℝ\n{hyps}\n⊢ x0 + x1 * {i} ≤ x2 ^ 2 + {i} * x3 - x4")
    return states


def build_model(size: Size, device: str) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config: Any = LlamaConfig(
        vocab_size=size.vocab,
        hidden_size=size.hidden,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        num_key_value_heads=size.kv_heads,
        intermediate_size=size.intermediate,
        max_position_embeddings=2048,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(config)
    return model.to(getattr(torch, size.dtype)).eval()


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def generation_figures(
    hf: Any, model: Any, tok: Any, forbidden: list[int], size: Size, device: str
) -> list[dict[str, Any]]:
    """Seconds for `states` states batched vs one at a time, per beam width."""
    from search.types import GenRequest

    requests = [GenRequest(s) for s in synthetic_states(size.states)]
    rows = []
    for beams in size.beams:
        gen = hf.HFGenerator(
            model,
            tok,
            "proofsteps",
            decode=hf.DecodingOptions(max_new_tokens=size.new_tokens),
            hf=hf.HFOptions(batch_size=size.states, forbidden_token_ids=forbidden, max_batch_tokens=None),
        )
        gen(requests[:1], beams)  # warm-up: kernels, allocator
        _sync(device)
        start = time.perf_counter()
        gen(requests, beams)
        _sync(device)
        batched = time.perf_counter() - start
        start = time.perf_counter()
        for request in requests:
            gen([request], beams)
        _sync(device)
        single = time.perf_counter() - start
        rows.append(
            {
                "beams": beams,
                "states": size.states,
                "new_tokens": size.new_tokens,
                "batched_s": round(batched, 3),
                "one_at_a_time_s": round(single, 3),
                "batched_states_per_s": round(size.states / batched, 3),
                "one_at_a_time_states_per_s": round(size.states / single, 3),
                "speedup": round(single / batched, 2),
            }
        )
    return rows


def memory_figures(hf: Any, model: Any, tok: Any, forbidden: list[int], size: Size, device: str) -> dict[str, Any]:
    """Peak memory above the weights of one batch at the widest beam, and what the sizing rule predicts."""
    import torch

    from search.types import GenRequest

    beams = max(size.beams)
    gen = hf.HFGenerator(
        model,
        tok,
        "proofsteps",
        decode=hf.DecodingOptions(max_new_tokens=size.new_tokens),
        hf=hf.HFOptions(batch_size=size.states, forbidden_token_ids=forbidden, max_batch_tokens=None),
    )
    requests = [GenRequest(s) for s in synthetic_states(size.states)]
    longest = max(gen._prompt_lengths([gen.prompt(r) for r in requests]))
    per_token = hf.kv_cache_bytes_per_token(model.config, next(model.parameters()).element_size())
    predicted = hf.batch_cache_tokens(size.states, beams, longest, size.new_tokens) * per_token
    out: dict[str, Any] = {
        "beams": beams,
        "states": size.states,
        "longest_prompt_tokens": longest,
        "kv_bytes_per_token": per_token,
        "predicted_cache_bytes": predicted,
        "measured_peak_bytes": None,
        "measured_over_predicted": None,
    }
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        gen(requests, beams)
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
        out["measured_peak_bytes"] = int(peak)
        out["measured_over_predicted"] = round(peak / predicted, 3)
        # What the automatic budget would do with this GPU's free memory right now.
        auto = hf.HFGenerator(
            model,
            tok,
            "proofsteps",
            decode=hf.DecodingOptions(max_new_tokens=size.new_tokens),
            hf=hf.HFOptions(batch_size=size.states),
        )
        out["auto_budget_tokens"] = auto.max_batch_tokens
        out["auto_batches"] = len(auto.plan_batches([auto.prompt(r) for r in requests], beams))
    return out


def whole_proof_figures(hf: Any, model: Any, tok: Any, forbidden: list[int], size: Size, device: str) -> dict[str, Any]:
    """pass@32 of one prompt under a cache budget of about a third of its rows: calls, rows, peak memory."""
    import torch

    from search.types import GenRequest

    probe = hf.HFGenerator(
        model,
        tok,
        "proofsteps",
        decode=hf.DecodingOptions(max_new_tokens=size.new_tokens),
        hf=hf.HFOptions(max_batch_tokens=None),
    )
    prompt = probe.prompt(GenRequest(synthetic_states(1)[0]))
    [length] = probe._prompt_lengths([prompt])
    per_token = hf.kv_cache_bytes_per_token(model.config, next(model.parameters()).element_size())
    budget = hf.batch_cache_tokens(1, WHOLE_PROOF_SAMPLES // 3, length, size.new_tokens) * per_token
    gen = hf.HFGenerator(
        model,
        tok,
        "proofsteps",
        decode=hf.DecodingOptions(decoding="sample", max_new_tokens=size.new_tokens),
        hf=hf.HFOptions(batch_size=1, forbidden_token_ids=forbidden, max_cache_bytes=budget),
    )
    rows: list[int] = []
    real = model.generate

    def counted(*args: Any, **kwargs: Any) -> Any:
        rows.append(int(kwargs["input_ids"].shape[0]) * int(kwargs["generation_config"].num_return_sequences))
        return real(*args, **kwargs)

    model.generate = counted
    peak: int | None = None
    try:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
        [samples] = gen.generate_planned([prompt], WHOLE_PROOF_SAMPLES)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
            peak = int(torch.cuda.max_memory_allocated() - base)
    finally:
        del model.generate
    reserved = int(budget / hf.CUDA_CACHE_MEMORY_FRACTION)
    largest = hf.batch_cache_tokens(1, max(rows), length, size.new_tokens) * per_token
    return {
        "samples": WHOLE_PROOF_SAMPLES,
        "returned": len(samples),
        "prompt_tokens": length,
        "cache_budget_bytes": budget,
        "plan_reserved_bytes": reserved,
        "generate_calls": len(rows),
        "rows_per_call": rows,
        "largest_call_cache_bytes": largest,
        "measured_peak_bytes": peak,
        "ok": len(rows) >= 2 and sum(rows) == WHOLE_PROOF_SAMPLES and largest <= budget
        and (peak is None or peak <= reserved),
    }  # fmt: skip


def isolation_figures(hf: Any, model: Any, tok: Any, forbidden: list[int], size: Size) -> dict[str, Any]:
    """Beam scores against a plain forward pass, and the transformers processors run, under an opinionated
    checkpoint generation config."""
    import torch
    from transformers import GenerationConfig as _GenerationConfig

    from search.types import GenRequest

    GenerationConfig: Any = _GenerationConfig  # untyped in transformers
    saved = model.generation_config
    model.generation_config = GenerationConfig(bos_token_id=1, eos_token_id=2, pad_token_id=0, **OPINIONATED_GENERATION)
    gen = hf.HFGenerator(
        model,
        tok,
        "proofsteps",
        decode=hf.DecodingOptions(max_new_tokens=size.new_tokens),
        hf=hf.HFOptions(forbidden_token_ids=forbidden),
    )
    seen: list[str] = []
    real = model._get_logits_processor

    def spy(*args: Any, **kwargs: Any) -> Any:
        processors = real(*args, **kwargs)
        seen.extend(type(p).__name__ for p in processors if type(p).__module__.startswith("transformers."))
        return processors

    model._get_logits_processor = spy
    try:
        prompt = gen.prompt(GenRequest(synthetic_states(1)[0]))
        raws = gen.generate_raw([prompt], 4)[0]
    finally:
        del model._get_logits_processor
        model.generation_config = saved
    device = next(model.parameters()).device
    prompt_ids = gen._encode([prompt])[0]
    worst = 0.0
    for raw in raws:
        ids = tok(raw.text, add_special_tokens=False)["input_ids"]
        if raw.num_tokens > len(ids):
            ids = ids + [tok.eos_token_id]
        with torch.no_grad():
            logits = model(torch.tensor([prompt_ids + ids], device=device)).logits[0].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        true = sum(float(logprobs[len(prompt_ids) + i - 1, t]) for i, t in enumerate(ids))
        worst = max(worst, abs(true - raw.logprob))
    tolerance = 1e-3 if next(model.parameters()).dtype == torch.float32 else 0.05 * size.new_tokens
    return {
        "beams": len(raws),
        "max_abs_score_error": round(worst, 6),
        "foreign_processors": seen,
        "ok": bool(raws) and not seen and worst <= tolerance,
    }


def lora_figures(model: Any, size: Size, device: str) -> dict[str, Any]:
    """Tokens/s of LoRA steps (r=16 on the attention projections) with gradient checkpointing."""
    import torch
    from peft import LoraConfig

    from train.peft_compat import get_lora_model

    model.config.use_cache = False
    # transformers 5.24 renamed gradient_checkpointing_enable (kept as a deprecated alias until v6).
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.enable_input_require_grads()
    lora = get_lora_model(
        model, LoraConfig(task_type="CAUSAL_LM", r=16, lora_alpha=32, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
    )  # fmt: skip
    lora.train()
    params = [p for p in lora.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    generator = torch.Generator(device="cpu").manual_seed(0)

    def step() -> None:
        ids = torch.randint(3, size.vocab, (size.lora_batch, size.lora_seq), generator=generator).to(device)
        loss = lora(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step()  # warm-up
    _sync(device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(size.lora_steps):
        step()
    _sync(device)
    seconds = time.perf_counter() - start
    tokens = size.lora_batch * size.lora_seq * size.lora_steps
    return {
        "batch": size.lora_batch,
        "seq_len": size.lora_seq,
        "steps": size.lora_steps,
        "trainable_params": sum(p.numel() for p in params),
        "seconds": round(seconds, 3),
        "tokens_per_s": round(tokens / seconds, 1),
        "peak_bytes": int(torch.cuda.max_memory_allocated()) if device.startswith("cuda") else None,
    }


def _gib(value: int | None) -> str:
    if value is None:
        return "n/a"
    return f"{value / 2**30:.2f} GiB" if value >= 2**28 else f"{value / 2**20:.1f} MiB"


def table(report: dict[str, Any]) -> str:
    lines = [
        f"GPU check {report['date']} on {report['device_name']} ({report['model']['params'] / 1e6:,.1f}M params, "
        f"{report['model']['dtype']}; torch {report['versions']['torch']}, "
        f"transformers {report['versions']['transformers']})",
        f"{'generation':<28}{'batched st/s':>14}{'single st/s':>14}{'speedup':>10}",
    ]
    for row in report["generation"]:
        label = f"beam {row['beams']}, {row['states']} states, {row['new_tokens']} new"
        lines.append(
            f"{label:<28}{row['batched_states_per_s']:>14.2f}{row['one_at_a_time_states_per_s']:>14.2f}"
            f"{row['speedup']:>9.1f}x"
        )
    mem = report["memory"]
    ratio = "n/a" if mem["measured_over_predicted"] is None else f"{mem['measured_over_predicted']:.2f}x"
    lines.append(
        f"memory, beam {mem['beams']} x {mem['states']} states: peak {_gib(mem['measured_peak_bytes'])}, "
        f"sizing rule {_gib(mem['predicted_cache_bytes'])} (measured/rule {ratio})"
    )
    lora = report["lora"]
    whole = report["whole_proof"]
    lines.append(
        f"whole proofs, pass@{whole['samples']} of one prompt: {whole['generate_calls']} generate calls "
        f"{whole['rows_per_call']}, largest {_gib(whole['largest_call_cache_bytes'])} of a "
        f"{_gib(whole['cache_budget_bytes'])} cache budget, peak {_gib(whole['measured_peak_bytes'])} of "
        f"{_gib(whole['plan_reserved_bytes'])} reserved: {'ok' if whole['ok'] else 'FAILED'}"
    )
    iso = report["isolation"]
    lines.append(
        f"checkpoint generation config ignored: beam score error {iso['max_abs_score_error']:.2g}, "
        f"foreign processors {iso['foreign_processors'] or 'none'}: {'ok' if iso['ok'] else 'FAILED'}"
    )
    lines.append(
        f"LoRA r=16 + gradient checkpointing, {lora['batch']}x{lora['seq_len']} tokens/step: "
        f"{lora['tokens_per_s']:.0f} tokens/s (peak {_gib(lora['peak_bytes'])})"
    )
    speed = report["target"]
    verdict = ("met" if speed["met"] else "NOT met") if report["device"] != "cpu" else "applies to the GPU run"
    lines.append(
        f"batched speedup at {speed['states']} states: {speed['speedup']:.1f}x (target >= {SPEEDUP_TARGET:.0f}x: {verdict})"
    )
    return "\n".join(lines)


def run(size: Size, device: str) -> dict[str, Any]:
    import torch
    import transformers

    hf, tokenizers = import_generator_modules()
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        torch.set_num_threads(1)  # tiny models gain nothing from threads on a shared machine
    tok = tokenizers.byte_level_tokenizer()
    allowed = set(tokenizers.printable_ascii_ids(tok))
    forbidden = [i for i in range(size.vocab) if i not in allowed]  # random models: printable text only
    model = build_model(size, device)
    generation = generation_figures(hf, model, tok, forbidden, size, device)
    memory = memory_figures(hf, model, tok, forbidden, size, device)
    whole_proof = whole_proof_figures(hf, model, tok, forbidden, size, device)
    isolation = isolation_figures(hf, model, tok, forbidden, size)
    try:
        import peft

        lora = lora_figures(model, size, device)
        peft_version = peft.__version__
    except ImportError:
        lora, peft_version = {"tokens_per_s": float("nan"), "batch": 0, "seq_len": 0, "peak_bytes": None}, None
    widest = max(generation, key=lambda row: row["beams"])
    speedup = min(row["speedup"] for row in generation)
    return {
        # timezone.utc, not dt.UTC: the GPU machine may run a Python older than 3.11.
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),  # noqa: UP017
        "device": device,
        "device_name": torch.cuda.get_device_name() if device.startswith("cuda") else "CPU",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft_version},
        "size": asdict(size),
        "model": {"params": sum(p.numel() for p in model.parameters()), "dtype": size.dtype},
        "generation": generation,
        "memory": memory,
        "whole_proof": whole_proof,
        "isolation": isolation,
        "lora": lora,
        "target": {"states": widest["states"], "speedup": speedup, "met": speedup >= SPEEDUP_TARGET},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tiny", action="store_true", help="a tiny model on CPU (seconds; what CI runs)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    parser.add_argument("--json", type=Path, help="also write the JSON report to this file")
    args = parser.parse_args(argv)
    size = TINY if args.tiny else FULL
    device = "cpu" if args.tiny and args.device == "auto" else args.device
    if not args.tiny:
        import torch

        if device in ("auto", "cuda") and not torch.cuda.is_available():
            print("gpu_check: no CUDA device; use --tiny for the CPU run", file=sys.stderr)
            return 2
    report = run(size, device)
    print(table(report))
    text = json.dumps(report, indent=None, sort_keys=True)
    print(text)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0 if report["whole_proof"]["ok"] and report["isolation"]["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
