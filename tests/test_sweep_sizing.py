"""The sweep's sizing rule (benchmarks.sizing) and the measurements it is fed from."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from benchmarks.sweep.actors import GeneratorServer
from lean_env.types import ProofFinished, ProofState, TacticResult, Theorem
from search.types import Candidate, GenRequest, SearchConfig


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


class BusyChildEnv:
    """An Env whose 'Lean' is a child process burning CPU for about 0.3 s per tactic, as a REPL does."""

    def __init__(self) -> None:
        import subprocess
        import sys

        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys\nfor line in sys.stdin:\n x=0\n for i in range(3_000_000): x+=i\n print(x, flush=True)",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def start(self, theorem: Theorem) -> ProofState:
        return ProofState.from_pp("⊢ True")

    def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> TacticResult:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(tactic + "\n")
        self.proc.stdin.flush()
        self.proc.stdout.readline()
        return ProofFinished()

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def test_prover_worker_reports_the_cpu_of_its_lean_processes() -> None:
    from benchmarks.sweep.actors import ProverWorker
    from benchmarks.sweep.attempt import AttemptJob
    from benchmarks.sweep.simulated import SimulatedVerifier, simulated_problems

    worker = ProverWorker("unused", SearchConfig(num_tactics=1), BusyChildEnv, lambda: SimulatedVerifier(depth=1))
    worker.generator = lambda requests, k: [[Candidate("step", -1.0)] for _ in requests]  # type: ignore[assignment,misc]
    try:
        t0 = time.process_time()
        outcome = worker.run(AttemptJob(simulated_problems(1)[0], 0, "f2f", "search"))
        own = time.process_time() - t0
    finally:
        worker.close()
    assert outcome.status == "proved"
    # The child's work (well above this process's own) is counted.
    assert outcome.stats["cpu_s"] >= own + 0.1
