"""A sweep whose backend cannot work at all stops with the cause and records no problem as failed:
`BackendUnavailableError` (e.g. `import lean_dojo` failing on TACTIC_MEMORY_LIMIT=32G, or a Lean that
refuses lean-dojo's `--memory`) is the backend's failure, never a `failed_start` of every theorem."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.sweep import SweepError, run_sweep
from lean_env.errors import BackendUnavailableError
from tests.test_sweep import PROVABLE, cassette_path, minif2f, ray_address, replay_components, sweep_config

__all__ = ["cassette_path", "minif2f", "ray_address"]  # the session fixtures this module uses


class UnusableEnv:
    """An env whose backend is broken as `lean_env.backends.dojo.DojoEnv` reports it: at every start."""

    def start(self, theorem: Any) -> Any:
        raise BackendUnavailableError("LeanDojo is unusable: TACTIC_MEMORY_LIMIT='32G' is refused")

    def start_hole(self, target: Any) -> Any:
        raise BackendUnavailableError("LeanDojo is unusable: TACTIC_MEMORY_LIMIT='32G' is refused")

    def run_tactic(self, state: Any, tactic: str, timeout: float | None = None) -> Any:
        raise AssertionError("never started")

    def close(self) -> None:
        pass

    def __enter__(self) -> UnusableEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def test_a_sweep_on_an_unusable_backend_stops_and_records_nothing(
    ray_address: str, cassette_path: Path, tmp_path: Path
) -> None:
    import ray

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    comps = replay_components(cassette_path)
    comps.env_factory = UnusableEnv
    cfg = sweep_config(tmp_path, list(PROVABLE))
    with pytest.raises(SweepError, match="backend is unusable: LeanDojo is unusable: TACTIC_MEMORY_LIMIT"):
        run_sweep(cfg, components=comps, progress=False)
    output = Path(cfg.sweep.output)
    assert not output.exists() or not output.read_text(encoding="utf-8").strip()
