"""A sweep's results file has one writer at a time, and every problem ever planned for it stays in its denominator."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from benchmarks.results import ResultsLockedError, ResultsStore, lock_path, read_manifest
from benchmarks.sweep import load_sweep_config
from benchmarks.sweep.driver import _open_store, select_problems


def sweep_config(tmp_path: Path, names: Sequence[str] | None, **sweep: Any) -> Any:
    section: dict[str, Any] = {"split": "valid", "output": str(tmp_path / "results.jsonl"), "prover_actors": 1}
    if names is not None:
        section["names"] = list(names)
    section.update(sweep)
    return load_sweep_config(overrides={"sweep": section, "generator": {"kind": "fixed"}})


def test_a_second_sweep_on_the_same_output_is_refused_in_one_line(tmp_path: Path) -> None:
    """Two sweeps on one --output at once both appended (every line twice)."""
    cfg = sweep_config(tmp_path, None, limit=3)
    problems = select_problems(cfg)
    first, _, _ = _open_store(cfg, cfg.config_hash(), problems)
    try:
        with pytest.raises(ResultsLockedError) as refused:
            _open_store(sweep_config(tmp_path, None, limit=3, resume=True), cfg.config_hash(), problems)
        message = str(refused.value)
        assert "\n" not in message and "another sweep" in message and "this machine" in message
        assert "choose another --output" in message
    finally:
        first.close()
    assert not lock_path(first.path).exists()  # released: the next sweep may continue the file
    again, _, _ = _open_store(sweep_config(tmp_path, None, limit=3, resume=True), cfg.config_hash(), problems)
    again.close()


def test_a_stale_lock_is_named_with_the_command_that_clears_it(tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    lock = lock_path(results)
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": pid, "started": "2026-01-01T00:00:00"}))
    with pytest.raises(ResultsLockedError, match=rf"stale lock from pid {pid}.*run `rm {lock}`"):
        ResultsStore(results).open_for_append()
    lock.write_text(json.dumps({"host": "node-7.cluster", "pid": 4242, "started": "2026-01-01T00:00:00"}))
    with pytest.raises(ResultsLockedError, match=rf"pid 4242 on host node-7.cluster.*`rm {lock}`"):
        ResultsStore(results).open_for_append()
    lock.unlink()
    with ResultsStore(results) as store:
        store.open_for_append()
        holder = json.loads(lock.read_text(encoding="utf-8"))
        assert holder["host"] == socket.gethostname() and isinstance(holder["pid"], int)
    assert not lock.exists()


def test_a_subset_resume_keeps_every_planned_problem(tmp_path: Path) -> None:
    """`sweep --resume --names <subset>` rewrote the planned list to the subset (`4/203` instead of `4/488`)."""
    cfg = sweep_config(tmp_path, None, limit=6)
    planned = [p.name for p in select_problems(cfg)]
    store, _, _ = _open_store(cfg, cfg.config_hash(), select_problems(cfg))
    store.close()
    subset = sweep_config(tmp_path, planned[4:] + ["mathd_algebra_101"], resume=True)
    store, _, _ = _open_store(subset, cfg.config_hash(), select_problems(subset))
    store.close()
    manifest = read_manifest(tmp_path / "results.jsonl")
    assert manifest is not None
    assert manifest["problems"][:6] == planned
    assert set(manifest["problems"]) == {*planned, "mathd_algebra_101"}
