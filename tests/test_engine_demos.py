"""The offline self-correction demo runs as the README shows it: the model's first proof (written for the demo)
is rejected with Lean's error from a constructed compile record (marked `constructed`, in the shape of the
release transcript it cites), the correction is verified by the replay of a recorded real-Lean step."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lean_env.cassette.store import Cassette
from tests.cli_support import EXAMPLES, run_cli


def test_the_correction_demo_is_rejected_in_round_0_and_proved_in_round_1(tmp_path: Path, shared: Path) -> None:
    demo = tmp_path / "correct.lean"
    shutil.copy(EXAMPLES / "correct.lean", demo)
    report = tmp_path / "r.json"
    args = ["prove", str(demo), "--backend", "replay", "--cassette", str(EXAMPLES / "correct.cassette.jsonl")]
    args += ["--generator", "scripted", "--outputs", str(EXAMPLES / "correct.outputs.jsonl"), "--num-proofs", "1"]
    result = run_cli([*args, "--correction-rounds", "1", "--report", str(report)])
    assert result.exit_code == 0, result.output
    [entry] = json.loads(report.read_text(encoding="utf-8"))["theorems"]
    assert entry["status"] == "proved" and entry["checker"] == "replay" and entry["strategy"] == "correct"
    first, second = entry["attempts"]
    assert (first["round"], first["status"], first["proof"]) == (0, "rejected", "ring_nf at h₀")
    assert first["messages"][0]["data"].startswith("unsolved goals")
    assert (second["round"], second["parent"], second["status"], second["proof"]) == (1, 0, "proved", "linarith")
    assert [c["round"] for c in entry["costs"]] == [0, 1]


def test_every_constructed_record_says_so_and_cites_a_real_transcript(shared: Path) -> None:
    cassette = Cassette.load(EXAMPLES / "correct.cassette.jsonl")
    assert cassette.compiles
    for record in cassette.compiles.values():
        assert record.constructed and record.shape
        assert (shared / record.shape).is_file()
    # Everything else in it is the demo cassette's recording.
    demo = Cassette.load(EXAMPLES / "demo.cassette.jsonl")
    assert all(demo.steps.get(key) == step for key, step in cassette.steps.items())


def test_the_repair_demo_fills_the_failing_have_but_a_constructed_sketch_record_never_proves(tmp_path: Path) -> None:
    """The repair flow runs offline: the model's proof is rejected, its sketch's hole is filled by the tactic
    search from a recorded real-Lean step. The sketch's compile (its hole goal) is a constructed record, never
    observed from Lean, so the final check refuses it by name: not proved, exit 1, the file left as it was."""
    demo = tmp_path / "repair.lean"
    shutil.copy(EXAMPLES / "repair.lean", demo)
    report = tmp_path / "r.json"
    args = ["prove", str(demo), "--backend", "replay", "--cassette", str(EXAMPLES / "repair.cassette.jsonl")]
    args += ["--generator", "scripted", "--outputs", str(EXAMPLES / "repair.outputs.jsonl"), "--num-proofs", "1"]
    result = run_cli([*args, "--repair", "--report", str(report), "--write"])
    assert result.exit_code == 1, result.output
    [entry] = json.loads(report.read_text(encoding="utf-8"))["theorems"]
    assert entry["status"] == "rejected" and entry["strategy"] == "repair"
    failed, repaired = entry["attempts"]
    assert failed["status"] == "rejected" and "ring_nf at h₀" in failed["proof"]
    assert (repaired["round"], repaired["parent"], repaired["proof"], repaired["status"]) == (
        1,
        0,
        "have h : x = 3 := by linarith\nexact h",
        "rejected",
    )
    assert "constructed" in repaired["reason"] and "constructed" in entry["message"]
    assert demo.read_bytes() == (EXAMPLES / "repair.lean").read_bytes()


def test_a_constructed_sketch_record_only_ever_rejects() -> None:
    """Every replay path that reads a sketch's recorded hole goals refuses a constructed one: the whole-proof
    check (`verify`, as a filled skeleton), `verify_holes` and the partial check `verify_partial`."""
    from lean_env.backends.replay import ReplayVerifier
    from lean_env.checks.verdict import Rejected
    from lean_env.source.declarations import parse_lean_file

    verifier = ReplayVerifier(EXAMPLES / "repair.cassette.jsonl")
    theorem = parse_lean_file(EXAMPLES / "repair.lean").theorems[0].to_theorem()
    [holes] = verifier.cassette.holes.values()
    assert holes.constructed
    whole = verifier.verify(theorem, "have h : x = 3 := by linarith\nexact h")
    filled = verifier.verify_holes(theorem, holes.skeleton, {0: "linarith"})
    for verdict in (whole, filled):
        assert isinstance(verdict, Rejected), verdict
    assert "constructed" in filled.reason  # type: ignore[union-attr]
    assert "constructed" in (verifier.verify_partial(theorem, holes.skeleton, {0: "linarith"}) or "")
    # The same record observed from Lean (not constructed) vouches for the fill.
    key = next(iter(verifier.cassette.holes))
    verifier.cassette.holes[key] = holes.model_copy(update={"constructed": None})
    assert not isinstance(verifier.verify_holes(theorem, holes.skeleton, {0: "linarith"}), Rejected)
    assert not isinstance(verifier.verify(theorem, "have h : x = 3 := by linarith\nexact h"), Rejected)


def test_a_repaired_proof_of_another_skeleton_or_a_wrong_fill_is_not_verified() -> None:
    from lean_env.backends.replay import ReplayVerifier
    from lean_env.checks.verdict import Rejected
    from lean_env.source.declarations import parse_lean_file

    verifier = ReplayVerifier(EXAMPLES / "repair.cassette.jsonl")
    theorem = parse_lean_file(EXAMPLES / "repair.lean").theorems[0].to_theorem()
    assert isinstance(verifier.verify(theorem, "have h : x = 3 := by norm_num\nexact h"), Rejected)  # not recorded
    assert isinstance(verifier.verify(theorem, "have h : x = 4 := by linarith\nexact h"), Rejected)  # no such sketch
    sketch = verifier.verify(theorem, "have h : x = 3 := by sorry\nexact h")
    assert isinstance(sketch, Rejected) and [m.severity.value for m in sketch.messages] == ["warning"]


@pytest.mark.lean
@pytest.mark.parametrize("name", ["correct", "repair"])
def test_constructed_compiles_match_a_live_lean(name: str) -> None:
    """Where Lean is configured: each constructed compile of a demo, run by the REPL verifier, gives the same
    kinds of messages at the same places (the real messages are printed, to re-record the demo from them)."""
    from lean_env.backends.repl import ReplSettings
    from lean_env.checks.verdict import Rejected
    from lean_env.checks.verifier import ReplVerifier
    from lean_env.source.declarations import parse_lean_file
    from tests.conftest import live_lean_project

    project = live_lean_project()
    assert project is not None
    theorem = parse_lean_file(EXAMPLES / f"{name}.lean").theorems[0].to_theorem()
    cassette = Cassette.load(EXAMPLES / f"{name}.cassette.jsonl")
    with ReplVerifier(ReplSettings(project=project, command_timeout_s=300.0)) as verifier:
        for record in cassette.compiles.values():
            verdict = verifier.verify(theorem, record.proof)
            assert isinstance(verdict, Rejected)
            print(json.dumps([m.to_json() for m in verdict.messages], ensure_ascii=False))
            live = {(m.severity.value, m.pos.line if m.pos else None) for m in verdict.messages}
            shape = {(str(m["severity"]), m["pos"]["line"]) for m in record.messages}  # type: ignore[index]
            assert shape <= live
