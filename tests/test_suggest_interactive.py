"""`prover suggest -i`: the interactive session driven through a real pseudo-terminal (pexpect).

The backend is the replay of LeanDojo's real recording of `add_abs_nonneg`; the final proof is
checked by the replay verifier before anything is written.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest
from suggest_fixtures import ADD_ABS_FILE, APPLY, EXACT, RW, write_add_abs_project, write_fixed_config
from timeouts import SUBPROCESS_TIMEOUT_S

PROMPT = "tactic> "


@pytest.fixture
def project(tmp_path: Path, shared: Path) -> tuple[Path, Path, Path]:
    lean, cassette = write_add_abs_project(tmp_path, shared)
    # The model's favourite tactic is wrong here: the user has to pick, type, undo.
    config = write_fixed_config(
        tmp_path / "fixed.toml", {"simp": -0.1, RW: -0.4, APPLY: -0.6, EXACT: -0.8}, max_expansions=20
    )
    return lean, cassette, config


def spawn(repo_root: Path, lean: Path, cassette: Path, config: Path, *extra: str) -> pexpect.spawn:
    env = dict(
        os.environ,
        NO_COLOR="1",
        COLUMNS="200",
        PYTHONPATH=os.pathsep.join([str(repo_root), os.environ.get("PYTHONPATH", "")]),
    )
    args = ["-m", "prover.cli", "suggest", "-i", str(lean), "--theorem", "add_abs_nonneg"]
    args += ["-c", str(config), "--backend", "replay", "--cassette", str(cassette), *extra]
    child = pexpect.spawn(
        sys.executable,
        args,
        cwd=str(repo_root),
        env=env,
        encoding="utf-8",
        timeout=SUBPROCESS_TIMEOUT_S,
        dimensions=(60, 200),
    )
    return child


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus is not None
    return int(child.exitstatus)


def test_pick_type_undo_finish_and_write(repo_root: Path, project: tuple[Path, Path, Path]) -> None:
    lean, cassette, config = project
    child = spawn(repo_root, lean, cassette, config, "--write")
    # The current goal and the numbered, checked suggestions.
    child.expect("goal 1/1")
    child.expect("⊢ 0 ≤ a \\+ abs a")
    child.expect("1 goal\\(s\\) left")
    child.expect(PROMPT)
    child.sendline("1")  # suggestion 1 is the only tactic that works here: the rewrite
    child.expect(f"applied: {RW}".replace("[", "\\[").replace("]", "\\]").replace("+", "\\+"))
    child.expect("⊢ a \\+ -a ≤ a \\+ abs a")
    child.expect(PROMPT)
    child.sendline("u")
    child.expect("undid: rw")
    child.expect("⊢ 0 ≤ a \\+ abs a")
    child.expect(PROMPT)
    child.sendline(RW)  # typed by hand this time
    child.expect("applied: rw")
    child.expect(PROMPT)
    child.sendline("linarith")  # not recorded: Lean's (replayed) answer is an error and nothing changes
    child.expect("not applied: error: unrecorded")
    child.expect(PROMPT)
    child.sendline("1")
    child.expect("case bc")
    child.expect(PROMPT)
    child.sendline("1")
    child.expect("all goals closed")
    child.expect("verified \\(replay\\)")
    child.expect("wrote the proof of add_abs_nonneg")
    assert finish(child) == 0
    written = lean.read_text(encoding="utf-8")
    assert f"    0 ≤ a + |a| := by\n  {RW}\n  {APPLY}\n  {EXACT}\n\ntheorem other_theorem" in written
    assert "sorry" not in written


def test_search_finishes_and_confirmation_prompt_writes(repo_root: Path, project: tuple[Path, Path, Path]) -> None:
    lean, cassette, config = project
    child = spawn(repo_root, lean, cassette, config)
    child.expect(PROMPT)
    child.sendline("2")  # checked and sorted, the rewrite is 1; 2 is `simp`, which fails: nothing changes
    child.expect("not applied")
    child.sendline("s")
    child.expect("search found")
    child.expect("all goals closed")
    child.expect("write this proof into .*\\[y/N\\]")
    child.sendline("y")
    child.expect("wrote the proof")
    assert finish(child) == 0
    assert f"{RW}\n  {APPLY}\n  {EXACT}\n" in lean.read_text(encoding="utf-8")


def test_quit_prints_partial_proof_and_writes_nothing(repo_root: Path, project: tuple[Path, Path, Path]) -> None:
    lean, cassette, config = project
    child = spawn(repo_root, lean, cassette, config, "--write")
    child.expect(PROMPT)
    child.sendline("1")
    child.expect(PROMPT)
    child.sendline("q")
    child.expect("proof so far \\(incomplete, not written\\)")
    child.expect("rw")
    assert finish(child) == 1
    assert lean.read_text(encoding="utf-8") == ADD_ABS_FILE
