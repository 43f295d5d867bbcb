"""Starting a search at one `sorry` of a proof skeleton, on every backend.

REPL answers are the real ones recorded in ../shared/lean_fixtures/repl (leanprover-community/repl's
own test suite): `calc` (two `by sorry` in one declaration, one `sorries` entry each, sorted by
position), `Mathlib/test/H20231115_2` (`all_goals sorry`: two entries at one position),
`have_by_sorry` (a skeleton with an error), `dup_sorries` (a term-position `sorry`).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from lean_env.backends.repl import ReplEnv, ReplPool, ReplSettings, hole_start_from_response
from lean_env.errors import TheoremStartError
from lean_env.types import Env, HoleTarget, Theorem
from tests.cli_support import run_cli

STANDIN = Path(__file__).parent / "standins" / "replay_repl.py"


def answers(shared: Path, name: str) -> list[dict[str, object]]:
    path = shared / "lean_fixtures" / "repl" / f"{name}.expected.out"
    text = path.read_text(encoding="utf-8")
    return [json.loads(b) for b in re.split(r"\n[ \t]*\n", text) if b.strip()]


def target(statement: str, skeleton: str, index: int = 0, header: str = "") -> HoleTarget:
    offsets = tuple(m.start() for m in re.finditer(r"\bsorry\b", skeleton))
    return HoleTarget(Theorem("t", statement, header=header), skeleton, offsets, index)


def test_hole_target_checks_its_offsets() -> None:
    with pytest.raises(ValueError, match="no `sorry` at offset"):
        HoleTarget(Theorem("t", "example : True"), "by trivial", (3,), 0)
    with pytest.raises(ValueError, match="out of range"):
        HoleTarget(Theorem("t", "example : True"), "by sorry", (3,), 1)


def test_each_hole_gets_its_own_recorded_proof_state(shared: Path) -> None:
    calc = answers(shared, "calc")[0]
    skeleton = "by calc\n  3 = 4 := by sorry\n  4 = 5 := by sorry"
    first = target("example : 3 = 5", skeleton, 0)
    assert first.command() == "example : 3 = 5 := by calc\n  3 = 4 := by sorry\n  4 = 5 := by sorry"
    assert hole_start_from_response(calc, first) == (0, "⊢ 3 = 4")
    assert hole_start_from_response(calc, target("example : 3 = 5", skeleton, 1)) == (1, "⊢ 4 = 5")


def test_a_sorry_that_stands_for_several_goals_is_refused(shared: Path) -> None:
    answer = answers(shared, "Mathlib/test/H20231115_2")[1]
    hole = target("example {x : Nat} : x + 1 > x", "by\n  induction' x with x hx\n  all_goals sorry")
    with pytest.raises(TheoremStartError, match="stands for 2 goals"):
        hole_start_from_response(answer, hole)


def test_a_skeleton_with_an_error_is_refused(shared: Path) -> None:
    answer = answers(shared, "have_by_sorry")[0]
    hole = target("theorem foo (x : Int) : x = x", "by\n  have h : x = 1 := by sorry")
    with pytest.raises(TheoremStartError, match="does not compile: line 1:33: unsolved goals"):
        hole_start_from_response(answer, hole)


def test_a_sorry_that_is_not_one_of_the_holes_is_refused(shared: Path) -> None:
    calc = answers(shared, "calc")[0]
    # Pretend the user's skeleton has only the first `sorry` as a hole: Lean still reports the second.
    skeleton = "by calc\n  3 = 4 := by sorry\n  4 = 5 := by sorry"
    only_first = HoleTarget(Theorem("t", "example : 3 = 5"), skeleton, (skeleton.index("sorry"),), 0)
    with pytest.raises(TheoremStartError, match="line 3, column 14 .* not one of its holes"):
        hole_start_from_response(calc, only_first)


def standin(shared: Path, name: str) -> ReplSettings:
    fixture = shared / "lean_fixtures" / "repl" / f"{name}.in"
    return ReplSettings(command=(sys.executable, str(STANDIN), str(fixture)))


def test_repl_env_starts_at_a_term_position_hole_through_the_process(shared: Path) -> None:
    # dup_sorries.in: {"cmd": "theorem thm1 : 1 = 1 := sorry"}: exactly what start_hole sends.
    with ReplEnv(standin(shared, "dup_sorries")) as env:
        assert isinstance(env, Env)
        state = env.start_hole(target("theorem thm1 : 1 = 1", "sorry"))
        assert state.pp == "⊢ 1 = 1" and isinstance(state.handle, int)


def test_repl_pool_starts_holes_on_a_member(shared: Path) -> None:
    # The header is elaborated first (import on its own), then the skeleton on env 0, as recorded.
    hole = target(
        "example {x : Nat} : x + 1 > x",
        "by\n  induction' x with x hx\n  all_goals sorry",
        header="import Mathlib.Tactic.Cases",
    )
    with ReplPool(standin(shared, "Mathlib/test/H20231115_2"), 1) as pool:
        assert isinstance(pool, Env)
        with pytest.raises(TheoremStartError, match="stands for 2 goals"):
            pool.start_hole(hole)


def test_sweep_help_shows_config_sections() -> None:

    result = run_cli(["sweep", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "[sweep], [lean], [search], [generator]" in result.output


# -- cassette hole records and the replay backend ------------------------------------------------------

LEANDOJO_ROWS = "data/proofsteps/leandojo_benchmark4_random_test_sample100.jsonl"


@pytest.fixture(scope="module")
def built(shared: Path):
    from lean_env.cassette.build import build_from_proofsteps

    return build_from_proofsteps([shared / LEANDOJO_ROWS], relative_to=shared)


def test_build_makes_skeletons_from_traces(built) -> None:
    from lean_env.cassette.keys import skeleton_key

    holes = built.cassette.holes
    # `ext` then `simp` in Mathlib: the skeleton keeps `ext` and leaves one hole where `simp` was.
    one = holes[("Set.image2_eq_seq", skeleton_key("by\n  ext\n  sorry"))]
    assert one.skeleton == "by\n  ext\n  sorry"
    assert one.goals[0].startswith("case h\n") and one.goals[0].endswith("⊢ x✝ ∈ image2 f s t ↔ x✝ ∈ seq (f '' s) t")
    # `rw [...]` then `constructor` leaves two goals: one `· sorry` each, goals in order.
    two = [h for (name, _), h in holes.items() if name == "nilpotent_iff_finite_descending_central_series"]
    bullets = [h for h in two if h.skeleton.count("· sorry") == 2]
    assert len(bullets) == 1 and len(bullets[0].goals) == 2
    assert skeleton_key("by\n      ext\n\n      sorry   ") == skeleton_key("by\n  ext\n  sorry") == "by\next\nsorry"
    assert "skeletons" in built.summary()


def test_cassette_round_trips_and_reads_v1(built, tmp_path: Path) -> None:
    from lean_env.cassette.format import CassetteError
    from lean_env.cassette.store import Cassette

    path = tmp_path / "c.jsonl"
    built.cassette.save(path)
    again = Cassette.load(path)
    assert again.header.version == 3 and again.holes == built.cassette.holes
    v1 = '{"kind":"header","format":"lean-prover-cassette","version":1}\n'
    assert Cassette.loads(v1).holes == {}
    with pytest.raises(CassetteError, match="unsupported cassette version 4 .*knows 1, 2, 3"):
        Cassette.loads(v1.replace(":1}", ":4}"))


def test_replay_starts_at_a_recorded_hole_and_checks_the_fill(built) -> None:
    from lean_env.backends.replay import ReplayEnv, ReplayVerifier
    from lean_env.cassette.build import state_traced_theorems
    from lean_env.checks.verdict import Rejected, Verified
    from lean_env.types import ProofFinished

    theorem = Theorem("Set.image2_eq_seq", "theorem Set.image2_eq_seq (f : α → β → γ) (s : Set α) (t : Set β) : X")
    skeleton = "by\n    ext\n    sorry"  # indented differently from the record: same skeleton
    hole = HoleTarget(theorem, skeleton, (skeleton.index("sorry"),), 0)
    # The trace records no statement: it vouches for no theorem of a file until one states it.
    with pytest.raises(TheoremStartError, match="no statement"):
        ReplayEnv(built.cassette).start_hole(hole)
    assert not isinstance(ReplayVerifier(built.cassette).verify_holes(theorem, skeleton, {0: "simp"}), Verified)
    cassette = built.cassette.restricted_to(["Set.image2_eq_seq"])
    assert state_traced_theorems(cassette, [theorem], "t.lean") == ["Set.image2_eq_seq"]
    env = ReplayEnv(cassette)
    assert isinstance(env, Env)
    state = env.start_hole(hole)
    assert state.pp.startswith("case h\n")
    assert isinstance(env.run_tactic(state, "simp"), ProofFinished)
    verifier = ReplayVerifier(cassette)
    assert isinstance(verifier.verify_holes(theorem, skeleton, {0: "simp"}), Verified)
    wrong = verifier.verify_holes(theorem, skeleton, {0: "ring"})
    assert isinstance(wrong, Rejected) and "unrecorded" in wrong.reason
    assert isinstance(verifier.verify_holes(theorem, skeleton, {}), Rejected)
    assert "sorry" in verifier.verify_holes(theorem, skeleton, {0: "sorry"}).reason  # type: ignore[union-attr]
    with pytest.raises(TheoremStartError, match="no recorded compilation"):
        env.start_hole(HoleTarget(theorem, "by\n  sorry", (5,), 0))


def test_cassette_build_keeps_only_the_named_theorems(shared: Path, tmp_path: Path) -> None:

    from lean_env.cassette.store import Cassette

    out = tmp_path / "c.jsonl"
    rows = str(shared / LEANDOJO_ROWS)
    args = ["cassette", "build", str(out), rows, "--theorems", "CancelDenoms.cancel_factors_le"]
    result = run_cli(args)
    assert result.exit_code == 0, result.output
    cassette = Cassette.load(out)
    assert set(cassette.theorems) == {"CancelDenoms.cancel_factors_le"} and len(cassette.steps) == 3
    (record,) = cassette.holes.values()
    assert record.skeleton.endswith("\n  · sorry\n  · sorry") and [g.split("⊢ ")[-1] for g in record.goals] == [
        "0 < ad * bd",
        "0 < 1 / gcd",
    ]
    bad = run_cli(["cassette", "build", str(out), rows, "--theorems", "nope"])
    assert bad.exit_code == 2 and "not in the inputs: nope" in bad.output


def test_a_state_reached_from_a_hole_survives_a_repl_restart(shared: Path, tmp_path: Path) -> None:
    from lean_env.types import ProofFinished, StateResult, TacticTimeout

    fixture = shared / "lean_fixtures" / "repl" / "readme.in"
    once = tmp_path / "fired"
    argv = (sys.executable, str(STANDIN), str(fixture), "--fault", "hang", "--at", "3", "--once", str(once))
    with ReplEnv(ReplSettings(command=argv)) as env:
        root = env.start_hole(target("def f (x : Unit) : Nat", "by sorry"))
        mid = env.run_tactic(root, "apply Int.natAbs")
        assert isinstance(mid, StateResult)
        assert isinstance(env.run_tactic(mid.state, "exact -37", timeout=0.5), TacticTimeout)
        assert env.restarts == 1 and once.exists()
        # The new process re-enters the hole (the skeleton is compiled again), then replays the tactic.
        assert isinstance(env.run_tactic(mid.state, "exact -37"), ProofFinished)
