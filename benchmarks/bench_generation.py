"""Batched vs one-at-a-time tactic generation throughput, measured side by side on one model.

    python benchmarks/bench_generation.py                     # CPU: the cpu-tiny shape, random init
    python benchmarks/bench_generation.py --model EleutherAI/llemma_7b   # GPU (default there)
    python benchmarks/bench_generation.py --random-7b         # GPU without hub access: a random Llama-7B

States are real LeanDojo states from ../shared/data/proofsteps. Both modes use the same generator
(beam 8, 24 new tokens); the batched mode sends all states in one call. The last line is
`batched/unbatched throughput: X`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import tomllib
from pathlib import Path
from typing import Any

from prover.paths import proofsteps_dir
from search.types import GenRequest

REPO = Path(__file__).resolve().parents[1]

CPU_TINY = REPO / "train" / "configs" / "cpu-tiny.toml"
MODEL_FALLBACK = {
    "hidden_size": 256,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "intermediate_size": 768,
    "max_position_embeddings": 1024,
    "vocab_size": 2048,
}
LLAMA_7B = {
    "hidden_size": 4096,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "intermediate_size": 11008,
    "max_position_embeddings": 4096,
    "vocab_size": 32016,
}


def load_states(n: int) -> list[str]:
    states: list[str] = []
    for path in sorted(proofsteps_dir().glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            state = row.get("state_before")
            if state and state not in states:
                states.append(state)
            if len(states) == n:
                return states
    if not states:
        raise SystemExit(f"no proof states found under {proofsteps_dir()}")
    return (states * (n // len(states) + 1))[:n]


def cpu_tiny_shape() -> tuple[dict[str, int], str]:
    shape = dict(MODEL_FALLBACK)
    template = "proofsteps"
    if CPU_TINY.is_file():
        data = tomllib.loads(CPU_TINY.read_text(encoding="utf-8"))
        shape.update({k: int(v) for k, v in data.get("model", {}).items() if k in MODEL_FALLBACK})
        template = str(data.get("template", template))
    return shape, template


def random_llama(shape: dict[str, Any], device: str, dtype: Any) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from prover.generators.hf import attention_implementation

    config: Any = LlamaConfig(
        **shape,
        num_key_value_heads=shape["num_attention_heads"],
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    config._attn_implementation = attention_implementation(device)
    torch.manual_seed(0)
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model: Any = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(default_dtype)
    return model.eval()


def build_generator(args: argparse.Namespace) -> tuple[Any, str]:
    import torch

    from prover.generators.decoding import DecodingOptions
    from prover.generators.hf import HFGenerator, HFOptions, load_model_and_tokenizer, resolve_device, resolve_dtype
    from prover.generators.tokenizers import byte_level_tokenizer

    device = resolve_device(args.device)
    decode = DecodingOptions(decoding="beam", max_new_tokens=args.new_tokens)
    batching = HFOptions(batch_size=args.states)
    if args.random_7b or (args.model is None and device == "cpu"):
        if args.random_7b:
            shape, template, what = dict(LLAMA_7B), args.template or "llemma", "random-init Llama-7B shape"
        else:
            shape, template = cpu_tiny_shape()
            template = args.template or template
            what = f"random-init cpu-tiny shape {shape}"
        model = random_llama(shape, device, resolve_dtype("auto", device))
        gen = HFGenerator(model, byte_level_tokenizer(), template, decode, batching)
        return gen, f"{what} on {device}"
    name = args.model or "EleutherAI/llemma_7b"
    try:
        model, tokenizer = load_model_and_tokenizer(name, device=device)
    except RuntimeError as exc:
        raise SystemExit(f"error: {exc}") from None
    gen = HFGenerator(model, tokenizer, args.template or "llemma", decode, batching)
    return gen, f"{name} on {device} ({torch.get_default_dtype() if device == 'cpu' else 'bfloat16'})"


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--model", default=None, help="hub id or local path (default: cpu-tiny on CPU, llemma_7b on GPU)"
    )
    parser.add_argument("--random-7b", action="store_true", help="a random-init Llama-7B (GPU, no hub needed)")
    parser.add_argument("--template", default=None, help="prompt template (default: the model's)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--states", type=int, default=16, help="states per batched call")
    parser.add_argument("--beam", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    gen, what = build_generator(args)
    requests = [GenRequest(s) for s in load_states(args.states)]
    print(
        f"model: {what}; template {gen.template.name}; {len(requests)} states, beam {args.beam}, {args.new_tokens} new tokens"
    )
    plan = gen.plan_batches([gen.prompt(r) for r in requests], args.beam)
    print(
        f"forward passes per batched call: {len(plan)} (states each: {[len(p) for p in plan]}; "
        f"max_batch_tokens={gen.max_batch_tokens})"
    )

    def batched() -> float:
        start = time.perf_counter()
        gen(requests, args.beam)
        return time.perf_counter() - start

    def unbatched() -> float:
        start = time.perf_counter()
        for request in requests:
            gen([request], args.beam)
        return time.perf_counter() - start

    gen(requests[:2], args.beam)  # warm-up (kernels, caches)
    batched_times, unbatched_times = [], []
    for i in range(args.repeats):
        # Interleaved, so background load affects both modes alike.
        batched_times.append(batched())
        unbatched_times.append(unbatched())
        print(f"  repeat {i + 1}: batched {batched_times[-1]:.2f}s, one at a time {unbatched_times[-1]:.2f}s")
    # The fastest repeat is the best estimate of the undisturbed cost (background load only adds time).
    b = len(requests) / min(batched_times)
    u = len(requests) / min(unbatched_times)
    median_ratio = statistics.median(unbatched_times) / statistics.median(batched_times)
    print(f"batched: {b:.2f} states/s; one at a time: {u:.2f} states/s (ratio of medians {median_ratio:.2f})")
    ratio = b / u
    print(f"batched/unbatched throughput: {ratio:.2f}")
    return ratio


if __name__ == "__main__":
    main()
