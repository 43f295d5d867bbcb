"""Sequence packing: several examples per fixed-length row, each attending only to itself.

A packed row carries `position_ids` that restart at 0 for every example and no attention mask;
transformers then builds a block-diagonal causal mask from the position ids (masking_utils'
packed-sequence detection), so packing changes throughput, not what the model sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from train.formatting import IGNORE_INDEX, TokenizedExample


@dataclass(frozen=True)
class PackedRow:
    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]
    lengths: tuple[int, ...]  # the examples in it, in order

    @property
    def num_real_tokens(self) -> int:
        return sum(self.lengths)


def pack_examples(examples: Sequence[TokenizedExample], block_size: int, pad_token_id: int) -> list[PackedRow]:
    """First-fit-decreasing bin packing into rows of exactly `block_size` tokens; no example is split.

    The tail of a row is padding: its labels are ignored and its positions restart, so it forms a
    separate (ignored) segment.
    """
    order = sorted(range(len(examples)), key=lambda i: -len(examples[i]))
    bins: list[list[int]] = []
    free: list[int] = []
    for i in order:
        n = len(examples[i])
        if n > block_size:
            raise ValueError(f"an example of {n} tokens does not fit a block of {block_size}")
        for b, room in enumerate(free):
            if room >= n:
                bins[b].append(i)
                free[b] -= n
                break
        else:
            bins.append([i])
            free.append(block_size - n)
    rows = []
    for members in bins:
        ids: list[int] = []
        labels: list[int] = []
        positions: list[int] = []
        for i in members:
            ex = examples[i]
            ids += ex.input_ids
            labels += ex.labels
            positions += list(range(len(ex)))
        pad = block_size - len(ids)
        rows.append(
            PackedRow(
                input_ids=ids + [pad_token_id] * pad,
                labels=labels + [IGNORE_INDEX] * pad,
                position_ids=positions + list(range(pad)),
                lengths=tuple(len(examples[i]) for i in members),
            )
        )
    return rows


def packing_efficiency(rows: Sequence[PackedRow]) -> float:
    """Fraction of tokens in the rows that are real (not padding)."""
    total = sum(len(r.input_ids) for r in rows)
    return sum(r.num_real_tokens for r in rows) / total if total else 0.0


def padding_efficiency(examples: Sequence[TokenizedExample], batch_size: int) -> float:
    """Fraction of non-pad tokens when consecutive batches are padded to their longest example."""
    real = total = 0
    for start in range(0, len(examples), batch_size):
        batch = examples[start : start + batch_size]
        real += sum(len(e) for e in batch)
        total += max(len(e) for e in batch) * len(batch)
    return real / total if total else 0.0


class PackedCollator:
    """Stacks packed rows (dicts with input_ids, labels, position_ids) into tensors; no attention mask."""

    def __call__(self, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        import torch

        return {
            key: torch.tensor([row[key] for row in rows], dtype=torch.long)
            for key in ("input_ids", "labels", "position_ids")
        }


class PaddingCollator:
    """Pads examples (dicts with input_ids, labels) to the longest in the batch, with an attention mask."""

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        import torch

        width = max(len(row["input_ids"]) for row in rows)
        ids, labels, mask = [], [], []
        for row in rows:
            pad = width - len(row["input_ids"])
            ids.append(list(row["input_ids"]) + [self.pad_token_id] * pad)
            labels.append(list(row["labels"]) + [IGNORE_INDEX] * pad)
            mask.append([1] * len(row["input_ids"]) + [0] * pad)
        return {
            "input_ids": torch.tensor(ids, dtype=torch.long),
            "labels": torch.tensor(labels, dtype=torch.long),
            "attention_mask": torch.tensor(mask, dtype=torch.long),
        }


def as_dicts(rows: Sequence[PackedRow] | Sequence[TokenizedExample]) -> list[dict[str, Any]]:
    """Rows in the dict form the collators (and a torch Dataset) take."""
    out: list[dict[str, Any]] = []
    for row in rows:
        item: dict[str, Any] = {"input_ids": row.input_ids, "labels": row.labels}
        if isinstance(row, PackedRow):
            item["position_ids"] = row.position_ids
        out.append(item)
    return out
