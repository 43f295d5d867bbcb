"""What `prove` prints in a terminal: the dry-run diff is wrapped at the terminal's width, never cropped."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from prover.commands import prove as prove_command
from prover.prove import FileReport

LONG = "  nlinarith [sq_nonneg (a - b), sq_nonneg (a + b), sq_nonneg (a * b - 1), mul_pos ha hb, mul_pos hb hc]"


def test_the_dry_run_diff_is_wrapped_not_cropped(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(prove_command, "console", Console(file=out, force_terminal=True, width=60))
    diff = f"--- a/f.lean\n+++ b/f.lean\n@@ -1,2 +1,2 @@\n theorem t : P := by\n-  sorry\n+{LONG}\n"
    prove_command._print_summary(FileReport("f.lean", "replay", "fixed", None), diff, write=False)
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())
    assert "…" not in text
    flat = "".join(line.strip() for line in text.splitlines())
    assert "".join(LONG.split()) in "".join(flat.split())
    assert max(len(line) for line in text.splitlines()) <= 60
