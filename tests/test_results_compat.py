"""Files written before the proof engine existed stay readable: a sweep's results JSONL with its manifest
(schema version 1) and a `prove --report` JSON, both written by the code of that time on the demo cassette:

    prover sweep --backend replay --cassette examples/demo.cassette.jsonl --generator fixed --split all \
        --names mathd_algebra_182,mathd_algebra_455,mathd_algebra_141,mathd_algebra_101 --attempts 2 \
        --actors 1 --max-expansions 3 --output results.jsonl --no-progress
    prover prove examples/demo.lean --backend replay --cassette examples/demo.cassette.jsonl --generator fixed \
        --report prove-report.json

They live in tests/fixtures/schema1/ and are never regenerated: they are what users already have on disk.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmarks.results import read_results
from tests.cli_support import run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "schema1"
SWEEP_ARGS = [
    "sweep",
    "--backend",
    "replay",
    "--cassette",
    "examples/demo.cassette.jsonl",
    "--generator",
    "fixed",
    "--split",
    "all",
    "--names",
    "mathd_algebra_182,mathd_algebra_455,mathd_algebra_141,mathd_algebra_101",
    "--attempts",
    "2",
    "--actors",
    "1",
    "--max-expansions",
    "3",
    "--no-progress",
]


@pytest.fixture
def old_sweep(tmp_path: Path) -> Path:
    out = tmp_path / "old"
    out.mkdir()
    for name in ("results.jsonl", "results.jsonl.manifest.json", "results.jsonl.generator.json"):
        shutil.copy(FIXTURES / name, out / name)
    return out / "results.jsonl"


def test_old_results_load_with_their_statuses(old_sweep: Path) -> None:
    from prover.engine import Status

    loaded = read_results(old_sweep)
    assert len(loaded.records) == 8 and not loaded.bad_lines and not loaded.truncated_tail
    assert {r.schema_version for r in loaded.records} == {1}
    # The strings of schema 1 map onto the one status vocabulary.
    statuses = {r.problem: Status.from_legacy(r.status, proved=r.proved) for r in loaded.records}
    assert statuses["mathd_algebra_182"] is Status.PROVED and statuses["mathd_algebra_455"] is Status.PROVED
    assert statuses["mathd_algebra_141"] is Status.FAILED_START and statuses["mathd_algebra_101"] is Status.FAILED_START


def test_prover_report_reads_old_results(old_sweep: Path) -> None:
    result = run_cli(["report", str(old_sweep)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "pass rate: 2/4 (50.0%)"
    assert (old_sweep.parent / "report.html").is_file()


def test_resume_of_an_old_sweep_skips_every_finished_attempt(
    old_sweep: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every attempt is finished, so no actor starts: this checks the manifest's config hash and the keys.
    monkeypatch.chdir(repo_root)
    before = old_sweep.read_bytes()
    result = run_cli([*SWEEP_ARGS, "--output", str(old_sweep), "--resume", "--no-report"])
    assert result.exit_code == 0, result.output
    assert "(0 new, 8 already finished)" in " ".join(result.output.split())
    assert result.output.strip().splitlines()[-1] == "pass rate: 2/4 (50.0%)"
    assert old_sweep.read_bytes() == before
    # Settings added since that sweep (at their defaults) and the verifier's process policy (whose default
    # changed since) do not make it another configuration, now or on the next resume; a result setting does.
    again = run_cli([*SWEEP_ARGS, "--output", str(old_sweep), "--resume", "--no-report"])
    assert again.exit_code == 0, again.output
    other = run_cli([*SWEEP_ARGS, "--output", str(old_sweep), "--resume", "--num-tactics", "3"])
    said = " ".join(other.output.split())
    assert other.exit_code == 2 and "search.num_tactics" in said and "resume with the same settings" in said


def test_report_compare_reads_old_results(old_sweep: Path, tmp_path: Path) -> None:
    other = tmp_path / "b.jsonl"
    rows = [json.loads(line) for line in old_sweep.read_text(encoding="utf-8").splitlines()]
    for row in rows:  # the second sweep also solved mathd_algebra_141 on its first attempt
        if row["problem"] == "mathd_algebra_141" and row["attempt"] == 0:
            row.update(status="proved", proved=True, verdict="verified", proof="nlinarith", error=None)
    other.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = run_cli(["report", "--compare", str(old_sweep), str(other)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "common problems: 4" in text
    assert "only B solved: mathd_algebra_141" in text


def test_an_old_prove_report_is_read_and_may_be_replaced(tmp_path: Path, repo_root: Path) -> None:
    from prover.engine import Status

    report = tmp_path / "r.json"
    shutil.copy(FIXTURES / "prove-report.json", report)
    data = json.loads(report.read_text(encoding="utf-8"))
    assert [Status.from_legacy(t["status"]).value for t in data["theorems"]] == [
        "proved",
        "proved",
        "proved",
        "proved",
        "exhausted",
    ]
    demo = repo_root / "examples"
    args = ["prove", str(demo / "demo.lean"), "--backend", "replay", "--cassette", str(demo / "demo.cassette.jsonl")]
    result = run_cli([*args, "--generator", "fixed", "--report", str(report)])
    assert result.exit_code == 1, result.output  # 4/5 proved, as before
    new = json.loads(report.read_text(encoding="utf-8"))
    assert new["proved"] == 4 and new["total"] == 5
