"""HFGenerator on CPU with tiny Llama models and the in-process byte-level tokenizer (no hub access)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from prover.config import GeneratorConfig  # noqa: E402
from prover.generators import CombinedGenerator, HFGenerator, make_generator, write_template_record  # noqa: E402
from prover.generators.decoding import DecodingOptions  # noqa: E402
from prover.generators.hf import HFOptions  # noqa: E402
from prover.generators.tokenizers import byte_level_tokenizer, printable_ascii_ids  # noqa: E402
from prover.templates import get_template  # noqa: E402
from search.types import GenRequest, InformalContext, TacticGenerator  # noqa: E402

STATES = [
    "x : ℕ\n⊢ x + 0 = x",
    "a b : ℝ\nh : a < b\n⊢ a ≤ b",
    "⊢ 2 + 2 = 4",
    "n : ℕ\nh₀ : n % 5 = 3\n⊢ 2 * n % 5 = 1",
]
TRAINED = {STATES[0]: "simp", STATES[1]: "linarith", STATES[2]: "norm_num"}
SORRY_STATE = STATES[3]  # trained towards `sorry`, which the sanitiser must refuse


def tiny_llama(vocab_size: int = 264, init: float = 0.02, seed: int = 0) -> Any:
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=1024,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
        initializer_range=init,
    )
    return transformers.LlamaForCausalLM(config).eval()


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Any:
    # Tiny models gain nothing from intra-op threads, and on a busy 2-core machine OpenMP
    # spinning makes them many times slower.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tok() -> Any:
    return byte_level_tokenizer()


@pytest.fixture(scope="module")
def random_model() -> Any:
    # A larger init makes the random model's distributions peaked, like a real LM's.
    return tiny_llama(vocab_size=300, init=0.3)


@pytest.fixture(scope="module")
def printable_only(tok: Any) -> list[int]:
    allowed = set(printable_ascii_ids(tok)) | {tok.eos_token_id}
    return [i for i in range(300) if i not in allowed]


@pytest.fixture(scope="module")
def trained_model(tok: Any) -> Any:
    """Overfit a tiny model on a few proofsteps examples so it has a real preference and emits the end marker."""
    model = tiny_llama()
    template = get_template("proofsteps")
    examples = [*TRAINED.items(), (SORRY_STATE, "sorry")]
    texts = [template.render(s) + template.completion(t) for s, t in examples]
    enc = tok(texts, return_tensors="pt", padding=True)
    labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(120):
        loss = model(**enc, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def true_logprob(model: Any, tok: Any, prompt: str, completion_ids: list[int]) -> float:
    """Sum of the model's log-probabilities of `completion_ids` after `prompt`, by one plain forward pass."""
    prompt_ids = tok(prompt)["input_ids"]
    ids = torch.tensor([prompt_ids + completion_ids])
    with torch.no_grad():
        logits = model(ids).logits[0].float()
    logprobs = torch.log_softmax(logits, dim=-1)
    return sum(float(logprobs[len(prompt_ids) + i - 1, t]) for i, t in enumerate(completion_ids))


def check_contract(cands: list[Any], k: int) -> None:
    assert len(cands) <= k
    tactics = [c.tactic for c in cands]
    assert len(set(tactics)) == len(tactics)
    assert all(t and t == t.strip() for t in tactics)
    assert all(math.isfinite(c.logprob) and c.logprob < 0 and c.num_tokens >= 1 for c in cands)
    assert [c.logprob for c in cands] == sorted((c.logprob for c in cands), reverse=True)


def test_trained_model_beam_search_ranks_the_learned_tactic_first(trained_model: Any, tok: Any) -> None:
    gen = HFGenerator(trained_model, tok, "proofsteps", decode=DecodingOptions(max_new_tokens=24))
    assert isinstance(gen, TacticGenerator)
    out = gen([GenRequest(s) for s in TRAINED], 4)
    for (state, tactic), cands in zip(TRAINED.items(), out, strict=True):
        check_contract(cands, 4)
        assert cands[0].tactic == tactic
        # Stopped at the end marker: the tactic plus "\n[GOAL]" (or EOS), not max_new_tokens.
        assert cands[0].num_tokens <= len(tactic.encode()) + len("\n[GOAL]")
        completion = tok(tactic + "\n[GOAL]", add_special_tokens=False)["input_ids"][: cands[0].num_tokens]
        assert cands[0].logprob == pytest.approx(
            true_logprob(trained_model, tok, gen.prompt(GenRequest(state)), completion), abs=1e-3
        )


def test_beam_logprobs_are_true_sums_even_with_length_penalty(
    random_model: Any, tok: Any, printable_only: list[int]
) -> None:
    gen = HFGenerator(
        random_model,
        tok,
        "bfs",
        decode=DecodingOptions(max_new_tokens=12, length_penalty=1.0),
        hf=HFOptions(forbidden_token_ids=printable_only),
    )
    request = GenRequest(STATES[1])
    raws = gen.generate_raw([gen.prompt(request)], 4)[0]
    assert len(raws) == 4
    for raw in raws:
        ids = tok(raw.text, add_special_tokens=False)["input_ids"]
        if len(ids) < raw.num_tokens:  # ended with EOS
            ids = ids + [tok.eos_token_id]
        assert len(ids) == raw.num_tokens
        assert raw.logprob == pytest.approx(true_logprob(random_model, tok, gen.prompt(request), ids), abs=1e-3)


@pytest.mark.parametrize("template", ["llemma", "proofsteps", "bfs"])
def test_random_model_returns_k_unique_valid_tactics(
    random_model: Any, tok: Any, printable_only: list[int], template: str
) -> None:
    gen = HFGenerator(
        random_model,
        tok,
        template,
        decode=DecodingOptions(max_new_tokens=10),
        hf=HFOptions(forbidden_token_ids=printable_only, oversample=2),
    )
    out = gen([GenRequest(s) for s in STATES], 6)
    assert len(out) == len(STATES)
    for cands in out:
        check_contract(cands, 6)
    assert any(len(c) == 6 for c in out)


def test_unrestricted_garbage_still_honours_the_contract(tok: Any) -> None:
    model = tiny_llama(vocab_size=300, init=0.3, seed=1)
    gen = HFGenerator(model, tok, "proofsteps", decode=DecodingOptions(max_new_tokens=16))
    # Ids past the tokenizer (padded embedding rows) are never generated.
    assert gen.forbidden_token_ids == list(range(len(tok), 300))
    for cands in gen([GenRequest(s) for s in STATES], 8):
        check_contract(cands, 8)
        for c in cands:
            assert "\ufffd" not in c.tactic and "[GOAL]" not in c.tactic
            assert all(ch == "\n" or ord(ch) >= 32 for ch in c.tactic)


def test_batched_equals_one_at_a_time(random_model: Any, tok: Any, printable_only: list[int]) -> None:
    # States of very different lengths, so the batch is heavily left-padded.
    requests = [GenRequest(s) for s in STATES] + [GenRequest("⊢ " + " ∧ ".join(["True"] * 20))]
    gen = HFGenerator(
        random_model,
        tok,
        "proofsteps",
        decode=DecodingOptions(max_new_tokens=12),
        hf=HFOptions(batch_size=8, forbidden_token_ids=printable_only),
    )
    batched = gen(requests, 5)
    single = [gen([r], 5)[0] for r in requests]
    for b, s in zip(batched, single, strict=True):
        assert [c.tactic for c in b] == [c.tactic for c in s]
        assert [c.num_tokens for c in b] == [c.num_tokens for c in s]
        assert [c.logprob for c in b] == pytest.approx([c.logprob for c in s], abs=1e-3)
    # Chunking by batch_size gives the same answer too.
    gen.batch_size = 2
    assert [[c.tactic for c in cs] for cs in gen(requests, 5)] == [[c.tactic for c in cs] for cs in batched]


def test_sampling_reports_untempered_logprobs(random_model: Any, tok: Any, printable_only: list[int]) -> None:
    gen = HFGenerator(
        random_model,
        tok,
        "bfs",
        decode=DecodingOptions(decoding="sample", temperature=0.7, top_p=0.95, max_new_tokens=8, seed=3),
        hf=HFOptions(forbidden_token_ids=printable_only),
    )
    request = GenRequest(STATES[0])
    raws = gen.generate_raw([gen.prompt(request)], 4)[0]
    assert raws
    for raw in raws:
        ids = tok(raw.text, add_special_tokens=False)["input_ids"]
        if len(ids) < raw.num_tokens:
            ids = ids + [tok.eos_token_id]
        assert raw.logprob == pytest.approx(true_logprob(random_model, tok, gen.prompt(request), ids), abs=1e-3)
    cands = gen([request], 4)[0]
    check_contract(cands, 4)


def test_prefix_is_prompted_and_kept(trained_model: Any, tok: Any) -> None:
    gen = HFGenerator(trained_model, tok, "proofsteps", decode=DecodingOptions(max_new_tokens=24))
    request = GenRequest(STATES[1], prefix="lin")
    assert gen.prompt(request).endswith("[PROOFSTEP]\nlin")
    [cands] = gen([request], 3)
    assert cands and all(c.tactic.startswith("lin") for c in cands)
    assert cands[0].tactic == "linarith"


def test_informal_context_enters_the_prompt(trained_model: Any, tok: Any) -> None:
    gen = HFGenerator(trained_model, tok, "llemma")
    ctx = InformalContext(statement="Show x + 0 = x.", proof="Zero is a right identity.")
    prompt = gen.prompt(GenRequest(STATES[0], context=ctx))
    assert "/-- Show x + 0 = x. -/" in prompt and "/- Zero is a right identity. -/" in prompt
    assert prompt.index("/--") < prompt.index(STATES[0])


def test_forbidden_generations_are_filtered(trained_model: Any, tok: Any) -> None:
    gen = HFGenerator(trained_model, tok, "proofsteps", decode=DecodingOptions(max_new_tokens=12))
    raws = gen.generate_raw([gen.prompt(GenRequest(SORRY_STATE))], 4)[0]
    assert max(raws, key=lambda r: r.logprob).text.startswith("sorry")
    [cands] = gen([GenRequest(SORRY_STATE)], 4)
    check_contract(cands, 4)
    assert all("sorry" not in c.tactic for c in cands)


def test_make_generator_loads_a_checkpoint_with_its_template(trained_model: Any, tok: Any, tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    trained_model.save_pretrained(ckpt)
    tok.save_pretrained(ckpt)
    write_template_record(ckpt, get_template("proofsteps"))
    cfg = GeneratorConfig(kind="hf", model=str(ckpt), device="cpu", max_new_tokens=24, combine_fixed=True)
    gen = make_generator(cfg)
    assert isinstance(gen, CombinedGenerator) and isinstance(gen.model, HFGenerator)
    assert gen.model.template.name == "proofsteps"
    [cands] = gen([GenRequest(STATES[2])], 6)
    tactics = [c.tactic for c in cands]
    assert "norm_num" in tactics and len(tactics) == len(set(tactics)) <= 6
    assert any(t in {"linarith", "simp", "omega"} for t in tactics)  # reserved fixed fallbacks


@pytest.mark.parametrize(("share_prefill", "kv_cache"), [(False, "dynamic"), (True, "dynamic")])
def test_cache_strategies_agree(
    random_model: Any, tok: Any, printable_only: list[int], share_prefill: bool, kv_cache: Any
) -> None:
    requests = [GenRequest(s) for s in STATES]
    default = HFGenerator(
        random_model,
        tok,
        "proofsteps",
        decode=DecodingOptions(max_new_tokens=10),
        hf=HFOptions(forbidden_token_ids=printable_only),
    )
    other = HFGenerator(
        random_model,
        tok,
        "proofsteps",
        decode=DecodingOptions(max_new_tokens=10),
        hf=HFOptions(forbidden_token_ids=printable_only, share_prefill=share_prefill, kv_cache=kv_cache),
    )
    for a, b in zip(default(requests, 5), other(requests, 5), strict=True):
        assert [c.tactic for c in a] == [c.tactic for c in b]
        assert [c.logprob for c in a] == pytest.approx([c.logprob for c in b], abs=1e-3)


# ----------------------------------------------------------------------------------------- memory budget + OOM


def test_kv_cache_bytes_per_token_reads_layers_kv_heads_and_head_dim() -> None:
    from prover.generators.hf import kv_cache_bytes_per_token

    # Llama 2 7B (config.json on the hub: 32 layers, 32 heads, hidden 4096) in bf16: 512 KiB per token.
    llama2 = transformers.LlamaConfig(num_hidden_layers=32, num_attention_heads=32, hidden_size=4096)
    assert kv_cache_bytes_per_token(llama2, 2) == 32 * 32 * 128 * 2 * 2 == 512 * 1024
    # Grouped-query attention (Llama 3 8B: 8 KV heads) caches only the KV heads.
    llama3 = transformers.LlamaConfig(
        num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8, hidden_size=4096
    )
    assert kv_cache_bytes_per_token(llama3, 2) == 32 * 8 * 128 * 2 * 2
    assert kv_cache_bytes_per_token(tiny_llama().config, 4) == 2 * 4 * 16 * 2 * 4
    with pytest.raises(ValueError):
        kv_cache_bytes_per_token(object(), 2)


def test_a_memory_budget_sizes_the_batches(random_model: Any, tok: Any, printable_only: list[int]) -> None:
    from prover.generators.hf import batch_cache_tokens

    requests = [GenRequest(s) for s in STATES] + [GenRequest("⊢ " + " ∧ ".join(["True"] * 12))]
    per_token = 2 * 4 * 16 * 2 * 4  # the fixture's layers x kv_heads x head_dim x 2 x float32
    n, new = 4, 8
    budget = per_token * batch_cache_tokens(2, n, 30, new)  # about two short states per batch
    gen = HFGenerator(
        random_model,
        tok,
        "proofsteps",
        decode=DecodingOptions(max_new_tokens=new),
        hf=HFOptions(batch_size=16, forbidden_token_ids=printable_only, max_cache_bytes=budget),
    )
    assert gen.cache_bytes_per_token == per_token
    assert gen.max_batch_tokens == budget // per_token
    prompts = [gen.prompt(r) for r in requests]
    lengths = gen._prompt_lengths(prompts)
    batches = gen.plan_batches(prompts, n)
    assert sorted(i for b in batches for i in b) == list(range(len(requests)))
    assert len(batches) > 1
    for batch in batches:
        rows = batch_cache_tokens(len(batch), n, max(lengths[i] for i in batch), new)
        assert len(batch) == 1 or rows * per_token <= budget
    # Batches are as large as the budget allows: the next state in length order would not have fitted.
    for batch, following in zip(batches, batches[1:], strict=False):
        grown = batch + following[:1]
        assert batch_cache_tokens(len(grown), n, max(lengths[i] for i in grown), new) * per_token > budget
    unbudgeted = HFGenerator(
        random_model,
        tok,
        "proofsteps",
        decode=DecodingOptions(max_new_tokens=new),
        hf=HFOptions(forbidden_token_ids=printable_only),
    )
    assert [[c.tactic for c in cs] for cs in gen(requests, n)] == [
        [c.tactic for c in cs] for cs in unbudgeted(requests, n)
    ]


def _oom_above(model: Any, monkeypatch: pytest.MonkeyPatch, max_states: int) -> list[int]:
    """Wrap `model.generate` so a call on more than `max_states` states raises CUDA's OOM error."""
    calls: list[int] = []
    real = model.generate

    def generate(*args: Any, **kwargs: Any) -> Any:
        states = kwargs["input_ids"].shape[0]
        calls.append(states)
        if states > max_states:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "generate", generate)
    return calls


def test_out_of_memory_halves_the_batch_and_retries(
    random_model: Any, tok: Any, printable_only: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = [GenRequest(s) for s in STATES] + [GenRequest("⊢ " + " ∧ ".join(["True"] * 12))]
    gen = HFGenerator(
        random_model,
        tok,
        "proofsteps",
        decode=DecodingOptions(max_new_tokens=8),
        hf=HFOptions(batch_size=8, max_batch_tokens=None),
    )
    gen.forbidden_token_ids = printable_only
    expected = [[c.tactic for c in cs] for cs in gen(requests, 4)]
    calls = _oom_above(random_model, monkeypatch, max_states=2)
    got = gen(requests, 4)
    assert [[c.tactic for c in cs] for cs in got] == expected
    assert calls[0] == 5 and max(c for c in calls if c <= 2) == 2  # 5 -> 2 + 3 -> 2 + 1 + 2
    assert gen.oom_retries == 2
    # Later calls plan under the lowered budget and no longer hit the error as often.
    assert gen.max_batch_tokens is not None
    calls.clear()
    assert [[c.tactic for c in cs] for cs in gen(requests, 4)] == expected
    assert sum(1 for c in calls if c > 2) < 2


def test_out_of_memory_on_one_state_and_other_errors_propagate(
    random_model: Any, tok: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    gen = HFGenerator(
        random_model, tok, "proofsteps", decode=DecodingOptions(max_new_tokens=4), hf=HFOptions(max_batch_tokens=None)
    )
    _oom_above(random_model, monkeypatch, max_states=0)
    with pytest.raises(torch.OutOfMemoryError):
        gen([GenRequest(STATES[0])], 2)
    monkeypatch.setattr(random_model, "generate", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        gen([GenRequest(s) for s in STATES], 2)
    assert gen.oom_retries == 0


# ----------------------------------------------------------------------------------------- decoding as configured


# A Qwen3-style `generation_config.json` plus a repetition penalty: none of it may reach this project's decoding.
CHECKPOINT_GENERATION = {
    "do_sample": True,
    "temperature": 0.6,
    "top_k": 20,
    "top_p": 0.8,
    "repetition_penalty": 1.3,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "pad_token_id": 0,
}


@pytest.fixture(scope="module")
def opinionated_checkpoint(tok: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local checkpoint folder (random tiny Llama) whose generation_config.json sets its own sampling."""
    import json

    folder = tmp_path_factory.mktemp("opinionated")
    tiny_llama(vocab_size=300, init=0.3).save_pretrained(folder)
    tok.save_pretrained(folder)
    (folder / "generation_config.json").write_text(json.dumps(CHECKPOINT_GENERATION), encoding="utf-8")
    return folder


def _record_processors(model: Any, monkeypatch: pytest.MonkeyPatch) -> list[list[Any]]:
    """The logits processors `generate` builds, per call (transformers' `_get_logits_processor`)."""
    seen: list[list[Any]] = []
    real = model._get_logits_processor

    def spy(*args: Any, **kwargs: Any) -> Any:
        processors = real(*args, **kwargs)
        seen.append(list(processors))
        return processors

    monkeypatch.setattr(model, "_get_logits_processor", spy)
    return seen


def test_the_checkpoints_generation_config_does_not_reach_decoding(
    opinionated_checkpoint: Path, tok: Any, printable_only: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import TemperatureLogitsWarper, TopPLogitsWarper

    gen = HFGenerator.from_pretrained(
        str(opinionated_checkpoint),
        "proofsteps",
        device="cpu",
        decode=DecodingOptions(decoding="sample", temperature=0.5, top_p=0.9, max_new_tokens=8),
        hf=HFOptions(forbidden_token_ids=printable_only),
    )
    assert gen.model.generation_config.top_k == 20  # the file was read...
    seen = _record_processors(gen.model, monkeypatch)
    gen([GenRequest(STATES[0])], 4)
    [processors] = seen
    # ...and exactly the preset's processors ran: no top-k 50 or 20, no repetition penalty, no temperature 0.6.
    builtin = [p for p in processors if type(p).__module__.startswith("transformers.")]
    assert [type(p) for p in builtin] == [TemperatureLogitsWarper, TopPLogitsWarper]
    assert (builtin[0].temperature, builtin[1].top_p) == (0.5, 0.9)
    assert gen.model.generation_config.top_k == 20  # restored after the call

    # The vLLM path sends the same temperature, top-p and top-k (off) for the same configuration.
    from test_vllm import fake

    fake.install(monkeypatch, {"\nsimp\n---": 1.0})
    from prover.generators.vllm import VLLMGenerator

    cfg = GeneratorConfig(kind="vllm", model=str(opinionated_checkpoint), decoding="sample", temperature=0.5, top_p=0.9)
    vgen = VLLMGenerator.from_config(cfg, get_template("proofsteps"))
    vgen([GenRequest(STATES[0])], 4)
    [params] = vgen.llm.core.stats.params
    assert (params.temperature, params.top_p, params.top_k) == (0.5, 0.9, 0)
    assert all(not hasattr(p, "top_k") or p.top_k in (0, None) for p in builtin)


def test_beam_scores_under_an_opinionated_checkpoint_are_plain_forward_pass_sums(
    opinionated_checkpoint: Path, tok: Any, printable_only: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    gen = HFGenerator.from_pretrained(
        str(opinionated_checkpoint),
        "proofsteps",
        device="cpu",
        decode=DecodingOptions(decoding="beam", max_new_tokens=10),
        hf=HFOptions(forbidden_token_ids=printable_only),
    )
    seen = _record_processors(gen.model, monkeypatch)
    prompt = gen.prompt(GenRequest(STATES[1]))
    raws = gen.generate_raw([prompt], 4)[0]
    assert raws
    assert not [p for [*ps] in seen for p in ps if type(p).__module__.startswith("transformers.")]
    for raw in raws:
        ids = tok(raw.text, add_special_tokens=False)["input_ids"]
        if raw.num_tokens > len(ids):
            ids = ids + [tok.eos_token_id]
        assert raw.logprob == pytest.approx(true_logprob(gen.model, tok, prompt, ids), abs=1e-3)


def test_every_end_of_sequence_id_of_the_generation_config_ends_a_completion(
    random_model: Any, tok: Any, printable_only: list[int]
) -> None:
    """A chat model ends its turn with a token that is not the tokenizer's EOS; its generation config lists both."""
    import copy

    request = GenRequest(STATES[0])
    plain = HFGenerator(
        random_model,
        tok,
        "proofsteps",
        decode=DecodingOptions(max_new_tokens=10),
        hf=HFOptions(forbidden_token_ids=printable_only),
    )
    written = [
        tok(r.text, add_special_tokens=False)["input_ids"] for r in plain.generate_raw([plain.prompt(request)], 4)[0]
    ]
    longest = max(written, key=len)
    assert len(longest) >= 2
    turn_end = longest[len(longest) // 2]  # a token the model writes mid-sequence
    model = copy.deepcopy(random_model)
    model.generation_config.eos_token_id = [tok.eos_token_id, turn_end]
    for decoding in ("beam", "sample"):
        gen = HFGenerator(
            model,
            tok,
            "proofsteps",
            decode=DecodingOptions(decoding=decoding, max_new_tokens=10),
            hf=HFOptions(forbidden_token_ids=printable_only),
        )
        assert set(gen.eos_token_ids) == {tok.eos_token_id, turn_end}
        raws = gen.generate_raw([gen.prompt(request)], 4)[0]
        assert raws
        for raw in raws:
            ids = tok(raw.text, add_special_tokens=False)["input_ids"]
            assert turn_end not in ids[:-1], f"{decoding}: generation went on past the turn end"


def test_a_chat_prompt_that_writes_its_bos_is_not_given_a_second_one(
    random_model: Any, printable_only: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """DeepSeek's chat templates start with `{{ bos_token }}`; the model card tokenizes the rendered chat once."""
    from prover.generators.tokenizers import encode_prompt
    from prover.generators.whole_proof import render_prompt
    from prover.templates import get_whole_template

    tok = byte_level_tokenizer()
    tok.chat_template = "{{ bos_token }}{% for m in messages %}User: {{ m['content'] }}\n{% endfor %}Assistant:"
    rendered = render_prompt(get_whole_template("deepseek-v2"), "theorem t : True := by", tok)
    assert rendered.startswith(tok.bos_token)
    assert encode_prompt(tok, rendered)[:2] == [tok.bos_token_id, tok("U", add_special_tokens=False)["input_ids"][0]]
    plain = "Complete the proof"
    assert encode_prompt(tok, plain) == tok(plain)["input_ids"]  # a plain prompt still gets its one BOS
    gen = HFGenerator(random_model, tok, "proofsteps", decode=DecodingOptions(decoding="sample", max_new_tokens=4))
    seen: list[list[int]] = []
    real = random_model.generate

    def generate(*args: Any, **kwargs: Any) -> Any:
        seen.extend(row.tolist() for row in kwargs["input_ids"])
        return real(*args, **kwargs)

    monkeypatch.setattr(random_model, "generate", generate)
    gen.generate_raw([rendered], 1)
    [row] = seen
    assert row.count(tok.bos_token_id) == 1


# ----------------------------------------------------------------------------------------- whole proofs in the plan


def test_whole_proof_samples_are_split_by_the_memory_plan(
    random_model: Any, tok: Any, printable_only: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """pass@N of one long prompt: the N samples go over several `generate` calls, none above the budget."""
    from prover.generators.hf import batch_cache_tokens
    from prover.generators.whole_proof import HFWholeProofModel

    new = 6
    gen = HFGenerator(
        random_model,
        tok,
        "proofsteps",
        decode=DecodingOptions(decoding="sample", max_new_tokens=new),
        hf=HFOptions(batch_size=1, forbidden_token_ids=printable_only, max_batch_tokens=None),
    )
    prompt = gen.prompt(GenRequest(STATES[3]))
    [length] = gen._prompt_lengths([prompt])
    gen.max_batch_tokens = batch_cache_tokens(1, 3, length, new)  # room for 3 samples of this prompt
    rows: list[int] = []
    real = random_model.generate

    def generate(*args: Any, **kwargs: Any) -> Any:
        rows.append(kwargs["input_ids"].shape[0] * kwargs["generation_config"].num_return_sequences)
        return real(*args, **kwargs)

    monkeypatch.setattr(random_model, "generate", generate)
    [samples] = HFWholeProofModel(gen)([prompt], 8)
    assert len(samples) == 8
    assert len(rows) >= 2 and sum(rows) == 8
    assert all(batch_cache_tokens(1, r, length, new) <= gen.max_batch_tokens for r in rows)

    # An out-of-memory error on a lone prompt halves its samples instead of failing.
    rows.clear()
    gen.max_batch_tokens = None

    def oom_above_two(*args: Any, **kwargs: Any) -> Any:
        count = kwargs["input_ids"].shape[0] * kwargs["generation_config"].num_return_sequences
        rows.append(count)
        if count > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(*args, **kwargs)

    monkeypatch.setattr(random_model, "generate", oom_above_two)
    [samples] = HFWholeProofModel(gen)([prompt], 8)
    assert len(samples) == 8 and rows[0] == 8 and gen.oom_retries >= 1


def test_device_map_and_context_length_reach_the_hf_model(
    opinionated_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`device_map` loads through accelerate's placement (a model larger than one GPU); `max_model_len`
    keeps prompts within the context minus `max_new_tokens`."""
    loads: list[dict[str, Any]] = []
    real = transformers.AutoModelForCausalLM.from_pretrained

    def recorded(*args: Any, **kwargs: Any) -> Any:
        loads.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", recorded)
    cfg = GeneratorConfig(
        kind="hf", model=str(opinionated_checkpoint), device="cpu", device_map="auto", max_model_len=128,
        max_new_tokens=8,
    )  # fmt: skip
    gen = HFGenerator.from_config(cfg, get_template("proofsteps"))
    [load] = loads
    assert load["device_map"] == "auto"  # placed by accelerate, not moved whole by `.to(device)`
    assert gen.max_prompt_tokens == 120
    long_state = "h : " + " ∧ ".join(["True"] * 80) + "\n⊢ True"
    assert len(gen._encode([gen.prompt(GenRequest(long_state))])[0]) == 120
    assert gen([GenRequest(long_state)], 2) is not None
