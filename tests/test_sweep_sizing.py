"""The sweep's sizing rule (benchmarks.sizing) and the measurements it is fed from."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from benchmarks.sweep.actors import GeneratorServer
from search.types import Candidate, GenRequest


class LinearLatency:
    """A model call on n states takes 0.01 + 0.002 n seconds."""

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        time.sleep(0.01 + 0.002 * len(requests))
        return [[Candidate("simp", -1.0)] for _ in requests]


def test_generator_server_records_the_time_of_each_model_call() -> None:
    server = GeneratorServer(LinearLatency, None, max_batch=8, max_wait_ms=5)

    async def many() -> None:
        await asyncio.gather(*(server.generate([GenRequest(state=str(i))], 4) for i in range(20)))

    t0 = time.time()
    asyncio.run(many())
    calls = server.call_stats()
    assert [n for _, _, n in calls] == server.batch_sizes() and sum(n for _, _, n in calls) == 20
    for started, seconds, n in calls:
        assert t0 <= started <= time.time()
        assert 0.01 + 0.002 * n <= seconds < 0.01 + 0.002 * n + 0.05
    server.reset_stats()
    assert server.call_stats() == []
