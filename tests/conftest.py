"""Test-wide fixtures. Real Lean output comes from ../shared; live-Lean tests are marked `lean`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from prover.paths import REPO_ROOT, shared_dir

SHARED = shared_dir()


def live_lean_project() -> Path | None:
    """A configured Lean project with `lake` on PATH, or None (live tests then skip)."""
    project = os.environ.get("PROVER_LEAN_PROJECT")
    if not project or shutil.which("lake") is None:
        return None
    path = Path(project).expanduser()
    return path if (path / "lakefile.lean").exists() or (path / "lakefile.toml").exists() else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if live_lean_project() is not None:
        return
    skip = pytest.mark.skip(reason="no Lean configured (set PROVER_LEAN_PROJECT and put lake on PATH)")
    for item in items:
        if "lean" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"the shared data folder is missing: {SHARED} (set PROVER_SHARED_DIR)")
    return SHARED


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT
