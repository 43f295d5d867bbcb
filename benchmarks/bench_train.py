"""Training throughput with packing against padding, same data and model, measured side by side.

    python benchmarks/bench_train.py [--config train/configs/cpu-tiny.toml] [--examples 480] [--rounds 2]

Both methods train (forward, backward, optimizer step) a fresh copy of the config's model on the same
held-in examples: packing fills rows of `data.max_length` tokens; padding pads shuffled batches to their
longest example. Throughput counts real (non-pad) tokens per second, so wasted pad compute shows up.
Rounds alternate the two methods so that background load hits both alike.
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any


def _batches(rows: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def _run(model: Any, optimizer: Any, batches: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    for batch in batches:
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="train/configs/cpu-tiny.toml")
    parser.add_argument("--examples", type=int, default=480, help="training examples per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--pad-batch", type=int, default=0, help="examples per padded batch (default: same tokens budget)"
    )
    args = parser.parse_args()

    import torch

    from prover.templates import get_template
    from train.config import load_train_config
    from train.data import prepare_data
    from train.formatting import format_texts, tokenize_steps
    from train.packing import (
        PackedCollator,
        PaddingCollator,
        as_dicts,
        pack_examples,
        packing_efficiency,
        padding_efficiency,
    )
    from train.tokenizer import train_bpe_tokenizer
    from train.trainer import build_model

    cfg = load_train_config(args.config)
    if cfg.training.torch_threads is not None:
        torch.set_num_threads(cfg.training.torch_threads)
    if cfg.model.name_or_path is not None:
        raise SystemExit("bench_train.py measures a from-scratch config (model.name_or_path unset)")
    template = get_template(cfg.template)
    data = prepare_data(cfg.data, cfg.seed)
    tokenizer = train_bpe_tokenizer(["".join(format_texts(s, template)) for s in data.train], cfg.model.vocab_size)
    examples, _ = tokenize_steps(data.train, template, tokenizer, cfg.data.max_length)
    random.Random(0).shuffle(examples)
    examples = examples[: args.examples]
    block = cfg.data.max_length
    rows_per_batch = cfg.training.batch_size

    packed_rows = pack_examples(examples, block, tokenizer.pad_token_id)
    random.Random(1).shuffle(packed_rows)
    packed = [PackedCollator()(b) for b in _batches(as_dicts(packed_rows), rows_per_batch)]
    # Same examples per step on average, so both optimisers take comparable steps.
    pad_batch = args.pad_batch or max(1, round(len(examples) / max(len(packed), 1)))
    padded = [PaddingCollator(tokenizer.pad_token_id)(b) for b in _batches(as_dicts(examples), pad_batch)]
    real_tokens = sum(len(e) for e in examples)
    pack_eff = packing_efficiency(packed_rows)
    pad_eff = padding_efficiency(examples, pad_batch)

    torch.manual_seed(0)
    timings: dict[str, float] = {"packing": 0.0, "padding": 0.0}
    models = {name: build_model(cfg, tokenizer) for name in timings}
    optimizers = {name: torch.optim.AdamW(m.parameters(), lr=cfg.training.learning_rate) for name, m in models.items()}
    for name, m in models.items():  # warm-up: first-call allocations and kernel selection
        m.train()
        _run(m, optimizers[name], (packed if name == "packing" else padded)[:1])
    for r in range(args.rounds):
        order = ["packing", "padding"] if r % 2 == 0 else ["padding", "packing"]
        for name in order:
            timings[name] += _run(models[name], optimizers[name], packed if name == "packing" else padded)

    n_params = sum(p.numel() for p in models["packing"].parameters())
    print(f"model: from-scratch Llama, {n_params / 1e6:.2f}M parameters, threads={torch.get_num_threads()}")
    print(f"data: {len(examples)} examples, {real_tokens} real tokens, {args.rounds} rounds per method")
    for name, eff, shape in (
        ("packing", pack_eff, f"{len(packed)} steps x {rows_per_batch} rows x {block} tokens"),
        ("padding", pad_eff, f"{len(padded)} steps x {pad_batch} examples padded to the longest"),
    ):
        tps = real_tokens * args.rounds / timings[name]
        print(
            f"{name}: {tps:,.0f} real tokens/s; efficiency (non-pad fraction) {eff:.1%}; {shape}; {timings[name]:.1f}s"
        )
    speedup = timings["padding"] / timings["packing"]
    print(f"packing vs padding: {speedup:.2f}x tokens/s; packing efficiency {pack_eff:.1%} vs {pad_eff:.1%}")


if __name__ == "__main__":
    main()
