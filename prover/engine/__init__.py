"""The proof engine: prove one target (a theorem or a hole) with a strategy, under a budget, and verify.

`prover prove`, a sweep's prover actors and `prover suggest`'s search all go through it; the commands only
parse options, build an `EngineConfig` and print.
"""

from prover.engine.cost import Cost, RoundCost
from prover.engine.engine import Engine, EngineConfig
from prover.engine.outcome import Attempt, Outcome
from prover.engine.status import Status
from prover.engine.strategies import Context, SearchStrategy, Strategy, WholeStrategy, is_backend_failure
from prover.engine.target import ProofTarget

__all__ = [
    "Attempt",
    "Context",
    "Cost",
    "Engine",
    "EngineConfig",
    "Outcome",
    "ProofTarget",
    "RoundCost",
    "SearchStrategy",
    "Status",
    "Strategy",
    "WholeStrategy",
    "is_backend_failure",
]
