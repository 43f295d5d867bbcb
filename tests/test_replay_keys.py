"""Every replay key (step, skeleton, statement signature) reads comments as Lean's lexer does.

Lean's block comments nest (`finishCommentBlock` counts `/-` and `-/` depth, lean4 `src/Lean/Parser/Basic.lean`)
and `--` starts a line comment that runs to the end of the line, `/-` inside it included. A proof text must mean
the same steps to replay as to Lean, so the demo cassette's recorded proofs are replayed here wrapped in comments
Lean ignores (verified) and in text Lean reads as more code (rejected).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lean_env.backends.replay import ReplayVerifier, flatten_proof, same_theorem
from lean_env.cassette.format import TheoremLine
from lean_env.cassette.keys import normalize_statement, skeleton_key, without_comments
from lean_env.cassette.store import Cassette
from lean_env.checks.verdict import Rejected, Verified
from lean_env.types import Theorem
from tests.cli_support import EXAMPLES, run_cli


@pytest.fixture(scope="module")
def demo() -> Cassette:
    return Cassette.load(EXAMPLES / "demo.cassette.jsonl")


def _recorded(demo: Cassette) -> tuple[Theorem, str]:
    record = next(t for t in demo.theorems.values() if t.recorded_proof)
    assert record.recorded_proof is not None
    return Theorem(record.name, record.statement, header=record.header), record.recorded_proof


@pytest.mark.parametrize(
    "wrap",
    [
        "/- outer /- inner -/ still a comment -/\n{p}",  # nested: the whole block is one comment
        "{p} -- /- a line comment, not a block",
        "{p}\n-- done",
        "-- first: {p}\n{p}",
        "{p} /- -- not a line comment inside a block -/",
    ],
)
def test_comments_lean_ignores_leave_a_recorded_proof_verified(demo: Cassette, wrap: str) -> None:
    theorem, proof = _recorded(demo)
    text = wrap.format(p=proof)
    assert flatten_proof(text) == [proof], text
    assert isinstance(ReplayVerifier(demo).verify(theorem, text), Verified), text


@pytest.mark.parametrize(
    "wrap",
    [
        # `-- /-` is a line comment: the next line is a tactic Lean runs (and fails on), not a comment's body.
        "{p} -- /-\nexact bogus -/",
        # The inner `-/` closes only the inner comment: `exact bogus` is still inside the outer one, but the
        # text after the outer comment's end is code.
        "/- /- -/ -/ exact bogus\n{p}",
    ],
)
def test_text_lean_reads_as_code_is_not_dropped_as_a_comment(demo: Cassette, wrap: str) -> None:
    theorem, proof = _recorded(demo)
    text = wrap.format(p=proof)
    verdict = ReplayVerifier(demo).verify(theorem, text)
    assert isinstance(verdict, Rejected), text
    assert any("bogus" in step for step in flatten_proof(text)), flatten_proof(text)


def test_without_comments_keeps_every_other_character_in_place() -> None:
    """Comments become spaces (newlines kept), so columns, and with them Lean's layout, do not move."""
    text = "constructor /- a\n b -/ -- c\n  · simp"
    out = without_comments(text)
    assert len(out) == len(text)
    assert out.split("\n")[2] == "  · simp"
    assert "-" not in out.replace("-/", "")
    # A string literal that looks like a comment is a string.
    assert without_comments('simp [show "--" = "--" from rfl]') == 'simp [show "--" = "--" from rfl]'


def test_a_comment_after_a_skeleton_hole_keeps_the_skeleton_key() -> None:
    """`· sorry -- todo` is the recorded skeleton `· sorry` to Lean; a `-- /-` there hides nothing."""
    recorded = "by\n  constructor\n  · sorry\n  · sorry"
    for written in (
        "by\n  constructor\n  · sorry -- todo\n  · sorry",
        "by -- two cases\n  constructor /- split -/\n  · sorry -- todo /-\n  · sorry -- -/",
        "by\n  /- nested /- comment -/ -/\n  constructor\n  · sorry\n  · sorry",
    ):
        assert skeleton_key(written) == skeleton_key(recorded), written
    assert skeleton_key("by\n  constructor\n  · sorry -- /-\n  · sorry -/") != skeleton_key(recorded)


def test_the_readme_skeleton_with_a_todo_comment_is_found(tmp_path: Path) -> None:
    """The README's skeleton demo with `-- todo` after each hole: Lean ignores comments, so the recorded
    compilation of that skeleton answers for it."""
    from lean_env.source.declarations import parse_lean_source

    cassette = Cassette.load(EXAMPLES / "skeleton.cassette.jsonl")
    source = (EXAMPLES / "skeleton.lean").read_text(encoding="utf-8").replace("· sorry", "· sorry -- todo")
    [decl] = parse_lean_source(source, "skeleton.lean").theorems
    assert "-- todo" in decl.proof
    assert cassette.find_holes(decl.to_theorem(), decl.proof) is not None


def test_statement_keys_ignore_comments_but_not_string_literal_spacing() -> None:
    assert normalize_statement("theorem a /- why -/ :\n  x = 1 -- note") == normalize_statement("theorem a : x = 1")
    assert normalize_statement('theorem s : "a  b".length = 4') != normalize_statement('theorem s : "a b".length = 4')
    record = TheoremLine(kind="theorem", name="s", statement='theorem s : "a  b".length = 4')
    assert same_theorem(record, Theorem("s", 'theorem s : "a b".length = 4')) is not None
    assert same_theorem(record, Theorem("s", 'theorem s :\n    "a  b".length = 4 -- spaces')) is None


def test_prove_fills_a_skeleton_whose_holes_carry_a_todo_comment(tmp_path: Path) -> None:
    """`prover prove` on the README's skeleton with `· sorry -- todo`: both holes are proved, as without it."""

    source = (EXAMPLES / "skeleton.lean").read_text(encoding="utf-8")
    (tmp_path / "skeleton.lean").write_text(source.replace("· sorry", "· sorry -- todo"), encoding="utf-8")
    config = (EXAMPLES / "skeleton.toml").read_text(encoding="utf-8")
    cassette = (EXAMPLES / "skeleton.cassette.jsonl").as_posix()
    (tmp_path / "skeleton.toml").write_text(
        config.replace('"skeleton.cassette.jsonl"', f'"{cassette}"'), encoding="utf-8"
    )
    report = tmp_path / "report.json"
    args = ["prove", str(tmp_path / "skeleton.lean"), "--config", str(tmp_path / "skeleton.toml")]
    result = run_cli([*args, "--report", str(report)])
    assert result.exit_code == 0, result.output
    import json

    entries = json.loads(report.read_text(encoding="utf-8"))["theorems"]
    assert [e["status"] for e in entries] == ["proved", "proved"], entries
