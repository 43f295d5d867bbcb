"""Held-out evaluation: tactic-token loss (with and without the state), perplexity, top-k tactic accuracy.

Accuracy goes through the prover's own generator (`HFGenerator`, beam search with `[eval] num_beams`
beams), so it measures the checkpoint as `prover prove --model CHECKPOINT` will use it. It runs on the
trained model already in memory: loading the saved checkpoint again would put a second (float32) copy of
the model next to it, an out-of-memory error after the checkpoint is saved on cards of 48 GB or less.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from prover.templates import PromptTemplate
from search.types import Candidate, GenRequest, TacticGenerator
from train.config import EvalSection
from train.data import ProofStep, collapse_ws, most_frequent_tactics
from train.formatting import IGNORE_INDEX, TokenizedExample, tokenize_steps
from train.packing import PaddingCollator, as_dicts


@dataclass(frozen=True)
class LossReport:
    loss: float  # mean negative log-likelihood per tactic token (nats)
    tokens: int
    examples: int

    @property
    def perplexity(self) -> float:
        return math.exp(min(self.loss, 50.0))


@dataclass(frozen=True)
class AccuracyReport:
    top1: float
    topk: float
    k: int
    examples: int


@dataclass(frozen=True)
class EvalReport:
    with_state: LossReport
    blanked: LossReport | None
    model: AccuracyReport | None
    baseline: AccuracyReport | None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "held_out_loss": self.with_state.loss,
            "held_out_perplexity": self.with_state.perplexity,
            "held_out_tokens": self.with_state.tokens,
            "held_out_examples": self.with_state.examples,
        }
        if self.blanked is not None:
            out["blanked_state_loss"] = self.blanked.loss
            out["blanked_state_perplexity"] = self.blanked.perplexity
        if self.model is not None:
            out["model_accuracy"] = asdict(self.model)
        if self.baseline is not None:
            out["frequency_baseline_accuracy"] = asdict(self.baseline)
        return out

    def summary_line(self) -> str:
        """The run's last printed line."""
        blanked = f"{self.blanked.loss:.3f}" if self.blanked is not None else "n/a"
        k = self.model.k if self.model is not None else (self.baseline.k if self.baseline is not None else 5)
        model = f"{self.model.topk:.3f}" if self.model is not None else "n/a"
        base = f"{self.baseline.topk:.3f}" if self.baseline is not None else "n/a"
        return (
            f"held-out tactic loss: with state {self.with_state.loss:.3f}, state blanked {blanked}; "
            f"top{k} accuracy: model {model}, frequency baseline {base}"
        )


def tactic_loss(
    model: Any, examples: Sequence[TokenizedExample], pad_token_id: int, batch_size: int = 16
) -> LossReport:
    """Mean NLL over the label (tactic + EOS) tokens only, micro-averaged over all held-out tokens."""
    import torch
    import torch.nn.functional as F

    collate = PaddingCollator(pad_token_id)
    device = next(model.parameters()).device
    total = 0.0
    count = 0
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(examples), batch_size):
                batch = collate(as_dicts(examples[start : start + batch_size]))
                batch = {k: v.to(device) for k, v in batch.items()}
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
                shift_logits = logits[:, :-1].float()
                shift_labels = batch["labels"][:, 1:]
                total += F.cross_entropy(
                    shift_logits.reshape(-1, shift_logits.size(-1)),
                    shift_labels.reshape(-1),
                    ignore_index=IGNORE_INDEX,
                    reduction="sum",
                ).item()
                count += int((shift_labels != IGNORE_INDEX).sum().item())
    finally:
        model.train(was_training)
    return LossReport(loss=total / count if count else float("nan"), tokens=count, examples=len(examples))


def topk_accuracy(predictions: Sequence[Sequence[str]], gold: Sequence[str], k: int) -> AccuracyReport:
    """Exact match after collapsing whitespace: top-1 and any of the first k."""
    if len(predictions) != len(gold):
        raise ValueError("one prediction list per gold tactic")
    top1 = topk = 0
    for preds, answer in zip(predictions, gold, strict=True):
        want = collapse_ws(answer)
        normed = [collapse_ws(p) for p in preds[:k]]
        top1 += bool(normed) and normed[0] == want
        topk += want in normed
    n = len(gold)
    return AccuracyReport(top1=top1 / n if n else 0.0, topk=topk / n if n else 0.0, k=k, examples=n)


def frequency_baseline(train: Sequence[ProofStep], held_out: Sequence[ProofStep], k: int) -> AccuracyReport:
    """Always propose the k most frequent training tactics, in frequency order."""
    top = most_frequent_tactics(train, k)
    return topk_accuracy([top] * len(held_out), [s.tactic for s in held_out], k)


def generate_topk(generator: TacticGenerator, steps: Sequence[ProofStep], k: int, batch_size: int) -> list[list[str]]:
    out: list[list[str]] = []
    for start in range(0, len(steps), batch_size):
        chunk = steps[start : start + batch_size]
        cands: list[list[Candidate]] = generator([GenRequest(state=s.state) for s in chunk], k)
        out.extend([c.tactic for c in sorted(row, key=lambda c: -c.logprob)] for row in cands)
    return out


class BeamSearchGenerator:
    """Plain `model.generate` beam search; used only when the prover's HFGenerator is unavailable."""

    def __init__(
        self, model: Any, tokenizer: Any, template: PromptTemplate, max_new_tokens: int, num_beams: int = 1
    ) -> None:
        self.model, self.tokenizer, self.template, self.max_new_tokens = model, tokenizer, template, max_new_tokens
        self.num_beams = num_beams

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        import torch

        out: list[list[Candidate]] = []
        device = next(self.model.parameters()).device
        for req in requests:
            enc = self.tokenizer(self.template.render(req.state), return_tensors="pt").to(device)
            with torch.no_grad():
                gen = self.model.generate(
                    **enc,
                    num_beams=max(self.num_beams, k),
                    num_return_sequences=k,
                    max_new_tokens=self.max_new_tokens,
                    do_sample=False,
                    output_scores=True,
                    return_dict_in_generate=True,
                    pad_token_id=self.tokenizer.pad_token_id,
                    eos_token_id=self.tokenizer.eos_token_id,
                )
            prompt_len = enc["input_ids"].shape[1]
            scores = gen.sequences_scores.tolist()
            seen: dict[str, float] = {}
            for seq, score in zip(gen.sequences, scores, strict=True):
                text = self.tokenizer.decode(seq[prompt_len:], skip_special_tokens=True)
                tactic = self.template.extract(text)
                if tactic and tactic not in seen:
                    seen[tactic] = float(score)
            out.append([Candidate(tactic=t, logprob=s) for t, s in seen.items()])
        return out


def make_eval_generator(
    model: Any, tokenizer: Any, template: PromptTemplate, num_beams: int, k: int, max_new_tokens: int, batch_size: int
) -> TacticGenerator:
    """The prover's HFGenerator over the in-memory model (`num_beams` beams for `k` tactics), else a local
    beam search with as many beams."""
    import importlib.util

    beams = max(num_beams, k)
    if importlib.util.find_spec("prover.generators.hf") is not None:
        from prover.generators.decoding import DecodingOptions
        from prover.generators.hf import HFGenerator, HFOptions

        # HFGenerator runs ceil(k * oversample) beams for k tactics.
        gen: TacticGenerator = HFGenerator(
            model,
            tokenizer,
            template,
            decode=DecodingOptions(decoding="beam", max_new_tokens=max_new_tokens),
            hf=HFOptions(batch_size=batch_size, oversample=beams / k),
        )
        return gen
    # The prover's generator may be missing from a partial checkout; fall back to plain beam search.
    return BeamSearchGenerator(model, tokenizer, template, max_new_tokens, beams)


def evaluate_checkpoint(
    model: Any,
    tokenizer: Any,
    template: PromptTemplate,
    train: Sequence[ProofStep],
    held_out: Sequence[ProofStep],
    *,
    max_length: int,
    settings: EvalSection,
    accuracy: bool = True,
) -> EvalReport:
    """Loss with real and blanked states on the same held-out rows, then top-1/top-k against the frequency baseline.

    `settings` is the config's `[eval]` section (`topk` tactics from `num_beams` beams, `max_examples` held-out
    rows for the generation metrics). Everything runs on `model` as it is in memory (in eval mode for the call)."""
    k, batch_size, max_examples = settings.topk, settings.batch_size, settings.max_examples
    real, _ = tokenize_steps(held_out, template, tokenizer, max_length)
    with_state = tactic_loss(model, real, tokenizer.pad_token_id, batch_size)
    blanked = None
    if settings.blank_state_ablation:
        blank, _ = tokenize_steps(held_out, template, tokenizer, max_length, blank_state=True)
        blanked = tactic_loss(model, blank, tokenizer.pad_token_id, batch_size)
    model_acc = baseline = None
    if accuracy:
        rows = list(held_out[:max_examples]) if max_examples else list(held_out)
        was_training = model.training
        model.eval()
        try:
            generator = make_eval_generator(
                model, tokenizer, template, settings.num_beams, k, settings.max_new_tokens, batch_size
            )
            predictions = generate_topk(generator, rows, k, batch_size)
        finally:
            model.train(was_training)
        model_acc = topk_accuracy(predictions, [s.tactic for s in rows], k)
        baseline = frequency_baseline(train, rows, k)
    return EvalReport(with_state=with_state, blanked=blanked, model=model_acc, baseline=baseline)
