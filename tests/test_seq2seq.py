"""The encoder-decoder tactic generator on tiny random ByT5-shaped models (no hub, CPU)."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import pytest

from prover.generators import seq2seq
from prover.generators.decoding import DecodingOptions
from prover.generators.hf import HFOptions
from prover.generators.seq2seq import CpuBudget, Seq2SeqGenerator, available_cpus
from search.types import GenRequest
from tests.seq2seq_models import save_tiny_byt5, tiny_byt5

pytest.importorskip("transformers")

STATES = [
    "⊢ 0 < 1",
    "x : ℕ\nh : 0 < x\n⊢ x ≠ 0",
    "a b : ℝ\nhab : a < b\n⊢ a + 1 < b + 1",
]


@pytest.fixture(scope="module")
def model_and_tokenizer() -> tuple[Any, Any]:
    return tiny_byt5(seed=3)


def _generator(model_and_tokenizer: tuple[Any, Any], min_new_tokens: int = 0, **decoding: Any) -> Seq2SeqGenerator:
    model, tok = model_and_tokenizer
    options = DecodingOptions(**{"max_new_tokens": 12, **decoding})
    return Seq2SeqGenerator(model, tok, options, HFOptions(), min_new_tokens=min_new_tokens)


def _incremental_logprob(model: Any, tok: Any, state: str, generated: list[int]) -> float:
    """Sum of log p(token | input, earlier tokens), one decoder call per token (no shared cache)."""
    import torch

    enc = tok([state], return_tensors="pt")
    total = 0.0
    prefix = [model.config.decoder_start_token_id]
    with torch.inference_mode():
        for token in generated:
            logits = model(**enc, decoder_input_ids=torch.tensor([prefix])).logits[0, -1]
            total += float(torch.log_softmax(logits.float(), -1)[token])
            prefix.append(token)
    return total


def test_beam_scores_are_sums_of_token_logprobs(model_and_tokenizer: tuple[Any, Any]) -> None:
    model, tok = model_and_tokenizer
    gen = _generator(model_and_tokenizer, length_penalty=1.0)  # steers the beam, must not reach the score
    scored = gen.generate_scored(STATES[:2], 4)
    assert [len(s) for s in scored] == [4, 4]
    for state, seqs in zip(STATES, scored, strict=False):
        for seq in seqs:
            ids = list(seq.token_ids)
            assert len(ids) == seq.num_tokens and (ids[-1] == tok.eos_token_id or len(ids) == 12)
            assert tok.eos_token_id not in ids[:-1]
            assert seq.text == tok.decode(ids, skip_special_tokens=True)
            assert seq.logprob == pytest.approx(_incremental_logprob(model, tok, state, ids), abs=1e-4)


def test_sampled_scores_are_untempered(model_and_tokenizer: tuple[Any, Any]) -> None:
    model, tok = model_and_tokenizer
    gen = _generator(model_and_tokenizer, decoding="sample", temperature=1.7, top_p=0.9, seed=5)
    (seqs,) = gen.generate_scored([STATES[1]], 6)
    assert len(seqs) == 6
    assert len({s.token_ids for s in seqs}) > 1  # really sampled
    for seq in seqs:
        assert seq.logprob == pytest.approx(_incremental_logprob(model, tok, STATES[1], list(seq.token_ids)), abs=1e-4)


def test_exact_length_when_min_equals_max(model_and_tokenizer: tuple[Any, Any]) -> None:
    gen = _generator(model_and_tokenizer, max_new_tokens=9, min_new_tokens=9)
    for seqs in gen.generate_scored(STATES, 3):
        assert [s.num_tokens for s in seqs] == [9, 9, 9]


def test_batched_equals_one_at_a_time(model_and_tokenizer: tuple[Any, Any]) -> None:
    gen = _generator(model_and_tokenizer)
    batched = gen.generate_scored(STATES, 4)
    for state, seqs in zip(STATES, batched, strict=True):
        (alone,) = gen.generate_scored([state], 4)
        assert [s.text for s in alone] == [s.text for s in seqs]
        for a, b in zip(alone, seqs, strict=True):
            assert a.logprob == pytest.approx(b.logprob, abs=1e-4)


def test_prefix_is_forced_and_not_scored(model_and_tokenizer: tuple[Any, Any]) -> None:
    model, tok = model_and_tokenizer
    gen = _generator(model_and_tokenizer)
    (seqs,) = gen.generate_scored([STATES[0]], 3, prefix="exact ")
    prefix_ids = tok("exact ", add_special_tokens=False)["input_ids"]
    for seq in seqs:
        assert seq.text.startswith("exact ")
        with_prefix = _incremental_logprob(model, tok, STATES[0], prefix_ids + list(seq.token_ids))
        only_prefix = _incremental_logprob(model, tok, STATES[0], prefix_ids)
        assert seq.logprob == pytest.approx(with_prefix - only_prefix, abs=1e-4)
    # Through the candidate pipeline: every tactic keeps the prefix, ranks are best first, unique.
    out = gen([GenRequest(STATES[0], prefix="exact "), GenRequest(STATES[1])], 3)
    assert all(c.tactic.startswith("exact") for c in out[0])
    for cands in out:
        assert [c.logprob for c in cands] == sorted((c.logprob for c in cands), reverse=True)
        assert len({c.tactic for c in cands}) == len(cands)


def test_plan_batches_respects_caps_and_prefixes(model_and_tokenizer: tuple[Any, Any]) -> None:
    model, tok = model_and_tokenizer
    gen = Seq2SeqGenerator(
        model, tok, DecodingOptions(max_new_tokens=10), HFOptions(batch_size=2, max_batch_tokens=200)
    )
    inputs = ["x" * 5, "x" * 30, "x" * 6, "x" * 200, "x" * 7]
    prefixes = ["", "", "simp", "", ""]
    batches = gen.plan_batches(inputs, prefixes, n=2)
    assert sorted(i for b in batches for i in b) == list(range(5))
    for batch in batches:
        assert len(batch) <= 2
        assert len({prefixes[i] for i in batch}) == 1
        if len(batch) > 1:  # a batch over the cap only when the state alone is over it
            longest = max(len(inputs[i]) + 1 for i in batch)
            assert len(batch) * 2 * (longest + 10) <= 200
    assert [3] in batches


def test_available_cpus_reads_omp_and_cgroup_quota(tmp_path: Path) -> None:
    assert available_cpus({"OMP_NUM_THREADS": "3"}, tmp_path) == CpuBudget(3, "OMP_NUM_THREADS")
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    budget = available_cpus({}, tmp_path)
    import os

    affinity = len(os.sched_getaffinity(0))
    assert budget.cpus == min(2, affinity)
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert available_cpus({}, tmp_path) == CpuBudget(affinity, "CPUs this process may run on")
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert available_cpus({}, v1).cpus == 1


def test_torch_threads_set_and_printed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(seq2seq, "_threads_set", None)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    before = torch.get_num_threads()
    stream = io.StringIO()
    try:
        seq2seq.configure_torch_threads(stream)
        seq2seq.configure_torch_threads(stream)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert stream.getvalue() == "torch: 1 CPU thread(s) (OMP_NUM_THREADS)\n"


def test_make_generator_builds_seq2seq_for_an_encoder_decoder_folder(tmp_path: Path) -> None:
    from prover.config import GeneratorConfig
    from prover.generators import make_generator

    folder = save_tiny_byt5(tmp_path / "byt5", seed=1)
    assert seq2seq.is_seq2seq_model(str(folder))
    cfg = GeneratorConfig(model=str(folder), template="reprover", max_new_tokens=8, device="cpu")
    gen = make_generator(cfg)
    assert isinstance(gen, Seq2SeqGenerator)
    assert gen.decoding.max_new_tokens == 8
    out = gen([GenRequest(STATES[0]), GenRequest(STATES[2])], 4)
    assert len(out) == 2
    for cands in out:
        assert all(math.isfinite(c.logprob) and c.logprob <= 0 for c in cands)


def test_reprover_presets_name_their_hub_models() -> None:
    from prover.generators.presets import PRESETS, preset_for_model

    assert preset_for_model(seq2seq.REPROVER_MODEL) is PRESETS["reprover"]
    assert preset_for_model(seq2seq.REPROVER_RETRIEVAL_MODEL) is PRESETS["reprover-retrieval"]
    assert seq2seq.is_seq2seq_model(seq2seq.REPROVER_MODEL)
    assert not seq2seq.is_seq2seq_model("EleutherAI/llemma_7b")
