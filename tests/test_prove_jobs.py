"""The job layer of `prover prove`: one job function, a local pool with a batched generator, `--jobs`,
prerequisites checked before any model is loaded."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from prover.jobs import BatchingGenerator, default_pool_size
from search.types import Candidate, GenRequest
from tests.cli_support import DEMO_CASSETTE as CASSETTE
from tests.cli_support import EXAMPLES, run_cli


class SlowEcho:
    """Deterministic per request; sleeps per call so concurrent callers pile up behind it."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        self.batches.append(len(requests))
        time.sleep(0.05)
        return [[Candidate(f"{r.state}:{i}", -float(i)) for i in range(k)] for r in requests]


def test_batching_generator_answers_each_caller_its_own_requests() -> None:
    inner = SlowEcho()
    answers: dict[int, list[list[Candidate]]] = {}
    with BatchingGenerator(inner) as gen:

        def ask(i: int) -> None:
            answers[i] = gen([GenRequest(state=f"s{i}"), GenRequest(state=f"t{i}")], 2)

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for i in range(8):
        assert [[c.tactic for c in cands] for cands in answers[i]] == [[f"s{i}:0", f"s{i}:1"], [f"t{i}:0", f"t{i}:1"]]
    assert sum(inner.batches) == 16 and len(inner.batches) < 8  # callers that waited were served together
    assert gen.batch_sizes == inner.batches


def test_batching_generator_closes_as_a_closing_context() -> None:
    """`with` comes from `lean_env.types.ClosingContext`, as for backends and verifiers: the worker stops on exit."""
    from lean_env.types import ClosingContext

    with BatchingGenerator(SlowEcho()) as gen:
        assert gen._worker.is_alive()
    assert isinstance(gen, ClosingContext) and not gen._worker.is_alive()


def test_batching_generator_passes_the_models_failure_to_every_caller() -> None:
    def broken(requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        raise RuntimeError("CUDA out of memory")

    with BatchingGenerator(broken) as gen, pytest.raises(RuntimeError, match="out of memory"):
        gen([GenRequest(state="s")], 1)


def test_default_pool_size_counts_memory_and_cores() -> None:
    # 16 GB per Mathlib REPL process: a 24 GB machine runs one, a 64 GB one three, whatever the cores.
    assert default_pool_size(16384, cpus=8, available_mb=24_000) == 1
    assert default_pool_size(16384, cpus=8, available_mb=64_000) == 3
    assert default_pool_size(4096, cpus=2, available_mb=64_000) == 2
    assert default_pool_size(16384, cpus=8, available_mb=1_000) == 1
    assert default_pool_size(None, cpus=4, available_mb=None) == 4


def _prove_report(tmp_path: Path, jobs: int) -> dict[str, object]:
    target = tmp_path / f"demo{jobs}.lean"
    shutil.copy(EXAMPLES / "demo.lean", target)
    report = tmp_path / f"r{jobs}.json"
    args = ["prove", str(target), "--backend", "replay", "--cassette", str(CASSETTE), "--generator", "fixed"]
    args += ["--max-expansions", "20", "--time-limit", "600", "--jobs", str(jobs), "--report", str(report)]
    result = run_cli(args)
    assert result.exit_code == 1, result.output  # one demo theorem has no recorded proof
    return json.loads(report.read_text(encoding="utf-8"))


def test_jobs_give_the_same_results_as_a_sequential_run(tmp_path: Path) -> None:
    def summary(report: dict[str, object]) -> list[tuple[object, ...]]:
        rows = report["theorems"]
        assert isinstance(rows, list)
        return [(t["name"], t["status"], t["proof"], t["stats"]["expansions"]) for t in rows]

    sequential, parallel = _prove_report(tmp_path, 1), _prove_report(tmp_path, 4)
    assert summary(sequential) == summary(parallel)
    assert sum(t[1] == "proved" for t in summary(parallel)) == 4


def test_lean_prerequisites_fail_before_the_model_is_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import prover.generators

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded before the Lean set-up was checked")

    monkeypatch.setattr(prover.generators, "make_generator", no_model)
    lean = tmp_path / "t.lean"
    lean.write_text("theorem t : True := by\n  sorry\n", encoding="utf-8")
    args = ["prove", str(lean), "--lean-project", str(tmp_path / "nowhere"), "--generator", "hf", "--model", "x/y"]
    result = run_cli(args)
    assert result.exit_code == 2, result.output
    assert "lake" in result.output or "nowhere" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_unreachable_hub_fails_once_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prover.offline import model_unreachable

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens
    for proxy in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    start = time.monotonic()
    problem = model_unreachable("hf", "EleutherAI/llemma_7b")
    assert problem is not None and "in the local Hugging Face cache" in problem and "unreachable" in problem
    assert time.monotonic() - start < 5
    assert model_unreachable("fixed", "EleutherAI/llemma_7b") is None
    assert model_unreachable("hf", str(tmp_path)) is None  # a local checkpoint needs no hub


def test_bench_prove_file_runs_the_pool_at_small_scale() -> None:
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_prove_file.py"
    spec = importlib.util.spec_from_file_location("bench_prove_file", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    text, targets = bench.skeleton_file(8)
    assert len(targets) == 8 and text.count("sorry") == 8
    seq_s, seq = bench.run_once(targets, 1, 3, scale=0.1)
    par_s, par = bench.run_once(targets, 4, 3, scale=0.1)
    assert bench.outcome(seq) == bench.outcome(par)
    assert par_s < seq_s


def test_library_code_keeps_the_one_way_dependencies() -> None:
    """README's architecture table: only the CLI layer (prover/commands) imports train/ and benchmarks/;
    lean_env imports none of search/prover, search none of prover; neither imports torch, transformers or Ray."""
    import ast

    root = Path(__file__).resolve().parents[1]
    forbidden = {
        "lean_env": ("search", "prover", "train", "benchmarks", "torch", "transformers", "ray"),
        "search": ("prover", "train", "benchmarks", "torch", "transformers", "ray"),
        "prover": ("train", "benchmarks"),
    }
    problems = []
    for package, banned in forbidden.items():
        for path in sorted((root / package).rglob("*.py")):
            if package == "prover" and "commands" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                    if isinstance(node, ast.ImportFrom) and node.level == 0
                    else []
                )
                problems += [f"{path.relative_to(root)}: {n}" for n in names if n.split(".")[0] in banned]
    assert problems == []


def test_jobs_sets_the_lean_pool_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import prover.backends
    import prover.jobs

    seen: list[tuple[str, int]] = []

    def capture(cfg: object) -> None:
        seen.append((cfg.backend, cfg.pool_size))  # type: ignore[attr-defined]
        raise ValueError("stop here")

    monkeypatch.setattr(prover.backends, "make_env", capture)
    monkeypatch.setattr(prover.jobs, "default_pool_size", lambda memory_mb: 5)
    lean = tmp_path / "t.lean"
    lean.write_text("theorem t : True := by\n  sorry\n", encoding="utf-8")
    for extra in (["--jobs", "3"], []):
        for backend in ("repl", "replay"):
            args = ["prove", str(lean), "--backend", backend, "--cassette", str(CASSETTE), "--generator", "fixed"]
            assert run_cli(args + extra).exit_code == 2
    # --jobs wins; otherwise the REPL gets the memory-aware default, replay one process.
    assert seen == [("repl", 3), ("replay", 3), ("repl", 5), ("replay", 1)]
