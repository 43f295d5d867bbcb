"""Model presets: choice by model id, `--template` override, the fallback warning, and each preset fed
real-looking outputs, written by hand from the formats on the models' own cards and evaluation code (cited in
docs/generators.md), checking the extracted tactic or proof. The InternLM step provers' prompts are checked
byte-equal to InternLM-Math's own functions here; the whole-proof prompts in tests/test_preset_prompts.py."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from lean_env.checks.verdict import Rejected, Verified
from lean_env.types import Theorem
from prover.config import GeneratorConfig, load_config
from prover.generators import make_generator, resolve_template
from prover.generators.presets import PRESETS, apply_preset, preset_for_model
from prover.generators.sanitize import sanitize_tactic
from prover.generators.whole_proof import (
    WholeProofSetup,
    extract_whole_proof,
    render_prompt,
    whole_proof_request,
)
from prover.templates import CHAT_TURN_CLOSE, get_template, get_whole_template
from search.types import GenRequest
from tests.cli_support import run_cli

CHAT_ASSISTANT = CHAT_TURN_CLOSE.split("\n", 1)[1]  # "<|im_start|>assistant\n": where the answer starts

THEOREM = Theorem(
    name="mathd_algebra_10",
    statement="theorem mathd_algebra_10 : abs ((120 : ℝ) / 100 * 30 - 130 / 100 * 20) = 10",
    header="import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 400000\n\nopen BigOperators Real Nat Topology Rat",
)


@pytest.mark.parametrize(
    ("model", "preset"),
    [
        ("EleutherAI/llemma_7b", "llemma"),
        ("ByteDance-Seed/BFS-Prover-V2-7B", "bfs-prover-v2"),
        ("ByteDance-Seed/BFS-Prover-V2-32B", "bfs-prover-v2"),
        ("internlm/internlm2_5-step-prover", "internlm2.5-step-prover"),
        ("internlm/internlm2-step-prover", "internlm2-step-prover"),
        ("deepseek-ai/DeepSeek-Prover-V1.5-RL", "deepseek-prover-v1.5-cot"),
        ("deepseek-ai/DeepSeek-Prover-V1.5-SFT", "deepseek-prover-v1.5"),
        ("deepseek-ai/DeepSeek-Prover-V2-7B", "deepseek-prover-v2"),
        ("Goedel-LM/Goedel-Prover-V2-32B", "goedel-prover-v2"),
        ("Goedel-LM/Goedel-Prover-SFT", "goedel-prover-sft"),
        ("AI-MO/Kimina-Prover-Distill-8B", "kimina-prover"),
        ("/models/kimina-prover-72b/", "kimina-prover"),
    ],
)
def test_a_known_model_id_picks_its_preset(model: str, preset: str) -> None:
    found = preset_for_model(model)
    assert found is not None and found.name == preset
    assert apply_preset(GeneratorConfig(model=model)).preset == PRESETS[preset]


@pytest.fixture
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each model id warns once per process; these tests start from none warned."""
    import prover.generators.presets as presets

    monkeypatch.setattr(presets, "_warned", set())


@pytest.mark.usefixtures("fresh_warnings")
def test_unknown_models_get_llemmas_reference_preset_with_a_one_line_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert preset_for_model("my-org/some-model") is None
    with caplog.at_level(logging.WARNING, logger="prover.generators.presets"):
        resolved = apply_preset(GeneratorConfig(model="my-org/some-model"))
        apply_preset(GeneratorConfig(model="my-org/some-model"))  # resolved again: warned once
        apply_preset(GeneratorConfig(model="my-org/some-model", template="llemma"))  # chosen: no warning
        apply_preset(GeneratorConfig(model="EleutherAI/llemma_7b"))
    assert (resolved.template, resolved.mode) == ("llemma", "step")
    [record] = caplog.records
    assert "'my-org/some-model' has no preset" in record.getMessage() and "--template" in record.getMessage()
    assert "\n" not in record.getMessage()


@pytest.mark.usefixtures("fresh_warnings")
def test_deepseek_prover_v1_warns_why_it_has_no_preset(caplog: pytest.LogCaptureFixture) -> None:
    """Its card and paper give no prompt format and no evaluation code was released: no preset is guessed."""
    with caplog.at_level(logging.WARNING, logger="prover.generators.presets"):
        resolved = apply_preset(GeneratorConfig(model="deepseek-ai/DeepSeek-Prover-V1"))
    assert resolved.template == "llemma"
    assert "publish no prompt format" in caplog.records[0].getMessage()
    assert apply_preset(GeneratorConfig(model="deepseek-ai/DeepSeek-Prover-V1.5-SFT")).template == "deepseek-v1.5"


def test_whole_proof_presets_bring_their_decoding_unless_set() -> None:
    resolved = apply_preset(GeneratorConfig(model="AI-MO/Kimina-Prover-Distill-8B"))
    assert (resolved.mode, resolved.template) == ("whole", "kimina")
    assert resolved.config.decoding == "sample" and resolved.config.max_new_tokens == 8192
    mine = apply_preset(GeneratorConfig(model="AI-MO/Kimina-Prover-Distill-8B", max_new_tokens=512))
    assert mine.config.max_new_tokens == 512  # the user's value stays


def test_template_flag_overrides_the_model_id() -> None:
    """`--template` lands in the `[generator] template` override; an explicit choice beats the model's preset."""
    cfg = load_config(None, {"generator": {"model": "ByteDance-Seed/BFS-Prover-V2-7B", "template": "llemma"}})
    assert resolve_template(cfg.generator).name == "llemma"
    cfg = load_config(None, {"generator": {"model": "ByteDance-Seed/BFS-Prover-V2-7B", "template": None}})
    assert resolve_template(cfg.generator).name == "bfs"
    cfg = load_config(None, {"generator": {"model": "my/model", "template": "internlm2.5-step-prover"}})
    assert resolve_template(cfg.generator).name == "internlm-step"


def test_unknown_template_is_one_line() -> None:
    with pytest.raises(ValueError, match="unknown template 'nope'") as err:
        apply_preset(GeneratorConfig(template="nope"))
    assert "\n" not in str(err.value)


def test_whole_proof_model_refused_for_tactic_search_in_one_line() -> None:
    with pytest.raises(ValueError, match="writes whole proofs: use `prover prove --mode whole`") as err:
        make_generator(GeneratorConfig(kind="hf", model="deepseek-ai/DeepSeek-Prover-V2-7B"))
    assert "\n" not in str(err.value)


# ----------------------------------------------------------------------------- step presets


def test_bfs_prover_prompt_and_outputs() -> None:
    tpl = get_template(PRESETS["bfs-prover-v2"].template)
    assert tpl.render("x : ℕ\n⊢ x + 0 = x") == "x : ℕ\n⊢ x + 0 = x:::"
    assert sanitize_tactic("simp", tpl) == "simp"
    # The card's own decode includes the prompt: "{state}:::{tactic}".
    assert sanitize_tactic("x : ℕ\n⊢ x + 0 = x:::omega", tpl) == "omega"
    assert sanitize_tactic("nlinarith [sq_nonneg (a - b), sq_nonneg (a + b)]", tpl) == (
        "nlinarith [sq_nonneg (a - b), sq_nonneg (a + b)]"
    )


# The expected prompts below were produced by running InternLM-Math's own functions, outside this repository,
# on LeanDojo states of ../shared/data/proofsteps/leandojo_benchmark4_random_test_sample100.jsonl (theorem
# lowerCentralSeries_succ_eq_bot, steps 0-2), `theorem.full_name` set to the row's `theorem`:
#   chat_template_to_prompt(_prompt_function(theorem, state, proof_before)) from
#   github.com/InternLM/InternLM-Math minif2f/proofsearch_internLM2.5-StepProver.py @ a4196fa06eeabd651ef46628d5fa37709ec20f91
#   chat_template_to_prompt(_prompt_function(theorem, state)) from
#   github.com/InternLM/InternLM-Math minif2f/proofsearch_internLM2-StepProver.py @ 66c887b5c2fca31fbb27601e8c6135492516a002
# where proof_before is "\n".join(steps), the tactics on the search path to the state.
INTERNLM25_ROOT = (
    "<|im_start|>user\n---\nNAME: lowerCentralSeries_succ_eq_bot\n\n---\nPROOF_BEFORE: \n\n---\nSTATE_BEFORE: G : Type "
    "u_1\ninst✝¹ : Group G\nH : Subgroup G\ninst✝ : Normal H\nn : ℕ\nh : lowerCentralSeries G n ≤ center G\n⊢ "
    "lowerCentralSeries G (n + 1) = ⊥\n\n---\nTACTIC: <|im_end|>\n<|im_start|>assistant\n"
)
INTERNLM25_STEP2 = (
    "<|im_start|>user\n---\nNAME: lowerCentralSeries_succ_eq_bot\n\n---\nPROOF_BEFORE: rw [lowerCentralSeries_succ, "
    "closure_eq_bot_iff, Set.subset_singleton_iff]\nrintro x ⟨y, hy1, z, ⟨⟩, rfl⟩\n\n---\nSTATE_BEFORE: case "
    "intro.intro.intro.intro.intro\nG : Type u_1\ninst✝¹ : Group G\nH : Subgroup G\ninst✝ : Normal H\nn : ℕ\nh : "
    "lowerCentralSeries G n ≤ center G\ny : G\nhy1 : y ∈ lowerCentralSeries G n\nz : G\n⊢ y * z * y⁻¹ * z⁻¹ = "
    "1\n\n---\nTACTIC: <|im_end|>\n<|im_start|>assistant\n"
)
INTERNLM2_STEP2 = (
    "<|im_start|>user\nDECL lowerCentralSeries_succ_eq_bot\nGOAL case intro.intro.intro.intro.intro\nG : Type "
    "u_1\ninst✝¹ : Group G\nH : Subgroup G\ninst✝ : Normal H\nn : ℕ\nh : lowerCentralSeries G n ≤ center G\ny : "
    "G\nhy1 : y ∈ lowerCentralSeries G n\nz : G\n⊢ y * z * y⁻¹ * z⁻¹ = 1\n<|im_end|>\n<|im_start|>assistant\n"
)


def _recorded_steps(shared: Path) -> list[dict[str, Any]]:
    path = shared / "data" / "proofsteps" / "leandojo_benchmark4_random_test_sample100.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    steps = sorted((r for r in rows if r["theorem"] == "lowerCentralSeries_succ_eq_bot"), key=lambda r: r["step"])
    assert [r["step"] for r in steps[:3]] == [0, 1, 2]
    return steps


def test_internlm25_step_prover_prompt_is_byte_equal_to_upstream(shared: Path) -> None:
    steps = _recorded_steps(shared)
    tpl = get_template(PRESETS["internlm2.5-step-prover"].template)
    name = steps[0]["theorem"]
    assert tpl.render_request(steps[0]["state_before"], theorem_name=name) == INTERNLM25_ROOT
    before = (steps[0]["tactic"], steps[1]["tactic"])
    assert tpl.render_request(steps[2]["state_before"], theorem_name=name, proof_before=before) == INTERNLM25_STEP2


def test_internlm2_step_prover_prompt_is_byte_equal_to_upstream(shared: Path) -> None:
    steps = _recorded_steps(shared)
    preset = preset_for_model("internlm/internlm2-step-prover")
    assert preset is not None
    tpl = get_template(preset.template)
    assert tpl.render_request(steps[2]["state_before"], theorem_name=steps[2]["theorem"]) == INTERNLM2_STEP2


def test_internlm_step_provers_stop_decode_and_read_as_upstream() -> None:
    """Upstream: `stop=['<|im_end|>']`, beam search (temperature 0.0) with 32 samples and max_tokens 256, each
    text stripped (InternLM2: a leading `PROOFSTEP ` dropped), ranked by cumulative_logprob / len(token_ids)."""
    for name in ("internlm2.5-step-prover", "internlm2-step-prover"):
        preset = PRESETS[name]
        tpl = get_template(preset.template)
        assert tpl.stop == ("<|im_end|>",) and tpl.ranking == "mean"
        assert (preset.decoding, preset.max_new_tokens) == ("beam", 256)
        assert sanitize_tactic("  nlinarith [sq_nonneg (a - b)]<|im_end|>", tpl) == "nlinarith [sq_nonneg (a - b)]"
    internlm2 = get_template("internlm2-step")
    assert sanitize_tactic("PROOFSTEP rw [mul_assoc]<|im_end|>", internlm2) == "rw [mul_assoc]"
    assert tpl.rank_key(-3.0, 30) > tpl.rank_key(-1.0, 2)  # mean per token, not the sum


def test_the_search_sends_the_tactics_on_the_path_as_proof_before() -> None:
    from search_testkit import DictEnv, ScriptedGenerator, theorem

    from search import BestFirstSearch, SearchConfig

    env = DictEnv(root="⊢ a", transitions={("⊢ a", "t1"): "⊢ b", ("⊢ b", "t2"): "⊢ c", ("⊢ c", "t3"): "<finished>"})
    seen: dict[str, tuple[str, ...]] = {}
    scripted = ScriptedGenerator({"⊢ a": [("t1", -1.0)], "⊢ b": [("t2", -1.0)], "⊢ c": [("t3", -1.0)]})

    def gen(requests: Any, k: int) -> Any:
        seen.update({r.state: r.proof_before for r in requests})
        return scripted(requests, k)

    result = BestFirstSearch(env, gen, SearchConfig()).search(theorem())
    assert result.status.proved
    assert seen == {"⊢ a": (), "⊢ b": ("t1",), "⊢ c": ("t1", "t2")}


# ----------------------------------------------------------------------------- whole-proof presets

V15_COMPLETION = "  norm_num [abs_of_nonneg]\n  <;> linarith\n```\n\nSome trailing text"

V2_COMPLETION = """### Detailed Proof and Analysis

First, compute $120\\% \\cdot 30 = 36$ and $130\\% \\cdot 20 = 26$, so the difference is $10$.

### Step 1: Abstract Plan
1. Evaluate both products.

```lean4
theorem mathd_algebra_10 : abs ((120 : ℝ) / 100 * 30 - 130 / 100 * 20) = 10 := by
  have h₀ : (120 : ℝ) / 100 * 30 - 130 / 100 * 20 = 10 := by sorry
  sorry
```

### Complete Lean 4 Proof

```lean4
import Mathlib
import Aesop

set_option maxHeartbeats 400000

open BigOperators Real Nat Topology Rat

theorem mathd_algebra_10 : abs ((120 : ℝ) / 100 * 30 - 130 / 100 * 20) = 10 := by
  have h₀ : (120 : ℝ) / 100 * 30 - 130 / 100 * 20 = 10 := by
    norm_num
  rw [h₀]
  norm_num [abs_of_nonneg]
```"""

KIMINA_COMPLETION = """<think>
We need |36 - 26| = 10. Let me try in Lean:
```lean4
theorem mathd_algebra_10 : abs ((120 : ℝ) / 100 * 30 - 130 / 100 * 20) = 10 := by
  simp
```
That may not close it; norm_num with abs lemmas should.
</think>
```lean4
import Mathlib
import Aesop

set_option maxHeartbeats 400000

open BigOperators Real Nat Topology Rat

/-- What is the positive difference between 120% of 30 and 130% of 20? -/
theorem mathd_algebra_10 : abs ((120 : ℝ) / 100 * 30 - 130 / 100 * 20) = 10 := by
  norm_num [abs_of_nonneg]
```"""

GOEDEL_COMPLETION = """<think>
Plan: a helper lemma, then the theorem.
</think>
```lean4
lemma helper : (120 : ℝ) / 100 * 30 - 130 / 100 * 20 = 10 := by norm_num

theorem mathd_algebra_10 : abs ((120 : ℝ) / 100 * 30 - 130 / 100 * 20) = 10 := by
  rw [helper]; norm_num
```"""


@pytest.mark.parametrize(
    ("template", "completion", "proof"),
    [
        ("deepseek-v1.5", V15_COMPLETION, "norm_num [abs_of_nonneg]\n<;> linarith"),
        (
            "deepseek-v2",
            V2_COMPLETION,
            "have h₀ : (120 : ℝ) / 100 * 30 - 130 / 100 * 20 = 10 := by\n  norm_num\nrw [h₀]\nnorm_num [abs_of_nonneg]",
        ),
        ("kimina", KIMINA_COMPLETION, "norm_num [abs_of_nonneg]"),
        ("goedel-v2", GOEDEL_COMPLETION, "rw [helper]; norm_num"),
    ],
)
def test_whole_proof_extraction(template: str, completion: str, proof: str) -> None:
    tpl = get_whole_template(template)
    assert extract_whole_proof(completion, THEOREM.name, tpl.continuation) == proof
    assert extract_whole_proof(completion, THEOREM.name) == proof  # the sweep's template-agnostic reading


@pytest.mark.parametrize(
    "completion",
    [
        "<think>Let me think about the bounds, 36 - 26 is",  # cut off while reasoning
        "### Plan\n1. compute\n```lean4\ntheorem mathd_algebra_10 : abs (",  # block never closed
        "```lean4\ntheorem mathd_algebra_10 : abs ((120 : ℝ) / 100 * 30 - 130 / 100 * 20) = 10 := abs_of_nonneg\n```",
    ],
)
def test_whole_proof_extraction_refuses_what_holds_no_tactic_block(completion: str) -> None:
    assert extract_whole_proof(completion, THEOREM.name, continuation=False) is None


def test_whole_proof_prompts_follow_the_cards() -> None:
    v15 = whole_proof_request(THEOREM, template="deepseek-v1.5")
    assert v15.startswith("Complete the following Lean 4 code:\n\n```lean4\nimport Mathlib")
    assert v15.endswith(f"{THEOREM.statement} := by\n")
    v2 = whole_proof_request(THEOREM, template="deepseek-v2")
    assert v2.startswith("Complete the following Lean 4 code:\n\n```lean4\nimport Mathlib")
    assert f"{THEOREM.statement} := by\n  sorry\n```" in v2
    assert v2.endswith("guide the construction of the final formal proof.")
    kimina = whole_proof_request(THEOREM, template="kimina")
    assert kimina.startswith("Think about and solve the following problem step by step in Lean 4.\n# Problem:")
    assert "# Formal statement:\n```lean4\nimport Mathlib" in kimina


class _ChatTokenizer:
    chat_template = "x"

    def apply_chat_template(self, messages: list[dict[str, str]], tokenize: bool, add_generation_prompt: bool) -> str:
        assert not tokenize and add_generation_prompt
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<assistant>"


def test_chat_templates_wrap_the_user_message_with_the_tokenizers_template() -> None:
    tpl = get_whole_template("kimina")
    text = render_prompt(tpl, "Q", _ChatTokenizer())
    assert text == "<system>You are an expert in mathematics and Lean 4.<user>Q<assistant>"
    assert render_prompt(get_whole_template("deepseek-v1.5"), "Q", None) == "Q"
    with pytest.raises(ValueError, match="chat template"):
        render_prompt(tpl, "Q", object())


class _Scripted:
    def __init__(self, completions: list[str]) -> None:
        self.completions = completions
        self.prompts: list[str] = []

    def __call__(self, prompts: Any, n: int) -> list[list[str]]:
        self.prompts.extend(prompts)
        return [self.completions[:n] for _ in prompts]


class _Verifier:
    def __init__(self, good: str) -> None:
        self.good = good
        self.checked: list[str] = []

    def verify(self, theorem: Theorem, proof: str) -> Any:
        self.checked.append(proof)
        return Verified("stand-in") if proof == self.good else Rejected("wrong", "stand-in")


def _prove_whole(setup: WholeProofSetup, verifier: Any, n: int) -> Any:
    """The engine's `whole` strategy over the model adapter `prove --mode whole` builds (`build_strategy`)."""
    from benchmarks.sweep.attempt import NoEnv
    from prover.engine import Engine, ProofTarget, WholeStrategy
    from prover.engine.models import SetupSampler

    sampler = SetupSampler(setup)
    return Engine(WholeStrategy(sampler, n, sampler.extract), NoEnv(), verifier).prove(
        ProofTarget(THEOREM.name, THEOREM)
    )


def test_whole_strategy_verifies_each_distinct_sample_until_one_is_verified() -> None:
    from prover.engine import Status

    bad = "```lean4\ntheorem mathd_algebra_10 : abs ((120 : ℝ) / 100 * 30 - 130 / 100 * 20) = 10 := by\n  simp\n```"
    model = _Scripted(["<think>cut", bad, bad, KIMINA_COMPLETION, V2_COMPLETION])
    verifier = _Verifier("norm_num [abs_of_nonneg]")
    outcome = _prove_whole(WholeProofSetup(model, get_whole_template("kimina"), _ChatTokenizer()), verifier, 5)
    assert outcome.proved and outcome.proof == "norm_num [abs_of_nonneg]"
    assert verifier.checked == ["simp", "norm_num [abs_of_nonneg]"]  # duplicates once, stops at the first proof
    # The sample cut off inside `<think>` is counted apart from a completion without a proof.
    assert [a.status for a in outcome.attempts] == [Status.TRUNCATED, Status.REJECTED, Status.PROVED]
    assert model.prompts[0].startswith("<system>") and model.prompts[0].endswith("<assistant>")


def test_whole_strategy_never_reports_an_unverified_proof() -> None:
    setup = WholeProofSetup(_Scripted([KIMINA_COMPLETION] * 3), get_whole_template("kimina"), _ChatTokenizer())
    outcome = _prove_whole(setup, _Verifier("something else"), 3)
    assert not outcome.proved and outcome.status.value == "rejected"


@pytest.mark.parametrize("command", ["prove", "suggest", "sweep", "serve"])
def test_every_generating_command_takes_template(command: str) -> None:

    result = run_cli([command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--template" in result.output


def test_sweep_search_with_a_whole_proof_model_is_a_config_error_before_ray(tmp_path: Any) -> None:
    from benchmarks.sweep import load_sweep_config, run_sweep
    from prover.config import ConfigError

    cfg = load_sweep_config(
        overrides={
            "sweep": {"split": "valid", "names": ["mathd_algebra_10"], "output": str(tmp_path / "r.jsonl")},
            "generator": {"kind": "hf", "model": "AI-MO/Kimina-Prover-Distill-8B"},
        }
    )
    with pytest.raises(ConfigError, match="writes whole proofs"):
        run_sweep(cfg, progress=False)


def test_sweep_whole_prompts_follow_the_models_preset(tmp_path: Any) -> None:
    from benchmarks.minif2f import load_problems
    from benchmarks.sweep import load_sweep_config
    from benchmarks.sweep.driver import build_jobs
    from prover.paths import REPO_ROOT

    minif2f = REPO_ROOT.parent / "shared" / "data" / "minif2f" / "minif2f.jsonl"
    if not minif2f.is_file():
        pytest.skip("../shared/data/minif2f is missing")
    problems = load_problems(minif2f, names=["mathd_algebra_10"])
    for model, start in [
        ("AI-MO/Kimina-Prover-Distill-8B", "Think about and solve the following problem step by step in Lean 4."),
        ("deepseek-ai/DeepSeek-Prover-V1.5-RL", "Complete the following Lean 4 code with explanatory comments"),
        ("deepseek-ai/DeepSeek-Prover-V1.5-SFT", "Complete the following Lean 4 code:\n\n```lean4\n"),
    ]:
        cfg = load_sweep_config(
            overrides={
                "sweep": {"mode": "whole", "num_few_shot": 0, "output": str(tmp_path / "r.jsonl")},
                "generator": {"kind": "hf", "model": model},
            }
        )
        [job] = build_jobs(cfg, problems, set())
        assert job.prompt is not None and job.prompt.startswith(start)


def test_internlm_candidates_come_ranked_by_mean_token_logprob(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the vLLM path's beam loop (stand-in tests/standins/fake_vllm.py, one token per character): the
    short tactic has the larger total log-probability, the long one the larger mean per token; upstream's
    `_unique_sorted` puts the long one first."""
    import importlib.util
    import sys

    from prover.generators.decoding import DecodingOptions
    from prover.generators.vllm import VLLMGenerator

    path = Path(__file__).parent / "standins" / "fake_vllm.py"
    spec = importlib.util.spec_from_file_location("fake_vllm_presets", path)
    assert spec is not None and spec.loader is not None
    fake = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "fake_vllm_presets", fake)
    spec.loader.exec_module(fake)
    long = "nlinarith [sq_nonneg (a - b), sq_nonneg (a + b), mul_pos ha hb]"
    vllm = fake.install(monkeypatch, {"simp<|im_end|>": 0.6, f"{long}<|im_end|>": 0.4}, marker=CHAT_ASSISTANT)
    template = get_template("internlm-step")
    gen = VLLMGenerator(vllm.LLM(model="m"), template, decode=DecodingOptions(decoding="beam", max_new_tokens=120))
    [cands] = gen([GenRequest("a b : ℝ\n⊢ 0 < a * b", theorem_name="t")], 2)
    assert [c.tactic for c in cands] == [long, "simp"]
    assert cands[0].logprob < cands[1].logprob  # the sum alone would put `simp` first
