"""Replay must never verify what Lean would reject, even when every recording in the cassette is true.

Each test builds a small cassette of records shaped like Lean's answers (goal lists as the REPL's tactic mode
prints them: goals separated by a blank line, LeanDojo's `TacticState.pp` convention) and a proof that real Lean
rejects; the replay verifier must reject it too.
"""

from __future__ import annotations

import json
from pathlib import Path

from lean_env.backends.replay import ReplayVerifier
from lean_env.cassette.format import DojoLine, FinishedOutcome, StateOutcome, StepLine, TheoremLine
from lean_env.cassette.store import Cassette, new_cassette
from lean_env.checks.verdict import Rejected, Verified
from lean_env.types import DojoSource, Theorem
from tests.cli_support import run_cli

ROOT = "p q : Prop\nhp : p\nhq : q\n⊢ p ∧ q"
LEFT = "case left\np q : Prop\nhp : p\nhq : q\n⊢ p"
RIGHT = "case right\np q : Prop\nhp : p\nhq : q\n⊢ q"
BOTH = f"{LEFT}\n\n{RIGHT}"
AND_STATEMENT = "theorem and_intro (p q : Prop) (hp : p) (hq : q) : p ∧ q"


def and_cassette() -> Cassette:
    """REPL tactic-mode recordings: `constructor`, then `exact hp`/`exact hq` on the full goal list."""
    cassette = new_cassette("hand-written, shaped like the REPL's tactic mode")
    cassette.add_theorem(TheoremLine(kind="theorem", name="and_intro", statement=AND_STATEMENT, initial_state=ROOT))
    steps = [
        (ROOT, "constructor", StateOutcome(kind="state", pp=BOTH)),
        (BOTH, "exact hp", StateOutcome(kind="state", pp=RIGHT)),
        (RIGHT, "exact hq", FinishedOutcome(kind="finished")),
        # `all_goals` on the whole list closes both goals (recorded without a focus).
        (BOTH, "all_goals assumption", FinishedOutcome(kind="finished")),
        (ROOT, "exact ⟨hp, hq⟩", FinishedOutcome(kind="finished")),
    ]
    for state, tactic, result in steps:
        cassette.add_step(StepLine(kind="step", state=state, tactic=tactic, result=result, theorem="and_intro"))
    return cassette


THM = Theorem("and_intro", AND_STATEMENT)


def test_well_formed_bulleted_and_flat_proofs_replay() -> None:
    verifier = ReplayVerifier(and_cassette())
    for proof in (
        "constructor\n· exact hp\n· exact hq",
        "constructor\nexact hp\nexact hq",
        "constructor\nall_goals assumption",
        "exact ⟨hp, hq⟩",
        "by\n  constructor\n  . exact hp\n  . exact hq",
    ):
        assert isinstance(verifier.verify(THM, proof), Verified), proof


def test_a_bullet_block_that_runs_past_its_goal_is_rejected() -> None:
    """Lean's `·` (`cdot`, lean4 src/Lean/Elab/Tactic/BuiltinTactic.lean: focus the main goal, run the block,
    then `done`) hides the other goals: after `exact hp` closes `left` inside the bullet, `exact hq` fails
    with "no goals to be proved". Replaying the steps flat would let it close `right`."""
    verdict = ReplayVerifier(and_cassette()).verify(THM, "constructor\n· exact hp\n  exact hq")
    assert isinstance(verdict, Rejected), verdict
    assert "no goals" in verdict.reason


def test_a_bullet_block_that_touches_other_goals_is_rejected() -> None:
    """Inside `·` only the main goal is visible, so `all_goals assumption` closes `left` alone and `right`
    stays open: Lean reports unsolved goals. The recording (made without a focus) closed both."""
    verdict = ReplayVerifier(and_cassette()).verify(THM, "constructor\n· all_goals assumption")
    assert isinstance(verdict, Rejected), verdict


def test_a_bullet_that_leaves_its_goal_open_is_rejected() -> None:
    """`· skip`-like blocks: the focused goal must be closed at the end of the bullet (`done`)."""
    cassette = and_cassette()
    cassette.add_step(
        StepLine(
            kind="step", state=BOTH, tactic="skip", result=StateOutcome(kind="state", pp=BOTH), theorem="and_intro"
        )
    )
    verdict = ReplayVerifier(cassette).verify(THM, "constructor\n· skip\nexact hp\nexact hq")
    assert isinstance(verdict, Rejected), verdict


def test_a_cassette_theorem_with_another_statement_is_not_this_theorem() -> None:
    """Found by name, but the file states something else: the recorded initial state is not its goal."""
    cassette = new_cassette("t")
    cassette.add_theorem(
        TheoremLine(kind="theorem", name="foo", statement="theorem foo : 1 + 1 = 2", initial_state="⊢ 1 + 1 = 2")
    )
    cassette.add_step(
        StepLine(
            kind="step", state="⊢ 1 + 1 = 2", tactic="norm_num", result=FinishedOutcome(kind="finished"), theorem="foo"
        )
    )
    verifier = ReplayVerifier(cassette)
    verdict = verifier.verify(Theorem("foo", "theorem foo : False"), "norm_num")
    assert isinstance(verdict, Rejected), verdict
    assert "statement" in verdict.reason
    # The same statement (layout and the declared name aside: miniF2F aliases) still replays.
    assert isinstance(verifier.verify(Theorem("foo", "theorem   foo :\n  1 + 1 = 2"), "norm_num"), Verified)
    assert isinstance(verifier.verify(Theorem("foo", "theorem foo_alias : 1 + 1 = 2"), "norm_num"), Verified)


def test_a_cassette_theorem_without_a_statement_needs_the_same_traced_source() -> None:
    """LeanDojo records carry no statement, only the traced declaration (repo, commit, file, name): a theorem
    traced elsewhere (another commit of the file) is not the recorded one."""
    dojo = DojoSource(url="https://github.com/x/y", commit="a" * 40, file_path="Y.lean", full_name="foo")
    cassette = new_cassette("t")
    cassette.add_theorem(
        TheoremLine(kind="theorem", name="foo", initial_state="⊢ True", dojo=DojoLine(**dojo.__dict__))
    )
    cassette.add_step(
        StepLine(kind="step", state="⊢ True", tactic="trivial", result=FinishedOutcome(kind="finished"), theorem="foo")
    )
    verifier = ReplayVerifier(cassette)
    assert isinstance(verifier.verify(Theorem("foo", "theorem foo : True", dojo=dojo), "trivial"), Verified)
    moved = DojoSource(url=dojo.url, commit="b" * 40, file_path=dojo.file_path, full_name="foo")
    verdict = verifier.verify(Theorem("foo", "theorem foo : False", dojo=moved), "trivial")
    assert isinstance(verdict, Rejected), verdict


def test_steps_recorded_under_a_theorem_of_another_context_do_not_count() -> None:
    """The same printed goal means different things under different headers (`def f := 1` vs `def f := 2`):
    a step recorded for `a` does not show that Lean accepts it for `b`."""
    cassette = new_cassette("t")
    cassette.add_theorem(
        TheoremLine(
            kind="theorem", name="a", statement="theorem a : f = 1", header="def f := 1\n", initial_state="⊢ f = 1"
        )
    )
    cassette.add_theorem(
        TheoremLine(
            kind="theorem", name="b", statement="theorem b : f = 1", header="def f := 2\n", initial_state="⊢ f = 1"
        )
    )
    cassette.add_step(
        StepLine(kind="step", state="⊢ f = 1", tactic="rfl", result=FinishedOutcome(kind="finished"), theorem="a")
    )
    verifier = ReplayVerifier(cassette)
    assert isinstance(verifier.verify(Theorem("a", "theorem a : f = 1"), "rfl"), Verified)
    verdict = verifier.verify(Theorem("b", "theorem b : f = 1"), "rfl")
    assert isinstance(verdict, Rejected), verdict
    assert "recorded only under 'a'" in verdict.reason


def test_steps_shared_by_theorems_of_one_header_count_after_a_round_trip() -> None:
    """Theorems stated under the same header share a step only in a cassette recorded live with type-revealing
    printer options, also when the same step was recorded under both (the duplicate line keeps both theorems)."""
    cassette = new_cassette("t")
    for name in ("a", "b"):
        cassette.add_theorem(
            TheoremLine(
                kind="theorem",
                name=name,
                statement=f"theorem {name} : 2 = 2",
                header="import X\n",
                initial_state="⊢ 2 = 2",
            )
        )
    cassette.add_step(
        StepLine(kind="step", state="⊢ 2 = 2", tactic="rfl", result=FinishedOutcome(kind="finished"), theorem="a")
    )
    again = Cassette.loads(cassette.dumps())
    assert isinstance(ReplayVerifier(again).verify(Theorem("b", "theorem b : 2 = 2"), "rfl"), Rejected)
    cassette.header = cassette.header.model_copy(update={"recorded_live": True, "pp_options": ("pp.numericTypes",)})
    again = Cassette.loads(cassette.dumps())
    assert isinstance(ReplayVerifier(again).verify(Theorem("b", "theorem b : 2 = 2"), "rfl"), Verified)
    cassette.add_step(
        StepLine(kind="step", state="⊢ 2 = 2", tactic="rfl", result=FinishedOutcome(kind="finished"), theorem="b")
    )
    assert Cassette.loads(cassette.dumps()).recorders("⊢ 2 = 2", "rfl") == {"a", "b"}


def test_mathlibs_deprecated_big_operator_binder_is_the_same_statement() -> None:
    """`∑ k in s, f` is macro-expanded to `∑ k ∈ s, f` (Mathlib `bigsumin`, Algebra/BigOperators/Group/Finset.lean):
    DeepSeek's miniF2F statement and the primary one state the same theorem."""
    cassette = new_cassette("t")
    cassette.add_theorem(
        TheoremLine(
            kind="theorem",
            name="n24",
            statement="theorem n24 : (∑ k in Finset.Icc 1 9, 11 ^ k) % 100 = 59",
            initial_state="⊢ (∑ k ∈ Finset.Icc 1 9, 11 ^ k) % 100 = 59",
        )
    )
    cassette.add_step(
        StepLine(
            kind="step",
            state="⊢ (∑ k ∈ Finset.Icc 1 9, 11 ^ k) % 100 = 59",
            tactic="decide",
            result=FinishedOutcome(kind="finished"),
            theorem="n24",
        )
    )
    verifier = ReplayVerifier(cassette)
    assert isinstance(
        verifier.verify(Theorem("n24", "theorem n24 : (∑ k ∈ Finset.Icc 1 9, 11 ^ k) % 100 = 59"), "decide"), Verified
    )
    other = Theorem("n24", "theorem n24 : (∑ k ∈ Finset.Icc 1 8, 11 ^ k) % 100 = 59")
    assert isinstance(verifier.verify(other, "decide"), Rejected)


def test_prove_write_on_replay_never_writes_a_proof_of_another_statement(tmp_path: Path) -> None:
    """`prover prove --write` with the replay backend and the fixed generator: the file states something else
    under a recorded theorem's name (here `… = 26 / 16`, false); the demo cassette's `norm_num` finished the
    recorded statement (`… = 25 / 16`), not this one, so nothing may be written or reported proved."""

    examples = Path(__file__).resolve().parents[1] / "examples"
    source = (examples / "demo.lean").read_text(encoding="utf-8")
    recorded = "((3 : ℝ) / 8 + 7 / 8) / (4 / 5) = 25 / 16"
    assert recorded in source
    path = tmp_path / "tampered.lean"
    path.write_text(source.replace(recorded, "((3 : ℝ) / 8 + 7 / 8) / (4 / 5) = 26 / 16"), encoding="utf-8")
    before = path.read_text(encoding="utf-8")
    report = tmp_path / "report.json"
    args = ["prove", str(path), "--backend", "replay", "--cassette", str(examples / "demo.cassette.jsonl")]
    args += ["--generator", "fixed", "--theorem", "mathd_algebra_190", "--write", "--report", str(report)]
    result = run_cli(args)
    assert result.exit_code == 1, result.output
    assert path.read_text(encoding="utf-8") == before
    [entry] = json.loads(report.read_text(encoding="utf-8"))["theorems"]
    assert entry["status"] != "proved", entry


def test_hole_fills_replay_bullets_focused_too() -> None:
    """A filled skeleton hole (`verify_holes`) is replayed with the same focus rules as a whole proof."""
    from lean_env.cassette.format import HolesLine

    cassette = and_cassette()
    cassette.add_holes(HolesLine(kind="holes", theorem="and_intro", skeleton="by\n  sorry", goals=(ROOT,)))
    verifier = ReplayVerifier(cassette)
    good = verifier.verify_holes(THM, "by\n  sorry", {0: "constructor\n· exact hp\n· exact hq"})
    assert isinstance(good, Verified), good
    bad = verifier.verify_holes(THM, "by\n  sorry", {0: "constructor\n· exact hp\n  exact hq"})
    assert isinstance(bad, Rejected), bad
    other = verifier.verify_holes(
        Theorem("and_intro", "theorem and_intro : False"), "by\n  sorry", {0: "exact ⟨hp, hq⟩"}
    )
    assert isinstance(other, Rejected), other


def test_a_file_header_that_changes_what_the_statement_means_is_not_the_recorded_context() -> None:
    """`prove --write` on replay with a crafted file: the same statement text under a header that
    redefines a symbol (`local notation`, an instance, `open`) states something else; the recorded steps are
    not Lean's answers for it. Comments and earlier theorems without attributes in the header do not matter;
    imports do (a module can declare instances)."""
    cassette = new_cassette("t")
    cassette.add_theorem(
        TheoremLine(
            kind="theorem",
            name="two",
            statement="theorem two : (4 : ℕ) / 2 = 2",
            header="import Mathlib\n\nopen Real\n",
            initial_state="⊢ 4 / 2 = 2",
        )
    )
    cassette.add_step(
        StepLine(
            kind="step", state="⊢ 4 / 2 = 2", tactic="norm_num", result=FinishedOutcome(kind="finished"), theorem="two"
        )
    )
    verifier = ReplayVerifier(cassette)
    same = "import Mathlib\n\nopen Real\n\n/-! notes -/\n\ntheorem one : (1 : ℕ) = 1 := by\n  rfl\n\n"
    assert isinstance(
        verifier.verify(Theorem("two", "theorem two : (4 : ℕ) / 2 = 2", header=same), "norm_num"), Verified
    )
    for crafted in (
        "import Mathlib\n\nopen Real\n\nlocal instance : Div ℕ := ⟨fun _ _ => 0⟩\n\n",
        "import Mathlib\nimport MyProject.DivZero\n\nopen Real\n\n",
    ):
        verdict = verifier.verify(Theorem("two", "theorem two : (4 : ℕ) / 2 = 2", header=crafted), "norm_num")
        assert isinstance(verdict, Rejected) and "header" in verdict.reason, verdict


def test_earlier_compfiles_problems_in_the_header_are_no_context() -> None:
    """compfiles' `problem` is a theorem (`lean_env.source.document.TARGET_KEYWORDS`: its elab_rules elaborate `theorem`,
    dwrensha/compfiles ProblemExtraction.lean): an earlier `problem` in the header is dropped from the header's
    context like an earlier `theorem`, so a file that proves one more problem above still matches the record;
    an earlier `determine` (an `abbrev`: its value is part of what later statements mean) still counts."""
    cassette = new_cassette("t")
    recorded = "import Mathlib\nimport ProblemExtraction\n\nproblem_file\n\n"
    cassette.add_theorem(
        TheoremLine(
            kind="theorem",
            name="two",
            statement="theorem two : (4 : ℕ) / 2 = 2",
            header=recorded,
            initial_state="⊢ 4 / 2 = 2",
        )
    )
    cassette.add_step(
        StepLine(
            kind="step", state="⊢ 4 / 2 = 2", tactic="norm_num", result=FinishedOutcome(kind="finished"), theorem="two"
        )
    )
    verifier = ReplayVerifier(cassette)
    for earlier in ("problem one : (1 : ℕ) = 1 := by\n  rfl\n\n", "theorem one : (1 : ℕ) = 1 := by\n  rfl\n\n"):
        verdict = verifier.verify(
            Theorem("two", "theorem two : (4 : ℕ) / 2 = 2", header=recorded + earlier), "norm_num"
        )
        assert isinstance(verdict, Verified), (earlier, verdict)
    answer = recorded + "determine answer : ℕ := 2\n\n"
    verdict = verifier.verify(Theorem("two", "theorem two : (4 : ℕ) / 2 = 2", header=answer), "norm_num")
    assert isinstance(verdict, Rejected) and "header" in verdict.reason, verdict


def test_a_compfiles_problem_states_what_the_recorded_theorem_states() -> None:
    """`problem two : P` is `theorem two : P` (compfiles' synonym, `lean_env.source.document.TARGET_KEYWORDS`): the replay
    verifier's statement check strips its keyword and name like a theorem's, so the recorded steps answer for it.
    A `… in` prefix is part of what is stated, so it must be the recorded one."""
    from lean_env.backends.replay import same_theorem

    record = TheoremLine(kind="theorem", name="two", statement="theorem two : (4 : ℕ) / 2 = 2", header="")
    assert same_theorem(record, Theorem("two", "problem two : (4 : ℕ) / 2 = 2")) is None
    assert same_theorem(record, Theorem("two", "problem two : (4 : ℕ) / 2 = 3")) is not None
    prefixed = "set_option maxHeartbeats 400000 in\nproblem two : (4 : ℕ) / 2 = 2"
    assert same_theorem(record, Theorem("two", prefixed)) is not None
    record = record.model_copy(update={"statement": "set_option maxHeartbeats 400000 in theorem two : (4 : ℕ) / 2 = 2"})
    assert same_theorem(record, Theorem("two", prefixed)) is None
