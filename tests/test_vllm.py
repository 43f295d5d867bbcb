"""The vLLM generators against a stand-in `vllm` that follows vLLM's API (tests/standins/fake_vllm.py cites it).

vLLM needs CUDA and cannot be installed here; the stand-in is put into `sys.modules` per test.
Issue 13 points 1 (beams end at stop strings, scored on the tactic's tokens) and 2 (sampling asks for
logprobs; a missing score fails loudly).
"""

from __future__ import annotations

import asyncio
import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from prover.config import GeneratorConfig
from prover.generators.decoding import DecodingOptions
from prover.generators.vllm import (
    MAX_BEAM_WIDTH,
    AsyncVLLMGenerator,
    BeamConfig,
    MissingScoreError,
    StopAwareBeamSearch,
    VLLMGenerator,
)
from prover.templates import get_template
from search.types import GenRequest


def _load_standin() -> ModuleType:
    path = Path(__file__).parent / "standins" / "fake_vllm.py"
    spec = importlib.util.spec_from_file_location("fake_vllm", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fake_vllm"] = module
    spec.loader.exec_module(module)
    return module


fake = _load_standin()

# After Llemma's `---` a base model keeps writing (the next few-shot block); the junk branches, so scoring
# it would change the log-probability, and it is longer than max_new_tokens.
JUNK_A = "\n\nTactic state:\n---\nx : ℕ\n⊢ x = x\n---\nNext tactic:\n---\nrfl\n---\n" * 3
JUNK_B = "\n\nTactic state:\n---\nn : ℕ\n⊢ 0 < n + 1\n---\nNext tactic:\n---\nomega\n---\n" * 3
SCRIPT = {
    "\nsimp\n---" + JUNK_A: 0.3,
    "\nsimp\n---" + JUNK_B: 0.3,
    "\nomega\n---" + JUNK_A: 0.25,
    "\nlinarith\n---" + JUNK_B: 0.15,
}
EXPECTED = {  # tactic -> (log-probability of "\n" + tactic + "\n---", its token count); one token per character
    "simp": (math.log(0.6), len("\nsimp\n---")),
    "omega": (math.log(0.25), len("\nomega\n---")),
    "linarith": (math.log(0.15), len("\nlinarith\n---")),
}
STATE = "x : ℕ\n⊢ x + 0 = x"


@pytest.fixture
def vllm(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module: ModuleType = fake.install(monkeypatch, SCRIPT)
    return module


def test_the_standin_reproduces_llm_beam_search_running_past_the_stop(vllm: Any) -> None:
    """Why `LLM.beam_search` is not used: no stop strings, so beams run to max_tokens and score the junk."""
    llm = vllm.LLM(model="m")
    prompt = get_template("llemma").render(STATE)
    [out] = llm.beam_search([{"prompt": prompt}], vllm.sampling_params.BeamSearchParams(beam_width=2, max_tokens=60))
    best = out.sequences[0]
    generated = best.tokens[len(llm.get_tokenizer().encode(prompt)) :]
    assert len(generated) == 60  # ran past `---` to the token limit
    assert best.cum_logprob < math.log(0.6) - 0.5  # and the branching junk is in the score


@pytest.mark.parametrize("width", [1, 3])
def test_beams_end_at_the_stop_string_and_score_the_tactic_tokens_only(vllm: Any, width: int) -> None:
    gen = VLLMGenerator(vllm.LLM(model="m"), "llemma", decode=DecodingOptions(decoding="beam", max_new_tokens=60))
    [cands] = gen([GenRequest(STATE)], width)
    assert [c.tactic for c in cands] == ["simp", "omega", "linarith"][:width]
    for c in cands:
        logprob, num = EXPECTED[c.tactic]
        assert c.logprob == pytest.approx(logprob)
        assert c.num_tokens == num  # the tactic, its newline and the `---` that ended it, as Llemma counts


def test_beam_steps_ask_vllm_for_two_width_next_tokens_without_sampling(vllm: Any) -> None:
    llm = vllm.LLM(model="m")
    VLLMGenerator(llm, "llemma", decode=DecodingOptions(max_new_tokens=60))([GenRequest(STATE)], 3)
    params = llm.core.stats.params
    assert params and all(p.max_tokens == 1 and p.logprobs == 6 and p.temperature == 0.0 for p in params)
    # The search stops once every beam ended: far fewer steps than max_new_tokens.
    assert llm.core.stats.calls < 3 * len("\nlinarith\n---") + 3


def test_engine_is_started_with_room_for_the_widest_beam(vllm: Any) -> None:
    VLLMGenerator.from_config(GeneratorConfig(kind="vllm", model="m"), get_template("llemma"))
    assert vllm.LLM.last_kwargs["max_logprobs"] >= 2 * MAX_BEAM_WIDTH


def test_sampling_requests_logprobs_and_reports_true_sums(vllm: Any) -> None:
    llm = vllm.LLM(model="m")
    gen = VLLMGenerator(llm, "llemma", decode=DecodingOptions(decoding="sample", max_new_tokens=60, seed=3))
    [cands] = gen([GenRequest(STATE)], 16)
    assert cands, "16 samples over three tactics give at least one"
    assert all(p.logprobs is not None and p.stop == ["---"] for p in llm.core.stats.params)
    for c in cands:
        logprob, num = EXPECTED[c.tactic]
        assert c.logprob == pytest.approx(logprob)
        assert c.num_tokens == num


def test_a_missing_cumulative_logprob_fails_loudly(vllm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    llm = vllm.LLM(model="m")
    real_run = llm.core.run

    def run_without_scores(prompt: Any, params: Any, seed: int) -> Any:
        out = real_run(prompt, params, seed)
        for c in out.outputs:
            c.cumulative_logprob = None  # what vLLM returns when `logprobs` is not requested
        return out

    monkeypatch.setattr(llm.core, "run", run_without_scores)
    gen = VLLMGenerator(llm, "llemma", decode=DecodingOptions(decoding="sample", max_new_tokens=60))
    with pytest.raises(MissingScoreError, match="cumulative_logprob"):
        gen([GenRequest(STATE)], 4)


def test_stop_aware_beam_search_finds_the_exact_top_k() -> None:
    """Against exhaustive enumeration on a trie LM: the k most likely completions up to a stop string."""
    lm = fake.TrieLM({"a1|xx": 0.2, "a2|y": 0.05, "b|": 0.4, "c3|zz": 0.1, "dd|": 0.25}, marker="")
    tok = fake.CharTokenizer()
    search = StopAwareBeamSearch([[]], BeamConfig(width=3, max_tokens=10, stop=("|",), eos_token_ids=(0,)), tok.decode)
    while not search.finished:
        answers = []
        for q in search.queries():
            dist = lm.next_logprobs(tok.decode(q))
            answers.append(dict(sorted(dist.items(), key=lambda kv: -kv[1])[:6]))
        search.advance(answers)
    [results] = search.results()
    assert [(t, round(lp, 6), n) for t, lp, n in results] == [
        ("b", round(math.log(0.4), 6), 2),
        ("dd", round(math.log(0.25), 6), 3),
        ("a1", round(math.log(0.2), 6), 3),
    ]


def test_async_generator_matches_the_sync_one(vllm: Any) -> None:
    engine = vllm.AsyncLLMEngine.from_engine_args(vllm.AsyncEngineArgs(model="m"))
    agen = AsyncVLLMGenerator(engine, "llemma", decode=DecodingOptions(decoding="beam", max_new_tokens=60))
    sync = VLLMGenerator(vllm.LLM(model="m"), "llemma", decode=DecodingOptions(decoding="beam", max_new_tokens=60))
    requests = [GenRequest(STATE), GenRequest(STATE + " ")]
    assert asyncio.run(agen.agenerate(requests, 3)) == sync(requests, 3)


def test_async_generator_from_config_uses_the_async_engine(vllm: Any) -> None:
    gen = AsyncVLLMGenerator.from_config(GeneratorConfig(kind="vllm", model="m"), get_template("llemma"))
    assert isinstance(gen.engine, vllm.AsyncLLMEngine)
    assert gen.engine.args.max_logprobs >= 2 * MAX_BEAM_WIDTH


def test_generator_actor_feeds_vllms_async_engine_so_concurrent_searches_share_it(
    vllm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13 point 3: with vLLM, requests arriving mid-call are not held back for a whole batch call; each
    goes into the async engine at once (the stand-in engine counts requests in flight)."""
    from benchmarks.sweep.actors import GeneratorServer

    monkeypatch.setattr(vllm.AsyncLLMEngine, "step_s", 0.02)
    engine = vllm.AsyncLLMEngine.from_engine_args(vllm.AsyncEngineArgs(model="m"))
    # GeneratorServer finds `agenerate` by getattr; its factory type names only TacticGenerator (as in actors.py).
    server = GeneratorServer(
        lambda: AsyncVLLMGenerator(engine, "llemma", decode=DecodingOptions(max_new_tokens=60)),  # type: ignore[arg-type, return-value]
        None,
        max_batch=1,
    )

    async def searches() -> list[Any]:
        # 8 searches asking at once; with max_batch=1 the queued path would serve them one at a time.
        return list(await asyncio.gather(*(server.generate([GenRequest(STATE)], 2) for _ in range(8))))

    results = asyncio.run(searches())
    assert all([c.tactic for c in r[0]] == ["simp", "omega"] for r in results)
    assert engine.core.stats.peak_in_flight >= 8  # the searches' beams were in the engine together
    sizes = server.batch_sizes()
    assert len(sizes) == 8 and max(sizes) == 8  # states in the engine as each request joined
    calls = server.call_stats()
    assert len(calls) == 1 and calls[0][2] == 8  # one busy period that served all 8
    assert sum(sizes) / len(sizes) > 1.0  # bench_sweep's mean batch reads it like a batch


def test_sweep_generator_factory_builds_the_async_vllm_generator(vllm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import prover.offline
    from benchmarks.sweep.actors import ConfigGeneratorFactory

    # The model is not here and the hub is not reachable from a test: the offline check is not what this tests.
    monkeypatch.setattr(prover.offline, "model_unreachable", lambda kind, model: None)
    gen = ConfigGeneratorFactory(GeneratorConfig(kind="vllm", model="ByteDance-Seed/BFS-Prover-V2-7B"))()
    assert isinstance(gen, AsyncVLLMGenerator) and gen.template.name == "bfs"


# ----------------------------------------------------------------------------- engines as vLLM streams them


def test_async_sampling_returns_all_n_samples(vllm: Any) -> None:
    """vLLM streams one child per item for `n > 1` unless FINAL_ONLY (`ParentRequest.get_outputs`): the last
    item alone holds one sample. The async generator must see all `n`, as `LLM.generate` does."""
    prompt = get_template("llemma").render(STATE)
    engine = vllm.AsyncLLMEngine.from_engine_args(vllm.AsyncEngineArgs(model="m"))
    agen = AsyncVLLMGenerator(engine, "llemma", decode=DecodingOptions(decoding="sample", max_new_tokens=60, seed=3))
    sync = VLLMGenerator(
        vllm.LLM(model="m"), "llemma", decode=DecodingOptions(decoding="sample", max_new_tokens=60, seed=3)
    )
    [samples] = asyncio.run(agen.agenerate_raw([prompt], 16))
    assert len(samples) == 16
    assert [samples] == sync.generate_raw([prompt], 16)


def test_a_prompt_over_the_context_limit_is_cut_and_its_companions_still_answered(vllm: Any) -> None:
    """vLLM raises for a prompt longer than `max_model_len`; one long state must not fail the others."""
    long_state = "h : " + "a ∧ " * 200 + "a\n⊢ a"
    requests = [GenRequest(STATE), GenRequest(long_state), GenRequest(STATE + " ")]
    limit = 200
    assert len(get_template("llemma").render(long_state)) > limit
    for decoding in ("beam", "sample"):
        llm = vllm.LLM(model="m", max_model_len=limit)
        gen = VLLMGenerator(llm, "llemma", decode=DecodingOptions(decoding=decoding, max_new_tokens=60, seed=1))
        results = gen(requests, 3)
        assert all(results), f"{decoding}: every state gets candidates"
        engine = vllm.AsyncLLMEngine.from_engine_args(vllm.AsyncEngineArgs(model="m", max_model_len=limit))
        agen = AsyncVLLMGenerator(
            engine, "llemma", decode=DecodingOptions(decoding=decoding, max_new_tokens=60, seed=1)
        )
        assert all(asyncio.run(agen.agenerate(requests, 3)))


def test_a_beam_that_reaches_the_context_limit_is_finished_not_an_error(vllm: Any) -> None:
    """At `max_model_len` vLLM answers a step with `logprobs=None`; `LLM.beam_search` ends that sequence."""
    prompt_len = len(get_template("llemma").render(STATE))
    room = len("\nsimp\n")  # the limit falls inside every tactic, before its `---`
    llm = vllm.LLM(model="m", max_model_len=prompt_len + room)
    gen = VLLMGenerator(
        llm, "llemma", decode=DecodingOptions(decoding="beam", max_new_tokens=60, max_prompt_tokens=prompt_len)
    )
    [raws] = gen.generate_raw([get_template("llemma").render(STATE)], 2)
    assert raws, "the beams cut by the limit are results"
    assert all(num == room for _, _, num in raws)
    assert {text for text, _, _ in raws} <= {"\nsimp\n", "\nomega", "\nlinar"}


def test_beams_end_at_every_end_of_sequence_id_of_the_generation_config(
    vllm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chat model ends its turn with a token that is not the tokenizer's EOS (`<|im_end|>` vs
    `<|endoftext|>`); its `generation_config.json` lists both, and vLLM stops at either."""
    turn_end = chr(fake.TURN_END - 1)
    monkeypatch.setattr(fake.LLM, "lm", fake.TrieLM({"\nsimp" + turn_end + "junk junk": 0.7, "\nrfl\n---": 0.3}, "---"))
    prompt = "Next tactic:\n---"
    llm = vllm.LLM(model="m")
    beams = VLLMGenerator(llm, "llemma", decode=DecodingOptions(decoding="beam", max_new_tokens=40)).generate_raw(
        [prompt], 2
    )
    assert [(text, num) for text, _, num in beams[0]] == [("\nsimp", 6), ("\nrfl\n", 8)]
    assert beams[0][0][1] == pytest.approx(math.log(0.7))
    samples = VLLMGenerator(llm, "llemma", decode=DecodingOptions(decoding="sample", max_new_tokens=40)).generate_raw(
        [prompt], 8
    )
    assert {text for text, _, _ in samples[0]} <= {"\nsimp", "\nrfl\n"}


def test_sampling_params_say_every_decoding_setting(vllm: Any) -> None:
    """Temperature, top-p and top-k are always sent, so nothing falls back to a model's own defaults."""
    llm = vllm.LLM(model="m")
    VLLMGenerator(
        llm, "llemma", decode=DecodingOptions(decoding="sample", temperature=0.7, top_p=0.9, max_new_tokens=60)
    )([GenRequest(STATE)], 4)
    [params] = llm.core.stats.params
    assert (params.temperature, params.top_p, params.top_k, params.repetition_penalty) == (0.7, 0.9, 0, 1.0)


# ----------------------------------------------------------------------------- large models


def test_context_length_and_tensor_parallelism_reach_the_engine(vllm: Any) -> None:
    cfg = GeneratorConfig(kind="vllm", model="m", max_model_len=300, tensor_parallel_size=4, max_new_tokens=60)
    gen = VLLMGenerator.from_config(cfg, get_template("llemma"))
    assert (vllm.LLM.last_kwargs["max_model_len"], vllm.LLM.last_kwargs["tensor_parallel_size"]) == (300, 4)
    assert gen.prompt_budget(gen.limits()) == 240  # prompts are cut to the context the engine runs with
    agen = AsyncVLLMGenerator.from_config(cfg, get_template("llemma"))
    assert (agen.engine.args.max_model_len, agen.engine.args.tensor_parallel_size) == (300, 4)
    default = GeneratorConfig(kind="vllm", model="m")
    VLLMGenerator.from_config(default, get_template("llemma"))
    assert "max_model_len" not in vllm.LLM.last_kwargs  # the model's own context length


def _qwen_shape(hidden: int, layers: int, heads: int, mlp: int, context: int) -> Any:
    """A Qwen2/Qwen3-style config: 8 KV heads of 128, a 152K vocabulary, untied embeddings."""
    from prover.doctor import model_shape

    transformers = pytest.importorskip("transformers")
    config = transformers.Qwen2Config(
        hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=8,
        intermediate_size=mlp, vocab_size=151936, max_position_embeddings=context, tie_word_embeddings=False,
    )  # fmt: skip
    return model_shape(config, 2)


def test_doctor_names_the_key_that_places_a_large_model() -> None:
    """Kimina-Prover-72B (Qwen2.5-72B's shape) and Goedel-Prover-V2-32B (Qwen3-32B's) on 80 GB GPUs."""
    from prover.doctor import placement_advice

    h100s = [80 * 2**30] * 8
    kimina = _qwen_shape(8192, 80, 64, 29568, 32768)
    assert 140e9 < kimina.weight_bytes < 150e9  # about 72.7B parameters in bf16
    vllm_cfg = GeneratorConfig(kind="vllm", model="AI-MO/Kimina-Prover-72B")
    check = placement_advice(kimina, h100s, vllm_cfg)
    assert not check.ok and check.fix == "set [generator] tensor_parallel_size = 4"
    assert placement_advice(kimina, h100s, vllm_cfg.model_copy(update={"tensor_parallel_size": 4})).ok
    hf_cfg = GeneratorConfig(kind="hf", model="AI-MO/Kimina-Prover-72B")
    check = placement_advice(kimina, h100s, hf_cfg)
    assert not check.ok and check.fix == 'set [generator] device_map = "auto"'
    assert placement_advice(kimina, h100s, hf_cfg.model_copy(update={"device_map": "auto"})).ok

    goedel = _qwen_shape(5120, 64, 64, 25600, 40960)
    cfg = GeneratorConfig(kind="vllm", model="Goedel-LM/Goedel-Prover-V2-32B")
    assert placement_advice(goedel, h100s[:1], cfg).ok  # 40960 tokens of KV cache fit next to the weights
    l40s = [48 * 2**30] * 2
    check = placement_advice(goedel, l40s, cfg)
    assert not check.ok and check.fix == "set [generator] tensor_parallel_size = 2"
    # The same weights with a 128K context (YaRN-extended configs say so): one sequence's cache does not fit.
    long_context = _qwen_shape(5120, 64, 64, 25600, 131072)
    check = placement_advice(long_context, h100s[:1], cfg)
    assert not check.ok and check.fix is not None and check.fix.startswith("set [generator] max_model_len = ")
    shorter = int(check.fix.rsplit(" ", 1)[1])
    assert placement_advice(long_context, h100s[:1], cfg.model_copy(update={"max_model_len": shorter})).ok
