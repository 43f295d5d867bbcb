"""The shipped demo end to end: parse examples/demo.lean, search over its cassette, verify by replay."""

from __future__ import annotations

from pathlib import Path

import pytest
from timeouts import SUBPROCESS_TIMEOUT_S as TIMEOUT_S

from lean_env.backends.replay import ReplayEnv, ReplayVerifier
from lean_env.cassette.store import Cassette
from lean_env.checks.verdict import Verified
from lean_env.source.declarations import parse_lean_file
from prover.generators.fixed import FixedTacticGenerator
from search import BestFirstSearch
from search.types import Budget, SearchConfig
from tests.cli_support import run_cli


def test_demo_proves_exactly_the_recorded_theorems(repo_root: Path) -> None:
    lean_file = parse_lean_file(repo_root / "examples" / "demo.lean")
    cassette = Cassette.load(repo_root / "examples" / "demo.cassette.jsonl")
    assert {d.name for d in lean_file.theorems} == set(cassette.theorems)
    assert all(d.has_sorry for d in lean_file.theorems)

    env, verifier = ReplayEnv(cassette), ReplayVerifier(cassette)
    config = SearchConfig(num_tactics=32, budget=Budget(time_s=30, max_expansions=20))
    proved: dict[str, str] = {}
    for decl in lean_file.theorems:
        theorem = decl.to_theorem()
        result = BestFirstSearch(env, FixedTacticGenerator(), config).search(theorem)
        if result.proof is not None and isinstance(verifier.verify(theorem, result.proof), Verified):
            proved[theorem.name] = result.proof
    expected = {t.name: t.recorded_proof for t in cassette.theorems.values() if t.recorded_proof}
    assert proved == expected
    assert len(proved) == len(cassette.theorems) - 1  # one theorem has no recorded proof and stays unproved


def test_skeleton_demo_is_rebuilt_by_its_documented_command(repo_root: Path, shared: Path, tmp_path: Path) -> None:
    """examples/skeleton.cassette.jsonl is exactly what `prover cassette build … --theorems …` makes."""

    out = tmp_path / "skeleton.cassette.jsonl"
    rows = shared / "data" / "proofsteps" / "leandojo_benchmark4_random_test_sample100.jsonl"
    args = ["cassette", "build", str(out), str(rows), "--theorems", "CancelDenoms.cancel_factors_le"]
    args += ["--statements", str(repo_root / "examples" / "skeleton.lean")]
    result = run_cli(args)
    assert result.exit_code == 0, result.output
    shipped = repo_root / "examples" / "skeleton.cassette.jsonl"
    assert out.read_text(encoding="utf-8") == shipped.read_text(encoding="utf-8")


def test_skeleton_demo_holes_fill_from_their_recorded_goals(repo_root: Path) -> None:
    from lean_env.backends.replay import ReplayEnv
    from prover.config import load_config
    from prover.engine import Engine, SearchStrategy
    from prover.prove import plan_targets

    lean_file = parse_lean_file(repo_root / "examples" / "skeleton.lean")
    cassette = Cassette.load(repo_root / "examples" / "skeleton.cassette.jsonl")
    cfg = load_config(repo_root / "examples" / "skeleton.toml")
    (plan,), targets = plan_targets(lean_file, lean_file.theorems)
    env, verifier = ReplayEnv(cassette), ReplayVerifier(cassette)
    generator = FixedTacticGenerator(cfg.generator.fixed_tactics)
    scripts = {}
    engine = Engine(SearchStrategy(generator, cfg.search.to_search_config()), env, verifier)
    for target in targets:
        job = engine.prove(target)
        assert job.status == "found" and job.proof is not None
        assert target.hole is not None
        scripts[target.hole.index] = job.proof
    assert scripts == {0: "exact mul_pos had hbd", 1: "exact one_div_pos.2 hgcd"}
    assert isinstance(verifier.verify_holes(plan.theorem, plan.skeleton, scripts), Verified)
    # A hole left unfilled, or filled with the other hole's script, is not a proof.
    assert not isinstance(verifier.verify_holes(plan.theorem, plan.skeleton, {0: scripts[0]}), Verified)
    assert not isinstance(verifier.verify_holes(plan.theorem, plan.skeleton, {0: scripts[1], 1: scripts[0]}), Verified)


SKELETON_PROOF = """  rw [mul_le_mul_left, ← ha, ← hb, ← mul_assoc, ← mul_assoc, mul_comm bd, mul_le_mul_left]
  · sorry
  · sorry
"""


@pytest.mark.parametrize(
    "edit",
    [
        # Another statement under the traced name: the recorded goals are not its goals.
        lambda text: "import Mathlib\nnamespace CancelDenoms\ntheorem cancel_factors_le : False := by\n"
        + SKELETON_PROOF
        + "end CancelDenoms\n",
        # The same statement text under a header that changes what it means.
        lambda text: text.replace("namespace CancelDenoms\n", "set_option autoImplicit true\nnamespace CancelDenoms\n"),
        lambda text: text.replace("(a ≤ b) = (1 / gcd", "(a < b) = (1 / gcd"),
    ],
    ids=["false-statement", "header-option", "edited-statement"],
)
def test_the_skeleton_recording_never_proves_another_theorem(repo_root: Path, tmp_path: Path, edit) -> None:
    """A trace vouches for the declaration it was recorded from, not for whatever a file states under its name."""
    import shutil
    import subprocess
    import sys

    for name in ("skeleton.toml", "skeleton.cassette.jsonl"):
        shutil.copy(repo_root / "examples" / name, tmp_path / name)
    target = tmp_path / "s.lean"
    target.write_text(edit((repo_root / "examples" / "skeleton.lean").read_text(encoding="utf-8")), encoding="utf-8")
    before = target.read_bytes()
    done = subprocess.run(
        [sys.executable, "-m", "prover.cli", "prove", str(target), "--config", str(tmp_path / "skeleton.toml"), "-w"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "s.lean: 0/2 proved" in " ".join(done.stdout.split()) and "│ proved" not in done.stdout
    assert target.read_bytes() == before
