"""Whole-proof prompts rendered byte-equal to the models' own evaluation code.

The expected strings were produced by running the upstream functions outside this repository on the
upstream datasets' row for miniF2F `mathd_algebra_478`:

* DEEPSEEK_V15_NON_COT = `non_cot_prompt(row)`, DEEPSEEK_V15_COT = `cot_prompt(row)` and
  DEEPSEEK_V15_COT_TWO_SHOTS = `cot_few_shot_prompt(s1) + cot_few_shot_prompt(s2) + cot_prompt(row)`, from
  github.com/deepseek-ai/DeepSeek-Prover-V1.5 prover/utils.py @ 2c4ba9119eef74d0d611f494261b2c5bae98c69a, `row`
  from that commit's datasets/minif2f.jsonl and s1, s2 the first two rows (mathd_algebra_182, mathd_algebra_116)
  of ../shared/data/minif2f/deepseek_minif2f_valid_few_shot.jsonl (DeepSeek's datasets/minif2f_valid_few_shot.jsonl),
  the prefix upstream's `_preprocess_data` joins before the prompt;
* GOEDEL_V2_USER = the user message of `DeepSeekCoTHandler().prover_inference(lean4_code, tokenizer)`, from
  github.com/Goedel-LM/Goedel-Prover-V2 src/utils.py @ 2e9036e118464aa96a8bebaf9f5b9d091aa3585c, `lean4_code`
  from that commit's dataset/minif2f.jsonl as src/inference.py prepares it (`.split(":= by")[0] + ":= by sorry"`);
  the chat template around it is the tokenizer's own (`apply_chat_template(..., add_generation_prompt=True)`).

The project side renders the same problem from ../shared/data/minif2f/minif2f.jsonl (DeepSeek's statement and
header, the informal statement as context).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.minif2f import few_shot_for, load_few_shot, load_problems
from prover.config import GeneratorConfig
from prover.generators.presets import PRESETS, apply_preset
from prover.generators.whole_proof import whole_proof_request
from search.types import InformalContext

DEEPSEEK_V15_NON_COT = (
    "Complete the following Lean 4 code:\n"
    "\n"
    "```lean4\n"
    "import Mathlib\n"
    "import Aesop\n"
    "\n"
    "set_option maxHeartbeats 0\n"
    "\n"
    "open BigOperators Real Nat Topology Rat\n"
    "\n"
    "/-- The volume of a cone is given by the formula $V = \\frac{1}{3}Bh$, where $B$ is the are"
    "a of the base and $h$ is the height. The area of the base of a cone is 30 square units, an"
    "d its height is 6.5 units. What is the number of cubic units in its volume? Show that it i"
    "s 65.-/\n"
    "theorem mathd_algebra_478 (b h v : ℝ) (h₀ : 0 < b ∧ 0 < h ∧ 0 < v) (h₁ : v = 1 / 3 * (b * "
    "h))\n"
    "    (h₂ : b = 30) (h₃ : h = 13 / 2) : v = 65 := by\n"
)
DEEPSEEK_V15_COT = (
    "Complete the following Lean 4 code with explanatory comments preceding each line of code:\n"
    "\n"
    "```lean4\n"
    "import Mathlib\n"
    "import Aesop\n"
    "\n"
    "set_option maxHeartbeats 0\n"
    "\n"
    "open BigOperators Real Nat Topology Rat\n"
    "\n"
    "/-- The volume of a cone is given by the formula $V = \\frac{1}{3}Bh$, where $B$ is the are"
    "a of the base and $h$ is the height. The area of the base of a cone is 30 square units, an"
    "d its height is 6.5 units. What is the number of cubic units in its volume? Show that it i"
    "s 65.-/\n"
    "theorem mathd_algebra_478 (b h v : ℝ) (h₀ : 0 < b ∧ 0 < h ∧ 0 < v) (h₁ : v = 1 / 3 * (b * "
    "h))\n"
    "    (h₂ : b = 30) (h₃ : h = 13 / 2) : v = 65 := by\n"
)
DEEPSEEK_V15_COT_TWO_SHOTS = (
    "Complete the following Lean 4 code with explanatory comments preceding each line of code:\n"
    "\n"
    "```lean4\n"
    "import Mathlib\n"
    "import Aesop\n"
    "\n"
    "set_option maxHeartbeats 0\n"
    "\n"
    "open BigOperators Real Nat Topology Rat\n"
    "\n"
    "/-- Expand the following expression: $7(3y+2)$ Show that it is 21y+14.-/\n"
    "theorem mathd_algebra_182 (y : ℂ) : 7 * (3 * y + 2) = 21 * y + 14 := by\n"
    "  /- We apply the distributive property to get\\begin{align*}\n"
    "  7(3y+2) &= 7\\cdot 3y+7\\cdot 2\\\\\n"
    "  &= 21y+14.\n"
    "  \\end{align*}\n"
    "  -/\n"
    "  ring\n"
    "```\n"
    "\n"
    "\n"
    "Complete the following Lean 4 code with explanatory comments preceding each line of code:\n"
    "\n"
    "```lean4\n"
    "import Mathlib\n"
    "import Aesop\n"
    "\n"
    "set_option maxHeartbeats 0\n"
    "\n"
    "open BigOperators Real Nat Topology Rat\n"
    "\n"
    "/-- For what real value of $k$ is $\\frac{13-\\sqrt{131}}{4}$ a root of $2x^2-13x+k$? Show t"
    "hat it is $\\frac{19}{4}$.-/\n"
    "theorem mathd_algebra_116 (k x : ℝ) (h₀ : x = (13 - Real.sqrt 131) / 4)\n"
    "    (h₁ : 2 * x ^ 2 - 13 * x + k = 0) : k = 19 / 4 := by\n"
    "  /- We could substitute $(13-\\sqrt{131})/4$ for $x$ in the equation, but the quadratic fo"
    "rmula suggests a quicker approach. Substituting $2$, $-13$, and $k$ into the quadratic for"
    "mula gives  \\[\n"
    "  \\frac{-(-13)\\pm\\sqrt{(-13)^2-4(2)(k)}}{2(2)}= \\frac{13\\pm\\sqrt{169-8k}}{4}.\n"
    "  \\]Setting $(13+\\sqrt{169-8k})/4$ and $(13-\\sqrt{169-8k})/4$ equal to $(13-\\sqrt{131})/4$"
    ", we find no solution in the first case and $169-8k=131$ in the second case.  Solving yiel"
    "ds $k=(169-131)/8=38/8=\\frac{19}{4}$.\n"
    "  -/\n"
    "  rw [h₀] at h₁\n"
    "  rw [eq_comm.mp (add_eq_zero_iff_neg_eq.mp h₁)]\n"
    "  norm_num\n"
    "  rw [pow_two]\n"
    "  rw [mul_sub]\n"
    "  rw [sub_mul, sub_mul]\n"
    "  rw [Real.mul_self_sqrt _]\n"
    "  ring\n"
    "  linarith\n"
    "```\n"
    "\n"
    "\n"
    "Complete the following Lean 4 code with explanatory comments preceding each line of code:\n"
    "\n"
    "```lean4\n"
    "import Mathlib\n"
    "import Aesop\n"
    "\n"
    "set_option maxHeartbeats 0\n"
    "\n"
    "open BigOperators Real Nat Topology Rat\n"
    "\n"
    "/-- The volume of a cone is given by the formula $V = \\frac{1}{3}Bh$, where $B$ is the are"
    "a of the base and $h$ is the height. The area of the base of a cone is 30 square units, an"
    "d its height is 6.5 units. What is the number of cubic units in its volume? Show that it i"
    "s 65.-/\n"
    "theorem mathd_algebra_478 (b h v : ℝ) (h₀ : 0 < b ∧ 0 < h ∧ 0 < v) (h₁ : v = 1 / 3 * (b * "
    "h))\n"
    "    (h₂ : b = 30) (h₃ : h = 13 / 2) : v = 65 := by\n"
)
GOEDEL_V2_USER = (
    "Complete the following Lean 4 code:\n"
    "\n"
    "```lean4\n"
    "import Mathlib\n"
    "import Aesop\n"
    "\n"
    "set_option maxHeartbeats 0\n"
    "\n"
    "open BigOperators Real Nat Topology Rat\n"
    "\n"
    "/-- The volume of a cone is given by the formula $V = \\frac{1}{3}Bh$, where $B$ is the are"
    "a of the base and $h$ is the height. The area of the base of a cone is 30 square units, an"
    "d its height is 6.5 units. What is the number of cubic units in its volume? Show that it i"
    "s 65.-/\n"
    "theorem mathd_algebra_478 (b h v : ℝ) (h₀ : 0 < b ∧ 0 < h ∧ 0 < v) (h₁ : v = 1 / 3 * (b * "
    "h))\n"
    "    (h₂ : b = 30) (h₃ : h = 13 / 2) : v = 65 := by sorry```\n"
    "\n"
    "Before producing the Lean 4 code to formally prove the given theorem, provide a detailed p"
    "roof plan outlining the main proof steps and strategies.\n"
    "The plan should highlight key ideas, intermediate lemmas, and proof structures that will g"
    "uide the construction of the final formal proof."
)


@pytest.fixture(scope="module")
def problem(shared: Path):
    [found] = load_problems(
        shared / "data" / "minif2f" / "minif2f.jsonl", statement="deepseek", names=["mathd_algebra_478"]
    )
    return found


def _context(problem) -> InformalContext:
    return InformalContext(statement=problem.theorem.informal_statement)


def test_deepseek_v15_non_cot_prompt_is_byte_equal_to_upstream(problem) -> None:
    template = PRESETS["deepseek-prover-v1.5"].template
    assert whole_proof_request(problem.theorem, _context(problem), template) == DEEPSEEK_V15_NON_COT


def test_deepseek_v15_cot_prompt_is_byte_equal_to_upstream(problem, shared: Path) -> None:
    template = PRESETS["deepseek-prover-v1.5-cot"].template
    assert whole_proof_request(problem.theorem, _context(problem), template) == DEEPSEEK_V15_COT
    pool = load_few_shot(shared / "data" / "minif2f" / "deepseek_minif2f_valid_few_shot.jsonl")
    shots = few_shot_for(problem.name, pool, 2)
    assert whole_proof_request(problem.theorem, _context(problem), template, shots) == DEEPSEEK_V15_COT_TWO_SHOTS


def test_goedel_prover_sft_prompt_is_byte_equal_to_upstream(problem) -> None:
    """github.com/Goedel-LM/Goedel-Prover eval/step1_inference.py @ d80349d93a80305765492014f0b395cec46e5023 formats
    DeepSeek-Prover-V1.5's CoT prompt; run on that commit's datasets/minif2f.jsonl row for mathd_algebra_478 it
    produced exactly DEEPSEEK_V15_COT (compared outside the repository)."""
    template = PRESETS["goedel-prover-sft"].template
    assert whole_proof_request(problem.theorem, _context(problem), template) == DEEPSEEK_V15_COT
    resolved = apply_preset(GeneratorConfig(model="Goedel-LM/Goedel-Prover-SFT"))
    assert (resolved.config.temperature, resolved.config.top_p, resolved.config.max_new_tokens) == (1.0, 0.95, 2048)


def test_goedel_v2_user_message_is_byte_equal_to_upstream(problem) -> None:
    template = PRESETS["goedel-prover-v2"].template
    assert whole_proof_request(problem.theorem, _context(problem), template) == GOEDEL_V2_USER


def test_deepseek_v15_rl_runs_cot_by_default_and_non_cot_stays_available() -> None:
    """configs/sampling.py: `model_path = 'deepseek-ai/DeepSeek-Prover-V1.5-RL'`, `mode='cot'`, temperature 1,
    top_p 0.95, max_tokens 2048; the answer is the text before the first fence (`post_process_output`)."""
    rl = apply_preset(GeneratorConfig(model="deepseek-ai/DeepSeek-Prover-V1.5-RL"))
    assert (rl.preset.name if rl.preset else None, rl.template) == ("deepseek-prover-v1.5-cot", "deepseek-v1.5-cot")
    assert (rl.config.decoding, rl.config.temperature, rl.config.top_p, rl.config.max_new_tokens) == (
        "sample",
        1.0,
        0.95,
        2048,
    )
    sft = apply_preset(GeneratorConfig(model="deepseek-ai/DeepSeek-Prover-V1.5-SFT"))
    assert sft.template == "deepseek-v1.5"
    chosen = apply_preset(GeneratorConfig(model="deepseek-ai/DeepSeek-Prover-V1.5-RL", template="deepseek-prover-v1.5"))
    assert chosen.template == "deepseek-v1.5"


def test_goedel_v2_decodes_as_its_pipeline() -> None:
    """README: "the standard 32K" output tokens; src/inference.py samples at temperature 1.0 (pipeline.sh
    TEMPERATURE=1.0), top_p 0.95."""
    resolved = apply_preset(GeneratorConfig(model="Goedel-LM/Goedel-Prover-V2-8B"))
    assert (resolved.config.temperature, resolved.config.top_p, resolved.config.max_new_tokens) == (1.0, 0.95, 32768)


# DEEPSEEK_V2_USER = `prompt.format(formal_statement)` of the "Quick Start" in github.com/deepseek-ai/DeepSeek-Prover-V2
# README.md @ 24ec0822ed546234532e3c53e5f14cb0c35738c0, run as written (mathd_algebra_10 with its doc comment).
DEEPSEEK_V2_USER = (
    "Complete the following Lean 4 code:\n\n```lean4\nimport Mathlib\nimport Aesop\n\nset_option maxHeartbeats 0\n\n"
    "open BigOperators Real Nat Topology Rat\n\n/-- What is the positive difference between $120\\%$ of 30 and $130\\%$ "
    "of 20? Show that it is 10.-/\ntheorem mathd_algebra_10 : abs ((120 : ℝ) / 100 * 30 - 130 / 100 * 20) = 10 := by\n"
    "  sorry\n```\n\nBefore producing the Lean 4 code to formally prove the given theorem, provide a detailed proof plan "
    "outlining the main proof steps and strategies.\nThe plan should highlight key ideas, intermediate lemmas, and proof "
    "structures that will guide the construction of the final formal proof."
)


def test_deepseek_v2_user_message_is_byte_equal_to_its_card() -> None:
    from lean_env.types import Theorem

    theorem = Theorem(
        name="mathd_algebra_10",
        statement="theorem mathd_algebra_10 : abs ((120 : ℝ) / 100 * 30 - 130 / 100 * 20) = 10",
        header="import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 0\n\nopen BigOperators Real Nat Topology Rat\n\n",
    )
    informal = "What is the positive difference between $120\\%$ of 30 and $130\\%$ of 20? Show that it is 10."
    template = PRESETS["deepseek-prover-v2"].template
    assert whole_proof_request(theorem, InformalContext(statement=informal), template) == DEEPSEEK_V2_USER
