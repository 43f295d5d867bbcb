"""The fixed automation-tactic generator, the combining generator, make_generator and template records."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import pytest

from prover.config import GeneratorConfig
from prover.generators import (
    DEFAULT_FIXED_TACTICS,
    CombinedGenerator,
    FixedTacticGenerator,
    make_generator,
    merge_candidates,
    read_template_record,
    resolve_template,
    write_template_record,
)
from prover.templates import get_template
from search.types import Candidate, GenRequest, TacticGenerator

STATE = "x : ℕ\n⊢ x + 0 = x"


def test_fixed_generator_ranks_by_prior_and_respects_k() -> None:
    gen = FixedTacticGenerator()
    assert isinstance(gen, TacticGenerator)
    [cands] = gen([GenRequest(STATE)], 5)
    assert len(cands) == 5
    assert [c.logprob for c in cands] == sorted((c.logprob for c in cands), reverse=True)
    best = max(DEFAULT_FIXED_TACTICS, key=lambda t: DEFAULT_FIXED_TACTICS[t])
    assert cands[0].tactic == best
    everything = gen([GenRequest(STATE)], 1000)[0]
    assert {c.tactic for c in everything} == set(DEFAULT_FIXED_TACTICS)
    assert {
        "norm_num",
        "simp",
        "linarith",
        "nlinarith",
        "omega",
        "decide",
        "ring_nf",
        "field_simp",
        "positivity",
        "aesop",
    } <= {c.tactic for c in everything}


def test_fixed_generator_configurable_priors_and_prefix() -> None:
    gen = FixedTacticGenerator({"omega": -0.1, "simp": -2.0, "simp_all": -1.0})
    out = gen([GenRequest(STATE), GenRequest(STATE, prefix="simp")], 3)
    assert [c.tactic for c in out[0]] == ["omega", "simp_all", "simp"]
    assert [c.tactic for c in out[1]] == ["simp_all", "simp"]
    assert out[0][0].logprob == pytest.approx(-0.1)
    assert gen([GenRequest(STATE)], 0) == [[]]


def test_fixed_generator_plain_list_keeps_order() -> None:
    gen = FixedTacticGenerator(["decide", "norm_num"])
    [cands] = gen([GenRequest(STATE)], 2)
    assert [c.tactic for c in cands] == ["decide", "norm_num"]
    assert all(math.isfinite(c.logprob) and c.logprob < 0 for c in cands)


@pytest.mark.parametrize("bad", [{"simp": 0.5}, {"": -1.0}, {}])
def test_fixed_generator_rejects_bad_priors(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        FixedTacticGenerator(bad)


class _Scripted:
    """A stand-in model generator returning fixed candidates (a test double for the model side only)."""

    def __init__(self, cands: list[Candidate]) -> None:
        self.cands = cands
        self.calls: list[int] = []

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        self.calls.append(k)
        return [list(self.cands[:k]) for _ in requests]


def test_merge_candidates_dedupes_keeping_best() -> None:
    merged = merge_candidates([[Candidate("simp", -3.0), Candidate("ring", -1.0)], [Candidate("simp", -0.5)]])
    assert [(c.tactic, c.logprob) for c in merged] == [("simp", -0.5), ("ring", -1.0)]


def test_combined_reserves_fallback_slots_and_dedupes() -> None:
    model = _Scripted([Candidate(f"exact h{i}", -0.01 * (i + 1), 3) for i in range(5)] + [Candidate("simp", -0.2, 1)])
    fixed = FixedTacticGenerator({"simp": -2.0, "linarith": -2.5, "omega": -3.0})
    gen = CombinedGenerator(model, fixed, reserved_fallback=2)
    [cands] = gen([GenRequest(STATE)], 6)
    tactics = [c.tactic for c in cands]
    assert len(cands) == 6 and len(set(tactics)) == 6
    assert [c.logprob for c in cands] == sorted((c.logprob for c in cands), reverse=True)
    # simp came from both: the model's better score is kept; linarith fills the second reserved slot.
    assert "simp" in tactics and "linarith" in tactics and "omega" not in tactics
    assert next(c for c in cands if c.tactic == "simp").logprob == pytest.approx(-0.2)
    assert model.calls == [6]


def test_combined_without_reservation_is_a_plain_merge() -> None:
    model = _Scripted([Candidate("exact h", -0.1), Candidate("simp", -5.0)])
    gen = CombinedGenerator(model, FixedTacticGenerator({"simp": -1.0, "omega": -2.0}), reserved_fallback=0)
    [cands] = gen([GenRequest(STATE)], 3)
    assert [(c.tactic, c.logprob) for c in cands] == [("exact h", -0.1), ("simp", -1.0), ("omega", -2.0)]


def test_make_generator_fixed() -> None:
    gen = make_generator(GeneratorConfig(kind="fixed", fixed_tactics={"omega": -0.5}))
    assert isinstance(gen, FixedTacticGenerator)
    assert gen([GenRequest(STATE)], 4) == [[Candidate("omega", -0.5, 1)]]


def test_make_generator_missing_local_model_is_one_line_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(RuntimeError, match="cannot load model") as info:
        make_generator(GeneratorConfig(kind="hf", model=str(missing), device="cpu"))
    assert "\n" not in str(info.value)


def test_make_generator_vllm_missing_is_clear() -> None:
    pytest.importorskip("torch")
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match="vLLM is not installed"):
            make_generator(GeneratorConfig(kind="vllm", model="x"))
    else:  # pragma: no cover - GPU machines
        pytest.skip("vllm installed")


def test_resolve_template_custom_and_checkpoint_record(tmp_path: Path) -> None:
    custom = resolve_template(GeneratorConfig(custom_prompt="S: {state}\nT:", custom_stop=["\n"]))
    assert custom.prompt == "S: {state}\nT:" and custom.stop == ("\n",)
    with pytest.raises(ValueError, match=r"\{state\}"):
        resolve_template(GeneratorConfig(custom_prompt="no slot"))

    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    assert read_template_record(ckpt) is None
    write_template_record(ckpt, get_template("proofsteps"))
    assert read_template_record(ckpt) == get_template("proofsteps")
    # The record replaces the default template but never an explicit other choice.
    assert resolve_template(GeneratorConfig(model=str(ckpt))).name == "proofsteps"
    assert resolve_template(GeneratorConfig(model=str(ckpt), template="bfs")).name == "bfs"


def test_template_record_in_config_json(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", "prover_template": "bfs"}))
    assert read_template_record(tmp_path) == get_template("bfs")
    (tmp_path / "prover_template.json").write_text("{not json")
    with pytest.raises(ValueError, match="invalid JSON"):
        read_template_record(tmp_path)
