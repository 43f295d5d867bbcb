"""Every cassette record carries a content hash, written by `cassette build` and by live recording runs and
checked on load: an edited record is refused. It catches accidental edits only (anyone can recompute it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lean_env.backends.replay import RecordingEnv, ReplayEnv
from lean_env.cassette.format import FORMAT_VERSION, CassetteError, FinishedOutcome, StepLine, TheoremLine
from lean_env.cassette.store import Cassette, new_cassette
from lean_env.types import Theorem
from tests.cli_support import EXAMPLES, run_cli


def _small() -> Cassette:
    cassette = new_cassette("t")
    cassette.add_theorem(
        TheoremLine(
            kind="theorem", name="t", statement="theorem t : True", header="import Mathlib\n", initial_state="⊢ True"
        )
    )
    cassette.add_step(
        StepLine(kind="step", state="⊢ True", tactic="trivial", result=FinishedOutcome(kind="finished"), theorem="t")
    )
    return cassette


def test_every_written_record_carries_its_hash_and_loads() -> None:
    text = _small().dumps()
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["version"] == FORMAT_VERSION
    assert all(len(line["sha256"]) == 64 for line in lines)
    again = Cassette.loads(text)
    assert again.dumps() == text


@pytest.mark.parametrize("shipped", sorted(EXAMPLES.glob("*.cassette.jsonl")), ids=lambda p: p.name)
def test_the_shipped_cassettes_are_hashed(shipped: Path) -> None:
    lines = [json.loads(line) for line in shipped.read_text(encoding="utf-8").splitlines()]
    assert lines[0]["version"] == FORMAT_VERSION
    assert all("sha256" in line for line in lines)
    Cassette.load(shipped)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"result":{"kind":"finished"}', '"result":{"kind":"error","message":"x"}'),  # a step's outcome
        ("theorem t : True", "theorem t : False"),  # a statement
        ('"initial_state":"⊢ True"', '"initial_state":"⊢ False"'),
        ('"description":"t"', '"description":"u"'),  # the header
    ],
)
def test_an_edited_record_is_refused_naming_its_line(old: str, new: str) -> None:
    text = _small().dumps()
    assert old in text
    with pytest.raises(CassetteError, match=r"<string>:\d+: .*content hash"):
        Cassette.loads(text.replace(old, new, 1))


def test_a_record_without_its_hash_is_refused_in_a_hashed_format() -> None:
    lines = _small().dumps().splitlines()
    step = json.loads(lines[-1])
    del step["sha256"]
    with pytest.raises(CassetteError, match=r":3: .*no content hash"):
        Cassette.loads("\n".join([*lines[:-1], json.dumps(step, ensure_ascii=False)]))


def test_a_live_recording_run_writes_hashed_records(tmp_path: Path) -> None:
    recorder = RecordingEnv(ReplayEnv(_small()))
    state = recorder.start(Theorem("t", "theorem t : True", header="import Mathlib\n"))
    recorder.run_tactic(state, "trivial")
    path = tmp_path / "live.cassette.jsonl"
    recorder.cassette.save(path)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert all("sha256" in line for line in lines) and lines[0]["recorded_live"] is True
    assert len(Cassette.load(path).steps) == 1


def test_cassette_build_writes_hashed_records(tmp_path: Path, shared: Path) -> None:

    out = tmp_path / "ps.cassette.jsonl"
    rows = shared / "data" / "proofsteps" / "lean_workbook_plasma_converter.jsonl"
    result = run_cli(["cassette", "build", str(out), str(rows)])
    assert result.exit_code == 0, result.output
    assert all("sha256" in json.loads(line) for line in out.read_text(encoding="utf-8").splitlines())
