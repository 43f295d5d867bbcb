"""Build a strategy from the configuration (the model is loaded here, once per run)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prover.engine.correct import TurnFormat
from prover.engine.strategies import SearchStrategy, Strategy, WholeStrategy


@dataclass(frozen=True)
class StrategyConfig:
    """Which strategy, with which generator and search settings; `samples`: whole proofs per target."""

    name: str
    generator: Any  # prover.config.GeneratorConfig
    search: Any  # prover.config.SearchSection
    samples: int = 8
    correction_rounds: int = 1
    correction_samples: int = 1
    repair: bool = False  # failed whole proofs: their failing blocks become holes the tactic search fills


def turn_format(generator: Any) -> TurnFormat:
    """The correction turn of the configured whole-proof model: Kimina-Prover's own for its preset, else Goedel's."""
    from prover.generators.whole_proof import whole_template_for

    kimina = whole_template_for(generator, strict=False).name == "kimina"
    return TurnFormat.KIMINA if kimina else TurnFormat.GOEDEL


def needs_infotree(strategy: str, generator: Any) -> str | None:
    """The info tree the verifier's compiles must ask for (`"original"`: Kimina's correction turn shows the goals
    before each error from it), or None."""
    if strategy != "correct" or generator.kind == "scripted":
        return None
    return "original" if turn_format(generator) is TurnFormat.KIMINA else None


def build_strategy(cfg: StrategyConfig) -> Strategy:
    """The configured strategy, its model loaded. Raises ValueError for an unknown name."""
    base = _base_strategy(cfg)
    if not cfg.repair:
        return base
    if cfg.name == "search":
        raise ValueError("--repair repairs whole proofs: use it with --strategy whole or correct")
    from prover.engine.repair import RepairStrategy
    from prover.generators import FixedTacticGenerator

    # The holes are searched with the automation tactics (`[generator] fixed_tactics`): a whole-proof model
    # proposes no single tactics.
    filler = SearchStrategy(FixedTacticGenerator(cfg.generator.fixed_tactics), cfg.search.to_search_config())
    return RepairStrategy(base, filler)


def _scripted(cfg: StrategyConfig) -> Strategy:
    """Played-back model outputs (`prover.generators.scripted`): whole proofs, or corrections when recorded."""
    from prover.engine.correct import CorrectionConfig, CorrectStrategy
    from prover.generators.scripted import ScriptedOutputs, ScriptedSampler

    if cfg.generator.outputs is None:
        raise ValueError("the scripted generator needs its outputs file: --outputs FILE.jsonl")
    sampler = ScriptedSampler(ScriptedOutputs.load(cfg.generator.outputs))
    if cfg.name == "correct":
        rounds = CorrectionConfig(cfg.samples, cfg.correction_rounds, cfg.correction_samples)
        return CorrectStrategy(sampler, rounds, sampler.extract)
    if cfg.name != "whole":
        raise ValueError("the scripted generator plays back whole proofs: --strategy whole or correct")
    return WholeStrategy(sampler, cfg.samples, sampler.extract)


def _base_strategy(cfg: StrategyConfig) -> Strategy:
    if cfg.generator.kind == "scripted":
        return _scripted(cfg)
    if cfg.name == "search":
        from prover.generators import make_generator

        return SearchStrategy(make_generator(cfg.generator), cfg.search.to_search_config())
    if cfg.name == "whole":
        from prover.engine.models import SetupSampler
        from prover.generators.whole_proof import load_whole_proof_model

        sampler = SetupSampler(load_whole_proof_model(cfg.generator))
        return WholeStrategy(sampler, cfg.samples, sampler.extract)
    if cfg.name == "correct":
        from prover.engine.correct import CorrectionConfig, CorrectStrategy
        from prover.engine.models import SetupSampler
        from prover.generators.whole_proof import load_whole_proof_model

        sampler = SetupSampler(load_whole_proof_model(cfg.generator))
        if not sampler.setup.template.chat:
            raise ValueError(
                f"--strategy correct needs a chat model; the {sampler.setup.template.name!r} prompt is not one"
            )
        context = cfg.generator.max_model_len or sampler.context_tokens()
        rounds = CorrectionConfig(
            cfg.samples, cfg.correction_rounds, cfg.correction_samples, context, turn_format(cfg.generator)
        )
        return CorrectStrategy(sampler, rounds, sampler.extract)
    raise ValueError(f"unknown strategy {cfg.name!r}")
