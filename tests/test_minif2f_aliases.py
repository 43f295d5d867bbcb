"""miniF2F names differ between versions (LeanDojo's copy spells
`numbertheory_notequiv2i2jasqbsqdiv8` what ours spells `numbertheory_notEquiv2i2jasqbsqdiv8`; the shared rows
carry `aliases`). `--names` and the replay backend's theorem lookup accept either."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.minif2f import BenchmarkError, load_problems
from lean_env.backends.replay import ReplayEnv
from lean_env.cassette.format import TheoremLine
from lean_env.cassette.store import new_cassette
from lean_env.types import Theorem

OURS = "numbertheory_notEquiv2i2jasqbsqdiv8"
DOJO = "numbertheory_notequiv2i2jasqbsqdiv8"
STATE = "⊢ ¬∀ (a b : ℤ), (∃ i j, a = 2 * i ∧ b = 2 * j) ↔ ∃ k, a ^ 2 + b ^ 2 = 8 * k"


@pytest.fixture(scope="module")
def minif2f(shared: Path) -> Path:
    return shared / "data" / "minif2f" / "minif2f.jsonl"


def test_names_accepts_an_alias(minif2f: Path) -> None:
    [problem] = load_problems(minif2f, names=[DOJO])
    assert problem.name == OURS and DOJO in problem.aliases
    # The same problem asked for under both names is run once.
    assert [p.name for p in load_problems(minif2f, names=[OURS, DOJO])] == [OURS]
    with pytest.raises(BenchmarkError):
        load_problems(minif2f, names=["numbertheory_notequiv_nonexistent"])


def test_cassette_lookup_by_the_records_alias() -> None:
    cassette = new_cassette("test")
    cassette.add_theorem(TheoremLine(kind="theorem", name=OURS, initial_state=STATE, aliases=(DOJO,)))
    record = cassette.find_theorem(Theorem(name=DOJO, statement=""))
    assert record is not None and record.name == OURS
    state = ReplayEnv(cassette).start(Theorem(name=DOJO, statement=""))
    assert STATE.split("⊢")[1].strip() in state.pp


def test_cassette_lookup_by_the_theorems_alias(minif2f: Path) -> None:
    """A cassette recorded under LeanDojo's name answers for our miniF2F row (the theorem's `aliases`)."""
    cassette = new_cassette("test")
    cassette.add_theorem(TheoremLine(kind="theorem", name=DOJO, initial_state=STATE))
    [problem] = load_problems(minif2f, names=[OURS])
    assert problem.theorem.aliases == problem.aliases and DOJO in problem.theorem.aliases
    record = cassette.find_theorem(problem.theorem)
    assert record is not None and record.name == DOJO
    assert cassette.find_theorem(Theorem(name="other", statement="")) is None


def test_a_recorded_theorem_keeps_its_aliases() -> None:
    line = TheoremLine(kind="theorem", name=OURS, initial_state=STATE, aliases=(DOJO, "other_name"))
    assert line.to_theorem().aliases == (DOJO, "other_name")
    assert TheoremLine(kind="theorem", name=OURS).to_theorem().aliases == ()
