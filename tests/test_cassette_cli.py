"""`prover cassette build` refuses what it cannot use before writing anything, and a cassette line that is
JSON but no record is named in the cassette's terms."""

from __future__ import annotations

from pathlib import Path

import pytest

from lean_env.cassette.format import CassetteError, TheoremLine
from lean_env.cassette.sorry_file import lean_source_with_sorry
from lean_env.cassette.store import Cassette
from tests.cli_support import run_cli

ROOT = Path(__file__).resolve().parents[1]


def build(*args: str) -> tuple[int, str]:
    result = run_cli(["cassette", "build", *args])
    return result.exit_code, result.output


def one_line(out: str) -> str:
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    return lines[0]


def test_build_that_records_nothing_is_refused_and_writes_nothing(shared: Path, tmp_path: Path) -> None:
    """every row of the LeanSTaR file has `state_after: null`; the build wrote a 0-theorem cassette, rc 0."""
    out = tmp_path / "c.jsonl"
    code, text = build(str(out), str(shared / "data/proofsteps/leanstar_leandojo_state_tactic.jsonl"))
    assert code == 2 and not out.exists()
    assert one_line(text).startswith("error: nothing to record: 0 theorems, 0 steps")
    assert "501 rows with state_after null" in text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"x":1}', 'not a cassette record (no "kind")'),
        ("[1]", 'not a cassette record (a JSON list, expected an object with a "kind")'),
        ('{"kind":"bogus"}', "not a cassette record (kind 'bogus'; expected one of header, theorem, step, holes)"),
        ('{"kind":"theorem"}', 'theorem record: no "name"'),
        ('{"kind":"theorem","name":"a","nme":"b"}', 'theorem record: unknown field "nme"'),
        ('{"kind":"step","state":"s","tactic":"t","result":{"kind":"state"}}', 'step record: no "result.pp"'),
        ('{"kind":"step","state":"s","tactic":"t","result":{}}', 'step record: result has no "kind"'),
    ],
)
def test_a_json_line_that_is_no_record_names_file_line_and_what_is_missing(
    tmp_path: Path, line: str, expected: str
) -> None:
    """`{"x":1}` gave pydantic's "Unable to extract tag using discriminator 'kind'"."""
    path = tmp_path / "b.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(CassetteError) as err:
        Cassette.load(path)
    assert str(err.value) == f"{path}:1: {expected}"
    assert "discriminator" not in str(err.value) and "Field required" not in str(err.value)


def test_prove_on_a_cassette_line_that_is_no_record_is_one_line(tmp_path: Path) -> None:
    """`prover prove examples/demo.lean --backend replay --cassette b.jsonl -g fixed`."""
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"x":1}\n', encoding="utf-8")
    args = ["prove", str(ROOT / "examples/demo.lean"), "--backend", "replay", "--cassette", str(bad), "-g", "fixed"]
    result = run_cli(args)
    assert result.exit_code == 2
    assert one_line(result.output) == (
        f'error: cannot start the replay backend: {bad}:1: not a cassette record (no "kind")'
    )


def test_lean_out_that_cannot_be_written_as_one_file_writes_nothing(shared: Path, tmp_path: Path) -> None:
    """the build refused --lean-out (rc 2) after it had written the 660 KB cassette, without saying so."""
    out, lean = tmp_path / "c.jsonl", tmp_path / "c.lean"
    code, text = build(
        str(out),
        str(shared / "data/proofsteps/leandojo_benchmark4_random_test_sample100.jsonl"),
        "--lean-out",
        str(lean),
    )
    assert code == 2 and one_line(text).startswith("error: --lean-out: ") and "nothing written" in text
    assert not out.exists() and not lean.exists()


def test_lean_out_in_an_unwritable_place_is_refused_before_the_cassette(tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    args = ["--from-minif2f-fewshot", "--names", "mathd_algebra_182"]
    code, text = build(str(out), *args, "--lean-out", str(blocker / "c.lean"))
    assert code == 2 and "--lean-out" in one_line(text) and not out.exists()
    code, text = build(str(tmp_path), *args)  # OUT naming a folder
    assert code == 2 and "is a directory" in one_line(text)


def test_the_header_check_counts_only_stated_theorems() -> None:
    cassette = Cassette.load(ROOT / "examples/demo.cassette.jsonl")
    other = TheoremLine(
        kind="theorem", name="x", statement="theorem x : True", header="import Other", initial_state="⊢ True"
    )
    cassette.theorems["x"] = other
    with pytest.raises(CassetteError, match="do not share one header"):
        lean_source_with_sorry(cassette)
    cassette.theorems["x"] = other.model_copy(update={"initial_state": None})
    assert lean_source_with_sorry(cassette).left_out == ("x",)


def test_lean_out_states_only_theorems_the_replay_backend_can_start(shared: Path, tmp_path: Path) -> None:
    """--lean-out stated all 342 Lean Workbook theorems; none has a recorded initial state, so `prover prove`
    on the file failed every one at start. Now: refused when none can start; a mix states the startable ones and
    says how many it left out."""
    out, lean = tmp_path / "wb.jsonl", tmp_path / "wb.lean"
    code, text = build(
        str(out), str(shared / "data/proofsteps/lean_workbook_plasma_converter.jsonl"), "--lean-out", str(lean)
    )
    assert code == 2 and "none of the cassette's 342 theorems" in one_line(text)
    assert not out.exists() and not lean.exists()

    # The demo cassette plus one theorem with no recorded initial state.
    demo = Cassette.load(ROOT / "examples/demo.cassette.jsonl")
    first = next(iter(demo.theorems.values()))
    extra = first.model_copy(update={"name": "no_state", "statement": "theorem no_state : True", "initial_state": None})
    demo.theorems["no_state"] = extra
    sorry_file = lean_source_with_sorry(demo)
    assert sorry_file.left_out == ("no_state",)
    assert sorry_file.stated == len(demo.theorems) - 1
    assert "no_state" not in sorry_file.source and f"{first.statement} := by" in sorry_file.source


def test_lean_out_says_how_many_it_left_out(tmp_path: Path) -> None:
    out, lean = tmp_path / "f.jsonl", tmp_path / "f.lean"
    code, text = build(str(out), "--from-minif2f-fewshot", "--names", "mathd_algebra_182", "--lean-out", str(lean))
    assert code == 0, text
    assert f"wrote {lean}: 1 theorems with `sorry`" in " ".join(text.split())
    assert "left out" not in text and out.exists() and lean.exists()


def test_lean_out_equal_to_out_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--lean-out` naming OUT wrote the cassette, then the .lean text over it (rc 0)."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "cc.jsonl"
    code, text = build(str(out), "--from-minif2f-fewshot", "--names", "mathd_algebra_182", "--lean-out", "cc.jsonl")
    assert code == 2 and "is the cassette OUT itself" in one_line(text) and not out.exists()


def test_check_of_a_cassette_that_records_nothing_is_refused(tmp_path: Path) -> None:
    """`cassette check` on the empty cassette said "replayed 0/0 steps", rc 0."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"kind":"header","format":"lean-prover-cassette","version":2}\n', encoding="utf-8")
    result = run_cli(["cassette", "check", str(empty)])
    assert (
        result.exit_code == 2
        and one_line(result.output) == f"error: {empty} records nothing (no theorem, step or skeleton)"
    )


def _sample(shared: Path) -> Path:
    return shared / "data/proofsteps/leandojo_benchmark4_random_test_sample100.jsonl"


def test_build_refuses_an_out_that_is_also_an_input(shared: Path, tmp_path: Path) -> None:
    """`build mydata.jsonl other.jsonl`: the user's proofsteps given first would be replaced by the cassette."""
    mine = tmp_path / "mydata.jsonl"
    mine.write_bytes(_sample(shared).read_bytes())
    before = mine.read_bytes()
    code, text = build(str(mine), str(mine))
    assert code == 2 and "is also an input" in one_line(text)
    assert mine.read_bytes() == before


@pytest.mark.parametrize("content", ["theorem t : True := trivial\n", '{"state_before": "x", "tactic": "simp"}\n'])
def test_build_refuses_an_out_that_exists_and_is_not_a_cassette(shared: Path, tmp_path: Path, content: str) -> None:
    out = tmp_path / "Mine.lean"
    out.write_text(content, encoding="utf-8")
    code, text = build(str(out), str(_sample(shared)))
    assert code == 2 and "exists and is not a cassette" in one_line(text)
    assert out.read_text(encoding="utf-8") == content


def test_build_replaces_its_own_cassette_and_lean_out(shared: Path, tmp_path: Path) -> None:
    out, lean = tmp_path / "c.jsonl", tmp_path / "c.lean"
    fewshot = ("--from-minif2f-fewshot", "--names", "mathd_algebra_182")
    for _ in range(2):  # the second build replaces what the first one wrote
        code, text = build(str(out), *fewshot, "--lean-out", str(lean))
        assert code == 0, text
    assert Cassette.load(out).theorems
    user_lean = tmp_path / "Proof.lean"
    user_lean.write_text("theorem mine : True := trivial\n", encoding="utf-8")
    code, text = build(str(out), *fewshot, "--lean-out", str(user_lean))
    assert code == 2 and "was not written by `prover cassette build`" in one_line(text)
    assert user_lean.read_text(encoding="utf-8") == "theorem mine : True := trivial\n"
