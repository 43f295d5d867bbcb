"""Search test helpers over real recordings: a cassette built from real LeanDojo proofsteps.

The scripted doubles (`DictEnv`, `ScriptedGenerator`, `GrowingEnv`, `FakeClock`, ...) are `search.testing`'s,
re-exported here for the tests that import them from this module.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from search.testing import (
    FINISHED,
    DictEnv,
    FakeClock,
    GrowingEnv,
    ScriptedGenerator,
    failing_generator,
    theorem,
)

__all__ = ["FINISHED", "DictEnv", "FakeClock", "GrowingEnv", "ScriptedGenerator", "failing_generator", "theorem"]


# ------------------------------------------------------------------ real recordings (LeanDojo Benchmark 4)

LEANDOJO_FILE = "leandojo_benchmark4_random_test_sample100.jsonl"


def leandojo_rows(shared: Path) -> list[dict[str, object]]:
    path = shared / "data" / "proofsteps" / LEANDOJO_FILE
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def chained_proofs(rows: Iterable[dict[str, object]]) -> dict[str, list[dict[str, object]]]:
    """Theorems whose recorded steps chain state_before -> state_after from step 0 to "no goals"."""
    by_theorem: dict[str, list[dict[str, object]]] = defaultdict(list)
    for row in rows:
        by_theorem[str(row["theorem"])].append(row)
    chained = {}
    for name, steps in by_theorem.items():
        steps.sort(key=lambda r: int(r["step"]))  # type: ignore[call-overload]
        links = all(a["state_after"] == b["state_before"] for a, b in zip(steps, steps[1:], strict=False))
        if links and steps[0]["step"] == 0 and steps[-1]["state_after"] == "no goals":
            chained[name] = steps
    return chained


@functools.cache
def leandojo_cassette(shared: Path):
    from lean_env.cassette.build import build_from_proofsteps

    return build_from_proofsteps([shared / "data" / "proofsteps" / LEANDOJO_FILE]).cassette
