"""miniF2F (or any benchmark) sweeps on Ray: generator actors batch model calls, prover actors run searches.

Ray is imported only inside the functions that start actors, so importing this package is cheap.
"""

from benchmarks.sweep.attempt import AttemptJob, AttemptOutcome, ProofCompleter
from benchmarks.sweep.config import PRESETS, SweepConfig, SweepSection, load_sweep_config
from benchmarks.sweep.driver import Components, SweepError, SweepRun, run_sweep, select_problems

__all__ = [
    "PRESETS",
    "AttemptJob",
    "AttemptOutcome",
    "Components",
    "ProofCompleter",
    "SweepConfig",
    "SweepError",
    "SweepRun",
    "SweepSection",
    "load_sweep_config",
    "run_sweep",
    "select_problems",
]
