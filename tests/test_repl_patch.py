"""The REPL patch `prover setup` applies (lean_env/data/repl_patches/) against the REPL source of every tag it can pin.

tests/fixtures/repl_snapshots/ holds `REPL/Snapshots.lean` of each such tag (provenance and licence there). Every
hunk must land on every one of them, or set-up would build a REPL that still runs tactics at the default 200000
heartbeats whatever the header sets (leanprover-community/repl#69, leanprover/lean4#8646).
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from lean_env.project.repl_patch import (
    PatchError,
    apply_patches,
    apply_to_text,
    load_patches,
    parse_patch,
    patches_missing,
    revert_patches,
)
from lean_env.project.repl_versions import REPL_FORK_GIT, REPL_GIT, ReplTags

FIXTURES = Path(__file__).parent / "fixtures" / "repl_snapshots"
NEW_LINE = "let coreContext := { p.coreContext with maxHeartbeats := Lean.Core.getMaxHeartbeats p.coreContext.options }"


def tag_table() -> dict[tuple[str, str], Path]:
    rows = {}
    for line in (FIXTURES / "TAGS.tsv").read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        repo, tag, _commit, name = line.split("\t")
        rows[(repo, tag)] = FIXTURES / name
    return rows


def test_the_fixtures_cover_every_tag_the_planner_can_choose() -> None:
    from prover.paths import shared_dir

    tags = ReplTags.from_dir(shared_dir() / "lean_fixtures" / "repl_versions")
    wanted = {(REPL_FORK_GIT, t) for t in tags.fork_builds().values()} | {(REPL_GIT, t) for t in tags.upstream_builds()}
    table = tag_table()
    assert wanted <= set(table), sorted(wanted - set(table))[:5]
    for path in set(table.values()):  # each file is what its name says (content-addressed, unmodified)
        assert hashlib.sha256(path.read_bytes()).hexdigest().startswith(path.stem)


@pytest.mark.parametrize("fixture", sorted({p.name for p in tag_table().values()}))
def test_every_hunk_applies_to_every_pinnable_tag(fixture: str, tmp_path: Path) -> None:
    repl = tmp_path / "REPL-checkout"
    (repl / "REPL").mkdir(parents=True)
    original = (FIXTURES / fixture).read_text(encoding="utf-8")
    (repl / "REPL" / "Snapshots.lean").write_text(original, encoding="utf-8")
    assert patches_missing(repl) == ("snapshots-maxheartbeats",)
    assert apply_patches(repl) == ("snapshots-maxheartbeats",)
    patched = (repl / "REPL" / "Snapshots.lean").read_text(encoding="utf-8")
    assert patched.count(NEW_LINE) == 1
    assert "(Lean.Core.CoreM.toIO · coreContext p.coreState)" in patched
    assert "p.coreContext p.coreState" not in patched  # the old call is gone: every proof-state action uses it
    assert patches_missing(repl) == ()
    assert apply_patches(repl) == ()  # set-up run again: nothing to do, nothing doubled
    assert (repl / "REPL" / "Snapshots.lean").read_text(encoding="utf-8") == patched
    revert_patches(repl)  # before `lake update REPL` moves the checkout
    assert (repl / "REPL" / "Snapshots.lean").read_text(encoding="utf-8") == original


def test_a_hunk_that_misses_is_an_error_and_nothing_is_written(tmp_path: Path) -> None:
    repl = tmp_path / "REPL-checkout"
    (repl / "REPL").mkdir(parents=True)
    moved = "def runCoreM (p : ProofSnapshot) (t : CoreM α) : IO (α × ProofSnapshot) :=\n  p.coreContext.run t\n"
    (repl / "REPL" / "Snapshots.lean").write_text(moved, encoding="utf-8")
    with pytest.raises(PatchError, match=r"snapshots-maxheartbeats: hunk 1 .* does not match REPL/Snapshots.lean"):
        apply_patches(repl)
    assert (repl / "REPL" / "Snapshots.lean").read_text(encoding="utf-8") == moved
    with pytest.raises(PatchError, match="cannot read REPL/Snapshots.lean"):
        apply_patches(tmp_path / "empty")


def test_a_hunk_that_matches_twice_is_an_error() -> None:
    [patch] = load_patches()
    [file] = patch.files
    text = (FIXTURES / sorted(FIXTURES.glob("*.lean"))[0].name).read_text(encoding="utf-8")
    block = "\n".join(file.hunks[0].old)
    with pytest.raises(PatchError, match="matches more than once"):
        apply_to_text(text + "\n" + block + "\n", patch, file)


def test_the_patch_is_a_unified_diff_git_applies(tmp_path: Path) -> None:
    """The shipped file works by hand too (the README's instructions for a project `prover setup` did not make)."""
    [path] = sorted((Path(__file__).parents[1] / "lean_env" / "data" / "repl_patches").glob("*.patch"))
    repl = tmp_path / "repl"
    (repl / "REPL").mkdir(parents=True)
    newest = tag_table()[(REPL_GIT, "v4.33.0-rc2")]
    (repl / "REPL" / "Snapshots.lean").write_text(newest.read_text(encoding="utf-8"), encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(repl)], check=True)
    subprocess.run(["git", "-C", str(repl), "apply", str(path)], check=True)
    assert NEW_LINE in (repl / "REPL" / "Snapshots.lean").read_text(encoding="utf-8")
    assert parse_patch(path.read_text(encoding="utf-8"), path.stem).summary.startswith("Header options reach")
