"""Error messages that name the real problem, each checked on the input that once got a misleading one."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.minif2f import BenchmarkError, load_problems
from tests.cli_support import run_cli

ROOT = Path(__file__).resolve().parents[1]


def _error_line(result: object) -> str:
    stderr = getattr(result, "stderr", "")
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert getattr(result, "exit_code", None) == 2 and len(lines) == 1 and lines[0].startswith("error:"), stderr
    return lines[0]


def test_a_problem_of_the_other_split_is_named_with_its_split(shared: Path) -> None:
    minif2f = shared / "data" / "minif2f" / "minif2f.jsonl"
    with pytest.raises(BenchmarkError, match=r"'mathd_algebra_182' is in split valid, not test.*--split valid"):
        load_problems(minif2f, split="test", names=["mathd_algebra_182"])
    with pytest.raises(BenchmarkError, match="unknown problem 'no_such_problem'"):
        load_problems(minif2f, split="test", names=["no_such_problem"])


def test_a_folder_is_not_a_benchmark_or_results_file(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkError, match="is a folder, not a benchmark file"):
        load_problems(tmp_path)
    (tmp_path / "run.jsonl").write_text("", encoding="utf-8")
    line = _error_line(run_cli(["report", str(tmp_path)]))
    assert "is a folder, not a results file" in line and "run.jsonl" in line


def test_a_non_utf8_benchmark_names_file_and_line(tmp_path: Path) -> None:
    bench = tmp_path / "bench.jsonl"
    bench.write_bytes(b'{"name": "a", "formal_statement": "theorem a : True"}\n{"name": "b\xe9"}\n')
    with pytest.raises(BenchmarkError, match=rf"{bench}:2: not valid UTF-8 \(byte 0xe9\)"):
        load_problems(bench)


def test_invalid_utf8_on_suggest_stdin_is_refused_like_a_file() -> None:
    line = _error_line(run_cli(["suggest", "-", "-g", "fixed", "--no-check"], input=b"\xff\xfe \xe2\x8a\xa2 True"))
    assert "stdin: not UTF-8" in line


def test_suggest_check_on_a_bare_goal_without_a_goal_entering_backend_fails() -> None:
    """docs/suggest_serve.md: an explicit --check that cannot run fails (it printed unchecked suggestions, exit 0)."""
    line = _error_line(run_cli(["suggest", "⊢ True", "-g", "fixed", "--check", "--backend", "repl"]))
    assert "--check" in line and "FILE --theorem NAME" in line


def test_a_file_none_of_whose_theorems_is_recorded_gets_one_line(tmp_path: Path) -> None:
    lean = tmp_path / "None.lean"
    lean.write_text(
        "import Mathlib\n\n" + "".join(f"theorem a{i} : {i} + {i} = {2 * i} := by\n  sorry\n\n" for i in range(1, 4)),
        encoding="utf-8",
    )
    cassette = ROOT / "examples" / "demo.cassette.jsonl"
    args = ["prove", str(lean), "--backend", "replay", "--cassette", str(cassette), "--generator", "fixed"]
    line = _error_line(run_cli(args))
    assert "none of the 3 theorems to prove" in line and "(a1, a2, a3)" in line and "replay cassette" in line


def test_a_replay_refusal_for_a_statement_that_differs_only_in_parentheses_names_the_statement_version(
    shared: Path,
) -> None:
    """miniF2F's primary statement of mathd_algebra_141 differs from the DeepSeek one the demo cassette records
    only in parentheses: the refusal stands (Lean reads them) and says which statement version to pass."""
    from lean_env.backends.replay import same_theorem
    from lean_env.cassette.store import Cassette

    cassette = Cassette.load(ROOT / "examples" / "demo.cassette.jsonl")
    [problem] = load_problems(shared / "data" / "minif2f" / "minif2f.jsonl", names=["mathd_algebra_141"])
    record = cassette.find_theorem(problem.theorem)
    assert record is not None
    why = same_theorem(record, problem.theorem)
    assert why is not None and "has another statement" in why and "--statement deepseek" in why
    [deepseek] = load_problems(
        shared / "data" / "minif2f" / "minif2f.jsonl", statement="deepseek", names=["mathd_algebra_141"]
    )
    assert same_theorem(record, deepseek.theorem) is None
