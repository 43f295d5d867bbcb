"""Whole-proof sampling over a tiny local Hugging Face model (no hub access)."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from benchmarks.minif2f import load_problems  # noqa: E402
from benchmarks.sweep.attempt import AttemptJob, extract_whole_proof, run_whole_attempt  # noqa: E402
from benchmarks.sweep.completion import HFCompleter  # noqa: E402
from lean_env.checks.verdict import Rejected, Verdict  # noqa: E402
from lean_env.types import Theorem  # noqa: E402
from prover.config import GeneratorConfig  # noqa: E402
from prover.generators.tokenizers import byte_level_tokenizer  # noqa: E402
from prover.generators.whole_proof import Completion  # noqa: E402


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=300,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    path = tmp_path_factory.mktemp("tiny-llama")
    transformers.LlamaForCausalLM(config).save_pretrained(path)
    byte_level_tokenizer().save_pretrained(path)
    return path


class Recorder:
    def __init__(self) -> None:
        self.proofs: list[str] = []

    def verify(self, theorem: Theorem, proof: str) -> Verdict:
        self.proofs.append(proof)
        return Rejected("a random model proves nothing", checker="test")


def test_hf_completer_samples_one_completion_per_prompt(tiny_model_dir: Path, shared: Path) -> None:
    cfg = GeneratorConfig.model_validate(
        {"kind": "hf", "model": str(tiny_model_dir), "device": "cpu", "max_new_tokens": 12, "seed": 1}
    )
    completer = HFCompleter(cfg)
    outs = completer(["theorem a : True := by\n", "theorem b : 1 = 1 := by\n"])
    assert len(outs) == 2 and all(isinstance(o, Completion) and isinstance(o.text, str) for o in outs)

    problem = load_problems(shared / "data" / "minif2f" / "minif2f.jsonl", names=["mathd_algebra_10"])[0]
    verifier = Recorder()
    outcome = run_whole_attempt(AttemptJob(problem, 0, "i2f", "whole", "theorem x : True := by\n"), completer, verifier)
    assert outcome.status in {"rejected", "exhausted", "truncated"} and not outcome.proved
    assert verifier.proofs == ([] if outcome.status in ("exhausted", "truncated") else [outcome.proof])


def test_extract_whole_proof_cuts_at_the_fence() -> None:
    assert extract_whole_proof("  norm_num\n  simp\n```\n\nmore text") == "  norm_num\n  simp"
    assert extract_whole_proof("  ring  \n") == "  ring"
