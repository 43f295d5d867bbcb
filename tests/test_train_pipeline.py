"""train: formatting/loss masking, packing, a short real training run, save/load/generate, resume, CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from prover.templates import get_template  # noqa: E402
from tests.cli_support import run_app  # noqa: E402
from train.config import TrainConfig, parse_train_config  # noqa: E402
from train.data import ProofStep, read_jsonl  # noqa: E402
from train.formatting import IGNORE_INDEX, TokenizedExample, tokenize_step, tokenize_steps  # noqa: E402
from train.packing import (  # noqa: E402
    PackedCollator,
    PaddingCollator,
    as_dicts,
    pack_examples,
    packing_efficiency,
    padding_efficiency,
)
from train.tokenizer import train_bpe_tokenizer  # noqa: E402

TEMPLATE = get_template("proofsteps")


@pytest.fixture(scope="module")
def steps(shared: Path) -> list[ProofStep]:
    return list(read_jsonl(shared / "data" / "proofsteps"))


@pytest.fixture(scope="module")
def tokenizer(steps: list[ProofStep]) -> Any:
    texts = [TEMPLATE.render(s.state) + TEMPLATE.completion(s.tactic) for s in steps[:600]]
    return train_bpe_tokenizer(texts, vocab_size=600)


def _tiny_model(tokenizer: Any, seed: int = 0) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        use_cache=False,
    )
    return LlamaForCausalLM(config).eval()


def tiny_config(output_dir: Path, **training: Any) -> TrainConfig:
    return parse_train_config(
        {
            "template": "proofsteps",
            "output_dir": str(output_dir),
            "data": {"sources": [{"format": "jsonl", "path": "{shared}/data/proofsteps"}], "max_length": 256},
            "model": {
                "hidden_size": 48,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "intermediate_size": 96,
                "max_position_embeddings": 256,
                "vocab_size": 512,
            },
            "training": {
                "max_steps": 12,
                "batch_size": 8,
                "learning_rate": 3e-3,
                "logging_steps": 1,
                "torch_threads": 1,
                "save_steps": 6,
            }
            | training,
            "eval": {"max_examples": 6, "max_new_tokens": 12, "num_beams": 5, "batch_size": 8},
        }
    )


# ----------------------------------------------------------------------------------------- tokenizer + formatting


def test_local_tokenizer_round_trips_real_states(tokenizer: Any, steps: list[ProofStep]) -> None:
    for step in steps[::50]:
        text = TEMPLATE.render(step.state)
        ids = tokenizer(text)["input_ids"]
        assert ids[0] == tokenizer.bos_token_id
        assert tokenizer.decode(ids, skip_special_tokens=True) == text
    assert len(tokenizer) == 600


def test_only_tactic_tokens_carry_labels(tokenizer: Any, steps: list[ProofStep]) -> None:
    step = steps[3]
    ex = tokenize_step(step, TEMPLATE, tokenizer, max_length=512)
    assert ex is not None
    prompt_ids = tokenizer(TEMPLATE.render(step.state))["input_ids"]
    # The prompt is tokenised exactly as the generator will tokenise it.
    assert ex.input_ids[: len(prompt_ids)] == prompt_ids
    assert ex.labels[: len(prompt_ids)] == [IGNORE_INDEX] * len(prompt_ids)
    target = ex.labels[len(prompt_ids) :]
    assert target[-1] == tokenizer.eos_token_id and IGNORE_INDEX not in target
    assert tokenizer.decode(target, skip_special_tokens=True) == TEMPLATE.completion(step.tactic)


def test_long_states_lose_their_start_not_their_goal(tokenizer: Any, steps: list[ProofStep]) -> None:
    longest = max(steps, key=lambda s: len(s.state))
    ex = tokenize_step(longest, TEMPLATE, tokenizer, max_length=128)
    assert ex is not None and len(ex) <= 128
    text = tokenizer.decode(ex.input_ids, skip_special_tokens=True)
    goal_line = longest.state.split("⊢")[-1].strip()[-20:]
    assert goal_line in text and text.endswith(TEMPLATE.completion(longest.tactic))
    assert tokenize_step(ProofStep(state="⊢ True", tactic="simp " * 300), TEMPLATE, tokenizer, 64) is None


def test_prompt_tokens_contribute_zero_loss(tokenizer: Any, steps: list[ProofStep]) -> None:
    """The gradient of the loss reaches only the logits that predict tactic tokens."""
    model = _tiny_model(tokenizer)
    ex = tokenize_step(steps[10], TEMPLATE, tokenizer, 512)
    assert ex is not None
    ids = torch.tensor([ex.input_ids])
    labels = torch.tensor([ex.labels])
    out = model(input_ids=ids, labels=labels)
    out.logits.retain_grad()
    out.loss.backward()
    grad_per_position = out.logits.grad[0].abs().sum(-1)
    n_prompt = ex.labels.count(IGNORE_INDEX)
    # Position i predicts token i+1: positions before the last prompt token predict prompt tokens.
    assert torch.all(grad_per_position[: n_prompt - 1] == 0)
    assert torch.all(grad_per_position[n_prompt - 1 : -1] > 0)
    # And the loss equals the mean NLL of the tactic tokens alone.
    logp = torch.log_softmax(out.logits[0, :-1].detach().float(), -1)
    targets = torch.tensor(ex.input_ids[1:])
    mask = torch.tensor(ex.labels[1:]) != IGNORE_INDEX
    manual = -logp[torch.arange(len(targets)), targets][mask].mean()
    assert torch.isclose(out.loss, manual, atol=1e-5)


# ----------------------------------------------------------------------------------------- packing


def test_packing_keeps_every_example_once_and_fills_rows(tokenizer: Any, steps: list[ProofStep]) -> None:
    examples, _ = tokenize_steps(steps[:300], TEMPLATE, tokenizer, 256)
    rows = pack_examples(examples, 256, tokenizer.pad_token_id)
    assert all(len(r.input_ids) == len(r.labels) == len(r.position_ids) == 256 for r in rows)
    # Each example appears exactly once, intact, with positions restarting at 0.
    found: list[tuple[int, ...]] = []
    for r in rows:
        start = 0
        for n in r.lengths:
            assert r.position_ids[start : start + n] == list(range(n))
            found.append(tuple(r.input_ids[start : start + n]))
            start += n
        assert set(r.labels[start:]) <= {IGNORE_INDEX}
        assert set(r.input_ids[start:]) <= {tokenizer.pad_token_id}
    assert sorted(found) == sorted(tuple(e.input_ids) for e in examples)
    assert sum(e.num_target_tokens for e in examples) == sum(
        sum(1 for x in r.labels if x != IGNORE_INDEX) for r in rows
    )
    assert packing_efficiency(rows) > 0.95 > padding_efficiency(examples, 8)
    with pytest.raises(ValueError, match="does not fit"):
        pack_examples(examples, 8, tokenizer.pad_token_id)


def test_packed_rows_attend_only_within_each_example(tokenizer: Any, steps: list[ProofStep]) -> None:
    """Packed logits equal the logits of each example run alone (block-diagonal attention)."""
    model = _tiny_model(tokenizer)
    examples, _ = tokenize_steps(steps[20:26], TEMPLATE, tokenizer, 256)
    rows = pack_examples(examples, sum(len(e) for e in examples) + 7, tokenizer.pad_token_id)
    assert len(rows) == 1 and len(rows[0].lengths) == 6
    batch = PackedCollator()(as_dicts(rows))
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits[0]
        start = 0
        by_len = sorted(examples, key=len, reverse=True)  # first-fit-decreasing order
        for ex, n in zip(by_len, rows[0].lengths, strict=True):
            assert len(ex) == n
            alone = model(input_ids=torch.tensor([ex.input_ids])).logits[0]
            assert torch.allclose(packed[start : start + n], alone, atol=1e-4)
            start += n


def test_padding_collator_masks_padding(tokenizer: Any) -> None:
    batch = PaddingCollator(tokenizer.pad_token_id)(
        as_dicts([TokenizedExample([1, 5, 6], [IGNORE_INDEX, 5, 6]), TokenizedExample([1, 7], [IGNORE_INDEX, 7])])
    )
    assert batch["input_ids"].tolist() == [[1, 5, 6], [1, 7, tokenizer.pad_token_id]]
    assert batch["labels"].tolist()[1] == [IGNORE_INDEX, 7, IGNORE_INDEX]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]


# ----------------------------------------------------------------------------------------- a real (tiny) run


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    from train.trainer import run_training

    out = tmp_path_factory.mktemp("train_run")
    result = run_training(tiny_config(out), log=lambda _msg: None)
    return result, out


def _log_history(out: Path, step: int) -> list[dict[str, Any]]:
    state = json.loads((out / "checkpoints" / f"checkpoint-{step}" / "trainer_state.json").read_text())
    return list(state["log_history"])


def test_a_few_training_steps_reduce_the_loss(trained: tuple[Any, Path]) -> None:
    result, out = trained
    losses = [e["loss"] for e in _log_history(out, 12) if "loss" in e]
    assert len(losses) >= 10
    assert sum(losses[-3:]) / 3 < losses[0] - 0.5
    assert result.global_step == 12
    assert result.packing_efficiency is not None and result.packing_efficiency > 0.9


def test_training_beats_the_untrained_model_on_held_out_loss(trained: tuple[Any, Path]) -> None:
    import math

    result, _ = trained
    ev = result.eval
    assert ev is not None and ev.blanked is not None
    assert ev.with_state.loss < math.log(512) - 0.5  # below the uniform guess over the vocabulary
    assert ev.with_state.tokens > 1000
    assert ev.model is not None and ev.model.examples == 6 and ev.model.k == 5
    assert ev.baseline is not None and 0 <= ev.baseline.topk <= 1
    line = ev.summary_line()
    assert line.startswith("held-out tactic loss: with state ") and "frequency baseline" in line


def test_saved_checkpoint_loads_and_generates(trained: tuple[Any, Path]) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from prover.generators.checkpoint import read_template_record

    _, out = trained
    assert read_template_record(out) == TEMPLATE
    assert json.loads((out / "eval.json").read_text())["held_out_tokens"] > 0
    model = AutoModelForCausalLM.from_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    enc = tok(TEMPLATE.render("n : ℕ\n⊢ n + 0 = n"), return_tensors="pt")
    gen = model.generate(**enc, max_new_tokens=8, do_sample=False, pad_token_id=tok.pad_token_id)
    assert gen.shape[1] > enc["input_ids"].shape[1]
    # Through the prover's own generator factory, as `prover prove --model` does.
    try:
        from prover.generators.hf import HFGenerator  # noqa: F401
    except ImportError:
        pytest.skip("prover.generators.hf not available in this checkout")
    from prover.config import GeneratorConfig
    from prover.generators import make_generator
    from search.types import GenRequest

    generator = make_generator(GeneratorConfig(model=str(out), max_new_tokens=12, device="cpu"))
    cands = generator([GenRequest(state="n : ℕ\n⊢ n + 0 = n")], 4)
    assert len(cands) == 1 and all(c.tactic for c in cands[0])


def test_resume_continues_the_step_count(tmp_path: Path) -> None:
    from train.trainer import TrainError, run_training

    with pytest.raises(TrainError, match="nothing to resume"):
        run_training(tiny_config(tmp_path, max_steps=4, save_steps=2), resume=True, log=lambda _m: None)
    cfg = tiny_config(tmp_path, max_steps=4, save_steps=2)
    cfg.eval.enabled = False
    threads = torch.get_num_threads()
    first = run_training(cfg, log=lambda _m: None)
    assert first.global_step == 4
    assert torch.get_num_threads() == threads  # training.torch_threads does not leak into the caller
    assert (tmp_path / "checkpoints" / "checkpoint-4").is_dir()
    vocab_before = (tmp_path / "tokenizer" / "tokenizer.json").read_text()

    cfg.training.max_steps = 6
    steps_run: list[int] = []

    import transformers

    class Spy(transformers.TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            steps_run.append(state.global_step)

    original = transformers.Trainer.__init__

    def with_spy(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), Spy()]
        original(self, *args, **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setattr(transformers.Trainer, "__init__", with_spy)
    try:
        second = run_training(cfg, resume=True, log=lambda _m: None)
    finally:
        mp.undo()
    assert second.global_step == 6
    assert steps_run == [5, 6]  # continued from step 4, did not restart
    history = _log_history(tmp_path, 6)
    assert [e["step"] for e in history if "loss" in e][:4] == [1, 2, 3, 4]  # the first run's log is kept
    assert (tmp_path / "tokenizer" / "tokenizer.json").read_text() == vocab_before


# ----------------------------------------------------------------------------------------- CLI


def _cli() -> Any:
    from prover.cli import app

    return app


def test_cli_bad_config_is_one_line_exit_2(tmp_path: Path) -> None:

    cfg = tmp_path / "bad.toml"
    cfg.write_text('[data]\nsources = [{ path = "x" }]\n[training]\nepoch = 3\n', encoding="utf-8")
    result = run_app(_cli(), ["train", "--config", str(cfg)])
    assert result.exit_code == 2
    assert "training.epoch" in result.output and len(result.output.strip().splitlines()) == 1


def test_cli_refuses_contaminated_data(tmp_path: Path, shared: Path) -> None:

    goal = json.loads((shared / "data" / "minif2f" / "minif2f.jsonl").read_text().splitlines()[0])[
        "initial_goal_deepseek"
    ]
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"state_before": goal, "tactic": "norm_num"}) + "\n", encoding="utf-8")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'output_dir = "{tmp_path / "out"}"\n[data]\nsources = [{{ path = "{data}" }}]\n', encoding="utf-8")
    result = run_app(_cli(), ["train", "--config", str(cfg)])
    assert result.exit_code == 2 and "miniF2F" in result.output
    assert not (tmp_path / "out" / "config.json").exists()


def test_lora_fine_tune_of_a_local_pretrained_model_saves_a_merged_model(tmp_path: Path, tokenizer: Any) -> None:
    """The GPU recipe (pretrained base + LoRA + gradient checkpointing) on a tiny local 'pretrained' model."""
    from transformers import AutoModelForCausalLM

    from train.trainer import run_training

    base_dir = tmp_path / "base"
    base = _tiny_model(tokenizer, seed=1)
    base.save_pretrained(base_dir)
    tokenizer.save_pretrained(base_dir)
    cfg = tiny_config(tmp_path / "out", max_steps=3, save_steps=3, gradient_checkpointing=True, learning_rate=1e-2)
    cfg.model.name_or_path = str(base_dir)
    cfg.lora.enabled = True
    cfg.lora.r = 4
    cfg.lora.target_modules = ["q_proj", "v_proj"]
    cfg.eval.enabled = False
    result = run_training(cfg, log=lambda _m: None)
    assert result.global_step == 3
    out = tmp_path / "out"
    assert not (out / "adapter_config.json").exists()  # merged: loads without peft
    merged = AutoModelForCausalLM.from_pretrained(out)
    before = dict(base.named_parameters())
    changed = [n for n, p in merged.named_parameters() if not torch.equal(p, before[n])]
    assert changed and all(("q_proj" in n or "v_proj" in n) for n in changed)


def test_evaluation_runs_the_configured_beams_on_the_model_in_memory(
    steps: list[ProofStep], tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`[eval] num_beams` beams, on the trained model as it is: loading the checkpoint again would put a
    second (float32) copy next to it."""
    import transformers

    from train.config import EvalSection
    from train.evaluate import evaluate_checkpoint

    def no_second_copy(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("evaluation loaded a second copy of the model")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", no_second_copy)
    model = _tiny_model(tokenizer)
    model.train()  # as the trainer leaves it
    beams: list[int] = []
    real = model.generate

    def generate(*args: Any, **kwargs: Any) -> Any:
        beams.append(kwargs["generation_config"].num_beams)
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "generate", generate)
    report = evaluate_checkpoint(
        model, tokenizer, TEMPLATE, steps[:50], steps[50:54], max_length=256,
        settings=EvalSection(topk=2, num_beams=6, max_new_tokens=4, batch_size=4, blank_state_ablation=False),
    )  # fmt: skip
    assert report.model is not None and report.model.examples == 4 and report.model.k == 2
    assert beams and set(beams) == {6}
    assert model.training  # left as it was
