"""`prove --keep-partial`: a skeleton with only some holes filled is written when it compiles with just the others
left (replay: each filled hole replays to the end from its recorded goal), reported `partial`, exit 1, never
proved; the file never gets more `sorry`s. The skeleton demo (examples/skeleton.*, LeanDojo's recording of
Mathlib's `cancel_factors_le` cut after its first step) with a tactic list that can fill only its first hole."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.cli_support import EXAMPLES, run_cli


def _setup(tmp_path: Path, tactics: str) -> tuple[Path, Path]:
    lean = tmp_path / "skeleton.lean"
    shutil.copy(EXAMPLES / "skeleton.lean", lean)
    config = tmp_path / "partial.toml"
    cassette = (EXAMPLES / "skeleton.cassette.jsonl").as_posix()
    config.write_text(
        f'[lean]\nbackend = "replay"\ncassette = "{cassette}"\n\n[generator]\nkind = "fixed"\n'
        f"fixed_tactics = {{ {tactics} }}\n\n[search]\nmax_expansions = 4\n",
        encoding="utf-8",
    )
    return lean, config


def test_a_partial_skeleton_is_written_with_fewer_sorries_and_reported_partial(tmp_path: Path) -> None:
    lean, config = _setup(tmp_path, '"norm_num" = -1.0, "exact mul_pos had hbd" = -2.0')
    before = lean.read_text(encoding="utf-8")
    report = tmp_path / "r.json"
    args = ["prove", str(lean), "--config", str(config), "--keep-partial", "--write", "--report", str(report)]
    result = run_cli(args)
    assert result.exit_code == 1, result.output
    after = lean.read_text(encoding="utf-8")
    assert after.count("sorry") == before.count("sorry") - 1 and "exact mul_pos had hbd" in after
    entries = {t["name"]: t for t in json.loads(report.read_text(encoding="utf-8"))["theorems"]}
    first, second = entries["CancelDenoms.cancel_factors_le#1"], entries["CancelDenoms.cancel_factors_le#2"]
    assert first["status"] == "partial" and "CancelDenoms.cancel_factors_le#2" in first["message"]
    assert second["status"] != "proved" and "left as `sorry`" in second["message"]


def test_without_the_flag_or_with_no_hole_filled_nothing_is_written(tmp_path: Path) -> None:
    lean, config = _setup(tmp_path, '"norm_num" = -1.0, "exact mul_pos had hbd" = -2.0')
    before = lean.read_text(encoding="utf-8")
    result = run_cli(["prove", str(lean), "--config", str(config), "--write"])
    assert result.exit_code == 1 and lean.read_text(encoding="utf-8") == before
    lean, config = _setup(tmp_path, '"norm_num" = -1.0')
    result = run_cli(["prove", str(lean), "--config", str(config), "--write", "--keep-partial"])
    assert result.exit_code == 1 and lean.read_text(encoding="utf-8") == before
