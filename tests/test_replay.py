"""ReplayEnv and ReplayVerifier on cassettes built from the shared real-Lean proofsteps and the demo."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from lean_env.backends.replay import UNRECORDED_PREFIX, RecordingEnv, ReplayEnv, ReplayVerifier, flatten_proof
from lean_env.cassette.build import build_from_proofsteps
from lean_env.cassette.store import Cassette
from lean_env.checks.verdict import ProofVerifier, Rejected, Verified
from lean_env.errors import TheoremStartError
from lean_env.types import (
    Env,
    LeanError,
    ProofFinished,
    ProofState,
    ResultKind,
    StateResult,
    TacticTimeout,
    Theorem,
)


@pytest.fixture(scope="module")
def cassette(shared: Path) -> Cassette:
    return build_from_proofsteps(sorted((shared / "data" / "proofsteps").glob("*.jsonl"))).cassette


@pytest.fixture(scope="module")
def leandojo_rows(shared: Path) -> dict[str, list[dict[str, Any]]]:
    path = shared / "data" / "proofsteps" / "leandojo_benchmark4_random_test_sample100.jsonl"
    by_thm: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        by_thm[row["theorem"]].append(row)
    for rows in by_thm.values():
        rows.sort(key=lambda r: r["step"])
    return dict(by_thm)


def _linear_proofs(rows_by_thm: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Theorems whose recorded steps chain (each state_after is the next state_before) and end in `no goals`."""
    out = {}
    for name, rows in rows_by_thm.items():
        chained = all(a["state_after"] == b["state_before"] for a, b in zip(rows, rows[1:], strict=False))
        if len(rows) >= 2 and chained and rows[-1]["state_after"] == "no goals":
            out[name] = rows
    return out


@pytest.fixture(scope="module")
def demo_cassette(repo_root: Path) -> Cassette:
    return Cassette.load(repo_root / "examples" / "demo.cassette.jsonl")


def test_replay_env_is_an_env(cassette: Cassette) -> None:
    with ReplayEnv(cassette) as env:
        assert isinstance(env, Env)
    assert isinstance(ReplayVerifier(cassette), ProofVerifier)


def test_start_gives_the_step_zero_state(cassette: Cassette, leandojo_rows: dict[str, list[dict[str, Any]]]) -> None:
    env = ReplayEnv(cassette)
    for name, rows in leandojo_rows.items():
        state = env.start(Theorem(name=name, statement=""))
        assert state.pp == rows[0]["state_before"]
        assert state.num_goals >= 1


def test_start_falls_back_to_the_statement(demo_cassette: Cassette) -> None:
    thm = demo_cassette.theorems["mathd_algebra_182"]
    renamed = Theorem(name="my_copy", statement="theorem  mathd_algebra_182 (y : ℂ) :\n  7 * (3 * y + 2) = 21 * y + 14")
    assert ReplayEnv(demo_cassette).start(renamed).pp == thm.initial_state


def test_start_errors(cassette: Cassette) -> None:
    env = ReplayEnv(cassette)
    with pytest.raises(TheoremStartError, match="not in the replay cassette"):
        env.start(Theorem(name="no_such_theorem", statement="theorem no_such_theorem : True"))
    with pytest.raises(TheoremStartError, match="no recorded initial state"):
        env.start(Theorem(name="lean_workbook_26", statement=""))


def test_every_recorded_step_replays(cassette: Cassette) -> None:
    env = ReplayEnv(cassette)
    for step in cassette.steps.values():
        result = env.run_tactic(ProofState.from_pp(step.state), step.tactic)
        if step.result.kind == ResultKind.FINISHED:
            assert isinstance(result, ProofFinished)
        else:
            assert isinstance(result, StateResult) and result.state.pp == step.result.pp  # type: ignore[union-attr]
    assert env.calls == len(cassette.steps)


def test_a_recorded_proof_walks_state_to_state(
    cassette: Cassette, leandojo_rows: dict[str, list[dict[str, Any]]]
) -> None:
    linear = _linear_proofs(leandojo_rows)
    assert linear, "the LeanDojo sample has multi-step linear proofs"
    env = ReplayEnv(cassette)
    for name, rows in linear.items():
        state = env.start(Theorem(name=name, statement=""))
        for row in rows[:-1]:
            result = env.run_tactic(state, row["tactic"])
            assert isinstance(result, StateResult)
            state = result.state
        assert isinstance(env.run_tactic(state, rows[-1]["tactic"]), ProofFinished)


def test_unrecorded_tactic_is_marked_as_replay(demo_cassette: Cassette) -> None:
    env = ReplayEnv(demo_cassette)
    state = env.start(Theorem(name="mathd_algebra_182", statement=""))
    result = env.run_tactic(state, "norm_num")
    assert isinstance(result, LeanError)
    assert result.message.startswith(UNRECORDED_PREFIX) and "not Lean" in result.message
    # The same tactic in a different state is not the recorded one either.
    other = env.run_tactic(ProofState.from_pp("⊢ 1 = 1"), "ring")
    assert isinstance(other, LeanError) and other.message.startswith(UNRECORDED_PREFIX)
    assert isinstance(env.run_tactic(state, "  ring \n"), ProofFinished)


def test_tactic_filter_runs_before_lookup() -> None:
    # Even a cassette that (wrongly) recorded `sorry` as finishing must not let it through.
    text = "\n".join(
        [
            json.dumps({"kind": "header", "format": "lean-prover-cassette", "version": 1}),
            json.dumps({"kind": "step", "state": "⊢ False", "tactic": "sorry", "result": {"kind": "finished"}}),
        ]
    )
    env = ReplayEnv(Cassette.loads(text))
    result = env.run_tactic(ProofState.from_pp("⊢ False"), "sorry")
    assert isinstance(result, LeanError) and result.message.startswith("refused by tactic filter")


def test_simulated_latency_and_timeout(demo_cassette: Cassette) -> None:
    env = ReplayEnv(demo_cassette, latency_s=0.05)
    state = env.start(Theorem(name="mathd_algebra_182", statement=""))
    t0 = time.perf_counter()
    assert isinstance(env.run_tactic(state, "ring"), ProofFinished)
    assert time.perf_counter() - t0 >= 0.05
    timed_out = env.run_tactic(state, "ring", timeout=0.01)
    assert isinstance(timed_out, TacticTimeout) and timed_out.seconds == 0.01


def test_closed_env_refuses_work(demo_cassette: Cassette) -> None:
    env = ReplayEnv(demo_cassette)
    env.close()
    with pytest.raises(RuntimeError):
        env.run_tactic(ProofState.from_pp("⊢ True"), "trivial")


# ----------------------------------------------------------------------------- flattening


@pytest.mark.parametrize(
    ("proof", "expected"),
    [
        ("norm_num", ["norm_num"]),
        ("by\n  intro x\n  simp", ["intro x", "simp"]),
        ("constructor\n· norm_num\n  simp\n· linarith", ["constructor", "norm_num", "simp", "linarith"]),
        (
            "nlinarith [sq_nonneg (a - b),\n  sq_nonneg (a + b)]\nrfl",
            ["nlinarith [sq_nonneg (a - b),\n  sq_nonneg (a + b)]", "rfl"],
        ),
        ("/- informal\n proof -/\n  -- a comment\n  ring  -- done\n", ["ring"]),
        ("· · exact h", ["exact h"]),
        ("have h : x = 1 := by\n    norm_num\nexact h", ["have h : x = 1 := by\n    norm_num", "exact h"]),
        ("", []),
    ],
)
def test_flatten_proof(proof: str, expected: list[str]) -> None:
    assert flatten_proof(proof) == expected


# ----------------------------------------------------------------------------- the verifier


def test_verifier_accepts_recorded_proofs(demo_cassette: Cassette) -> None:
    verifier = ReplayVerifier(demo_cassette)
    proved = [t for t in demo_cassette.theorems.values() if t.recorded_proof]
    assert len(proved) >= 3
    for thm in proved:
        assert thm.recorded_proof is not None
        assert verifier.verify(thm.to_theorem(), thm.recorded_proof) == Verified(checker="replay")


def test_verifier_accepts_multi_step_leandojo_proofs(
    cassette: Cassette, leandojo_rows: dict[str, list[dict[str, Any]]]
) -> None:
    verifier = ReplayVerifier(cassette)
    for name, rows in _linear_proofs(leandojo_rows).items():
        proof = "\n".join(r["tactic"] for r in rows)
        verdict = verifier.verify(cassette.theorems[name].to_theorem(), proof)
        assert verdict == Verified(checker="replay"), (name, verdict)


def test_verifier_rejections(demo_cassette: Cassette) -> None:
    verifier = ReplayVerifier(demo_cassette)
    thm = demo_cassette.theorems["mathd_algebra_182"].to_theorem()

    wrong = verifier.verify(thm, "norm_num")
    assert isinstance(wrong, Rejected) and wrong.checker == "replay" and UNRECORDED_PREFIX in wrong.reason

    extra = verifier.verify(thm, "ring\nsimp")
    assert isinstance(extra, Rejected) and "tactics remain" in extra.reason

    cheat = verifier.verify(thm, "sorry")
    assert isinstance(cheat, Rejected) and "sorry" in cheat.reason

    empty = verifier.verify(thm, "  \n")
    assert isinstance(empty, Rejected)

    unknown = verifier.verify(Theorem(name="nope", statement="theorem nope : True"), "trivial")
    assert isinstance(unknown, Rejected) and "not in the replay cassette" in unknown.reason

    # The unproved demo theorem stays unproved whatever is tried.
    open_thm = demo_cassette.theorems["mathd_algebra_141"]
    assert open_thm.recorded_proof is None
    for attempt in ("nlinarith [sq_nonneg (a - b)]", "norm_num", "linarith"):
        assert isinstance(verifier.verify(open_thm.to_theorem(), attempt), Rejected)


def test_verifier_rejects_a_partial_proof(cassette: Cassette, leandojo_rows: dict[str, list[dict[str, Any]]]) -> None:
    name, rows = next(iter(_linear_proofs(leandojo_rows).items()))
    verdict = ReplayVerifier(cassette).verify(cassette.theorems[name].to_theorem(), rows[0]["tactic"])
    assert isinstance(verdict, Rejected) and "remain" in verdict.reason


def test_recording_env_keeps_only_lean_answers(demo_cassette: Cassette, tmp_path: Path) -> None:
    # The wrapped Env here is a replay of real recordings; in use it is a live Lean backend.
    source = demo_cassette.theorems["mathd_algebra_455"]
    with RecordingEnv(ReplayEnv(demo_cassette)) as recorder:
        state = recorder.start(source.to_theorem())
        assert isinstance(recorder.run_tactic(state, "norm_num"), LeanError)  # a replay miss: not Lean's answer
        assert isinstance(recorder.run_tactic(state, "sorry"), LeanError)  # a filter refusal: not Lean's answer
        assert isinstance(recorder.run_tactic(state, "linarith"), ProofFinished)
    path = tmp_path / "recorded.jsonl"
    recorder.cassette.save(path)
    again = Cassette.load(path)
    assert list(again.theorems) == ["mathd_algebra_455"]
    assert again.theorems["mathd_algebra_455"].initial_state == source.initial_state
    assert [(s.tactic, s.result.kind) for s in again.steps.values()] == [("linarith", "finished")]
    assert ReplayVerifier(again).verify(source.to_theorem(), "linarith") == Verified(checker="replay")


def test_verifier_keeps_leans_layout() -> None:
    """A recorded multi-line `calc` finishes the proof; its run-on form is a parse error in
    Lean (`by ring _ = c := h` swallows the next step), so replay must not find it recorded."""
    from lean_env.cassette.format import FinishedOutcome, StepLine, TheoremLine
    from lean_env.cassette.store import new_cassette

    calc = "calc a = b := by rw [hab]\n  _ = c := hbc"
    cassette = new_cassette("layout")
    cassette.add_theorem(
        TheoremLine(kind="theorem", name="t", statement="theorem t", initial_state="a b c : ℕ\n⊢ a = c")
    )
    cassette.add_step(
        StepLine(
            kind="step", state="a b c : ℕ\n⊢ a = c", tactic=calc, result=FinishedOutcome(kind="finished"), theorem="t"
        )
    )
    verifier = ReplayVerifier(cassette)
    theorem = Theorem("t", "theorem t")
    assert verifier.verify(theorem, calc) == Verified(checker="replay")
    run_on = verifier.verify(theorem, " ".join(calc.split()))
    assert isinstance(run_on, Rejected) and "unrecorded" in run_on.reason
    deeper = verifier.verify(theorem, calc.replace("\n  _", "\n      _"))  # re-indented: not what Lean ran
    assert isinstance(deeper, Rejected)
