"""The shipped demo end to end: parse examples/demo.lean, search over its cassette, verify by replay."""

from __future__ import annotations

from pathlib import Path

from lean_env.cassette import Cassette
from lean_env.parse import parse_lean_file
from lean_env.replay import ReplayEnv, ReplayVerifier
from lean_env.verdict import Verified
from prover.generators.fixed import FixedTacticGenerator
from search import BestFirstSearch
from search.types import Budget, SearchConfig


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
