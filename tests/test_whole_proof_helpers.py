"""Whole proofs that call lemmas written before the theorem, and samples the token limit cut off.

Kimina-Prover's own extractor (github.com/MoonshotAI/Kimina-Prover-Preview kimina_prover_demo/utils.py
`extract_proof_from_text`) keeps the whole last lean4 block, so a solution may define lemmas before the theorem
and use them. The tactic block is kept with those declarations (`WholeProof.helpers`); whether they may stand
before the theorem is the verifier's judgement (`lean_env.checks.static.helper_declarations_problem`, run here
for real through `prepare_check`; only the Lean compile is left out, as no Lean runs here).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from benchmarks.minif2f import Problem, StatementSource
from benchmarks.sweep.attempt import AttemptJob, run_whole_attempt
from lean_env.checks.static import prepare_check
from lean_env.checks.verdict import Rejected, Verdict, Verified
from lean_env.types import Theorem
from prover.engine import Engine, ProofTarget, Status, WholeStrategy
from prover.engine.strategies import CUT_AT_LIMIT, Sample
from prover.generators.whole_proof import Completion, WholeProof, read_whole_proof

THEOREM = Theorem(
    name="mathd_algebra_10",
    statement="theorem mathd_algebra_10 : abs ((120 : ℝ) / 100 * 30 - 130 / 100 * 20) = 10",
    header="import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 400000\n\nopen BigOperators Real Nat Topology Rat",
)

LEMMA = "lemma diff_value : (120 : ℝ) / 100 * 30 - 130 / 100 * 20 = 10 := by\n  norm_num"
TWO_LEMMAS = LEMMA + "\n\ntheorem abs_ten : |(10 : ℝ)| = 10 := by\n  rw [abs_of_nonneg] <;> norm_num"

# A Kimina-style answer: reasoning, then the whole file in one block, header repeated, helpers before the theorem.
WITH_HELPERS = f"""<think>
Compute 36 - 26 = 10 first, as a lemma, then take the absolute value.
</think>
```lean4
import Mathlib
import Aesop

set_option maxHeartbeats 400000

open BigOperators Real Nat Topology Rat

{TWO_LEMMAS}

/-- What is the positive difference between 120% of 30 and 130% of 20? Show that it is 10.-/
theorem mathd_algebra_10 : abs ((120 : ℝ) / 100 * 30 - 130 / 100 * 20) = 10 := by
  rw [diff_value]
  exact abs_ten
```"""

UNUSED_LEMMA = WITH_HELPERS.replace("  rw [diff_value]\n  exact abs_ten", "  norm_num [abs_of_nonneg]")
WITH_DEF = WITH_HELPERS.replace(LEMMA, "def diff_value : ℝ := 10")


class HelperAwareVerifier:
    """The REPL verifier's judging half (`prepare_check`: static checks, the helper rule, the assembled source);
    a source it builds counts as verified here, standing in for Lean's compile of it."""

    def __init__(self) -> None:
        self.sources: list[str] = []

    def verify(self, theorem: Theorem, proof: str, helpers: str = "") -> Verdict:
        source = prepare_check(theorem, proof, helpers=helpers)
        if isinstance(source, Rejected):
            return source
        self.sources.append(source.text)
        return Verified("stand-in")


class PlainVerifier:
    """A verifier without helper support (replay, dojo): its `verify` takes a theorem and a tactic block only."""

    def verify(self, theorem: Theorem, proof: str) -> Verdict:
        return Verified("stand-in")


def test_helpers_the_proof_uses_are_kept_with_it() -> None:
    found = read_whole_proof(WITH_HELPERS, THEOREM.name, continuation=False)
    assert found == WholeProof("rw [diff_value]\nexact abs_ten", TWO_LEMMAS)  # header lines and doc comment go
    unused = read_whole_proof(UNUSED_LEMMA, THEOREM.name, continuation=False)
    assert unused == WholeProof("norm_num [abs_of_nonneg]")  # a block that stands alone is checked alone


class _Completer:
    def __init__(self, completions: Sequence[str | Completion]) -> None:
        self.completions = list(completions)

    def __call__(self, prompts: Sequence[str]) -> list[str | Completion]:
        return [self.completions.pop(0) for _ in prompts]


def _job() -> AttemptJob:
    problem = Problem(THEOREM.name, "test", THEOREM, "algebra", "primary", StatementSource())
    return AttemptJob(problem, 0, "f2f", "whole", prompt="(prompt)")


def test_a_sweep_attempt_verifies_the_proof_with_its_helpers() -> None:
    verifier = HelperAwareVerifier()
    outcome = run_whole_attempt(_job(), _Completer([WITH_HELPERS]), verifier)
    assert outcome.proved and outcome.proof == "rw [diff_value]\nexact abs_ten"
    assert outcome.attempts[0]["helpers"] == TWO_LEMMAS  # the results line keeps what the proof needs
    [source] = verifier.sources
    assert source.index("lemma diff_value") < source.index("theorem abs_ten") < source.index("theorem mathd_algebra_10")


def test_helpers_the_verifier_refuses_are_a_rejection() -> None:
    outcome = run_whole_attempt(_job(), _Completer([WITH_DEF]), HelperAwareVerifier())
    assert outcome.status is Status.REJECTED and not outcome.proved
    assert outcome.verdict_reason and "not `def`" in outcome.verdict_reason


def test_a_verifier_without_helpers_refuses_a_proof_that_needs_them() -> None:
    outcome = run_whole_attempt(_job(), _Completer([WITH_HELPERS]), PlainVerifier())
    assert outcome.status is Status.REJECTED and not outcome.proved
    assert outcome.verdict_reason and "PlainVerifier cannot check" in outcome.verdict_reason
    standalone = run_whole_attempt(_job(), _Completer([UNUSED_LEMMA]), PlainVerifier())
    assert standalone.proved


def test_prove_keeps_only_a_proof_it_can_write_into_the_file() -> None:
    """`prove --mode whole` writes the theorem's own proof back: a proof needing helpers is not taken there."""

    def sampler(target: ProofTarget, n: int) -> list[Sample]:
        return [Sample(WITH_HELPERS)]

    def extract(text: str, name: str) -> WholeProof | None:
        return read_whole_proof(text, name, continuation=False)

    from benchmarks.sweep.attempt import NoEnv

    verifier = HelperAwareVerifier()
    outcome = Engine(WholeStrategy(sampler, 1, extract), NoEnv(), verifier).prove(ProofTarget(THEOREM.name, THEOREM))
    assert not outcome.proved and verifier.sources == []


# ----------------------------------------------------------------------------- cut by the token limit


@pytest.mark.parametrize(
    ("completion", "status"),
    [
        (Completion("<think>\nLet me bound 36 - 26 first; then", hit_limit=True), Status.TRUNCATED),
        ("<think>\nthe model's reasoning, still open", Status.TRUNCATED),  # an open reasoning block: cut off
        (Completion("\n```\n", hit_limit=False), Status.EXHAUSTED),  # closed the fence at once: nothing written
    ],
)
def test_a_sample_cut_by_the_limit_is_counted_apart_from_no_proof(completion: Any, status: Status) -> None:
    outcome = run_whole_attempt(_job(), _Completer([completion]), HelperAwareVerifier())
    assert outcome.status is status and not outcome.proved
    assert outcome.attempts[0]["status"] == status.value
    if status is Status.TRUNCATED:
        assert outcome.attempts[0]["reason"] == CUT_AT_LIMIT and outcome.stats["cut"] == 1


def test_the_hf_whole_proof_model_reports_samples_stopped_by_the_limit() -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from prover.generators.decoding import DecodingOptions
    from prover.generators.hf import HFGenerator, HFOptions
    from prover.generators.tokenizers import byte_level_tokenizer
    from prover.generators.whole_proof import HFWholeProofModel
    from prover.templates import PromptTemplate

    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=264,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=256,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    model = transformers.LlamaForCausalLM(config).eval()
    identity = PromptTemplate(name="whole:test", prompt="{state}", stop=())
    tok = byte_level_tokenizer()

    def whole_model(max_new_tokens: int, forbid_eos: bool) -> HFWholeProofModel:
        forbidden = [2] if forbid_eos else list(range(3, 264))  # only EOS left: every sample ends at once
        gen = HFGenerator(
            model,
            tok,
            identity,
            decode=DecodingOptions(decoding="sample", max_new_tokens=max_new_tokens),
            hf=HFOptions(forbidden_token_ids=forbidden),
        )
        return HFWholeProofModel(gen)

    [cut] = whole_model(4, forbid_eos=True)(["theorem t : True := by"], 3)
    assert [c.hit_limit for c in cut] == [True, True, True]
    [ended] = whole_model(4, forbid_eos=False)(["theorem t : True := by"], 2)
    assert [c.hit_limit for c in ended] == [False, False]
