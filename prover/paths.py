"""Where the project's data lives: the repository's sibling `shared/` folder, unless overridden."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """`$PROVER_SHARED_DIR`, else `../shared` next to the repository."""
    override = os.environ.get("PROVER_SHARED_DIR")
    return Path(override) if override else REPO_ROOT.parent / "shared"


def minif2f_path() -> Path:
    return shared_dir() / "data" / "minif2f" / "minif2f.jsonl"


def proofsteps_dir() -> Path:
    return shared_dir() / "data" / "proofsteps"
