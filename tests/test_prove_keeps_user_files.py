"""`prover prove` never destroys a user's file with its own outputs, keeps the user's indentation, and
keeps stderr free of the live progress table when it is not a terminal."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from timeouts import SUBPROCESS_TIMEOUT_S

from tests.cli_support import DEMO, run_cli
from tests.cli_support import DEMO_CASSETTE as CASSETTE


def prove(path: Path, *extra: str) -> tuple[int, str, str]:
    args = ["prove", str(path), "--backend", "replay", "--cassette", str(CASSETTE), "--generator", "fixed", *extra]
    result = run_cli(args)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    target = tmp_path / "same.lean"
    shutil.copy(DEMO, target)
    return target


# -- --report / --tree-dir naming a user's file --------------------------------------------------------


@pytest.mark.parametrize("write", [False, True])
def test_report_naming_the_input_file_is_refused_before_searching(demo: Path, write: bool) -> None:
    """`prove same.lean -r same.lean` replaced the .lean text by the JSON report (rc 1, no backup);
    with -w it wrote the proofs, then the report over them."""
    original = demo.read_bytes()
    code, out, err = prove(demo, "-r", str(demo), *(["-w"] if write else []))
    assert code == 2, out + err
    assert err.strip().count("\n") == 0 and "would overwrite the input file" in err
    assert demo.read_bytes() == original
    assert list(demo.parent.iterdir()) == [demo]  # no backup, no report: nothing ran


def test_report_naming_a_symlink_to_the_input_is_refused(demo: Path) -> None:
    link = demo.parent / "r.json"
    link.symlink_to(demo)
    code, _, err = prove(demo, "-r", str(link))
    assert code == 2 and "would overwrite the input file" in err and demo.read_bytes() == DEMO.read_bytes()


@pytest.mark.parametrize("content", ["[lean]\nbackend = 'replay'\n", '{"not": "a report"}\n', "\x00\x01binary"])
def test_report_naming_another_users_file_is_refused(demo: Path, tmp_path: Path, content: str) -> None:
    other = tmp_path / "notes.toml"
    other.write_text(content, encoding="utf-8")
    code, _, err = prove(demo, "-r", str(other))
    assert code == 2 and "exists and is not a prove report" in err
    assert other.read_text(encoding="utf-8") == content


def test_report_naming_the_cassette_is_refused(demo: Path, tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    shutil.copy(CASSETTE, cassette)
    args = ["prove", str(demo), "--backend", "replay", "--cassette", str(cassette), "-g", "fixed", "-r", str(cassette)]
    result = run_cli(args)
    assert result.exit_code == 2 and cassette.read_bytes() == CASSETTE.read_bytes()


@pytest.mark.parametrize("previous", ["", "from_run"])
def test_an_earlier_report_or_an_empty_file_is_replaced(demo: Path, tmp_path: Path, previous: str) -> None:
    report = tmp_path / "report.json"
    if previous:
        prove(demo, "-r", str(report))
    else:
        report.write_text("", encoding="utf-8")  # e.g. made by mktemp
    code, out, err = prove(demo, "-r", str(report), "-t", "mathd_algebra_182")
    assert code == 0, out + err
    assert [t["name"] for t in json.loads(report.read_text(encoding="utf-8"))["theorems"]] == ["mathd_algebra_182"]


def test_tree_dir_naming_a_file_is_refused_before_searching(demo: Path, tmp_path: Path) -> None:
    """`--tree-dir same.lean` (a file) was a FileExistsError traceback after the search."""
    other = tmp_path / "same2.lean"
    shutil.copy(DEMO, other)
    report = tmp_path / "r.json"
    code, _, err = prove(demo, "--tree-dir", str(other), "-r", str(report), "-w")
    assert code == 2 and err.strip().count("\n") == 0 and "is a file, not a folder" in err
    assert other.read_bytes() == DEMO.read_bytes() and demo.read_bytes() == DEMO.read_bytes()
    assert not report.exists()


def test_report_and_tree_dir_the_same_path_is_refused(demo: Path, tmp_path: Path) -> None:
    both = tmp_path / "out"
    code, _, err = prove(demo, "--tree-dir", str(both), "-r", str(both))
    assert code == 2 and "is also the --tree-dir" in err and not both.exists()


# -- the live progress table only on a terminal ----------------------------------------------------------


def test_no_progress_table_when_stderr_is_a_log_file(demo: Path, tmp_path: Path) -> None:
    """`prover prove F 2>log` (CI) ended with the "proof search" table on stderr, repeating stdout's."""
    log = tmp_path / "log"
    with log.open("w", encoding="utf-8") as err:
        args = ["--backend", "replay", "--cassette", str(CASSETTE), "--generator", "fixed"]
        proc = subprocess.run(
            [sys.executable, "-m", "prover.cli", "prove", str(demo), *args],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_S,
        )
    assert proc.returncode == 1 and "4/5 proved" in " ".join(proc.stdout.split())  # the summary: stdout
    assert log.read_text(encoding="utf-8") == ""


def test_the_progress_table_is_shown_on_a_terminal(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    import prover.commands.prove as prove_command

    screen = io.StringIO()
    monkeypatch.setattr(prove_command, "err_console", Console(file=screen, force_terminal=True, width=100))
    code, _, err = prove(demo)
    assert code == 1 and "proof search" in screen.getvalue() and "proof search" not in err


# -- a filled proof keeps the indentation characters the user's proof used there ---------------------------


@pytest.mark.parametrize("margin", ["\t", "    "])
def test_a_proof_that_is_just_sorry_keeps_its_indentation(demo: Path, margin: str) -> None:
    """`sed 's/^  sorry$/\\tsorry/' demo.lean`, prove -w: `\\tsorry` became `  ring` (two spaces, the
    whole-proof rendering's own); four spaces became two the same way. Only the hole's bytes may change."""
    demo.write_text(DEMO.read_text(encoding="utf-8").replace("\n  sorry\n", f"\n{margin}sorry\n"), encoding="utf-8")
    code, out, err = prove(demo, "-w")
    assert code == 1, out + err  # mathd_algebra_141 has no recorded proof
    text = demo.read_text(encoding="utf-8")
    assert f"= 21 * y + 14 := by\n{margin}ring\n" in text
    assert f"x = 3 := by\n{margin}linarith\n" in text and f"369 := by\n{margin}sorry\n" in text
    assert "\n  ring" not in text


def test_further_lines_of_a_fill_keep_the_holes_line_margin() -> None:
    from lean_env.source.declarations import parse_lean_source
    from lean_env.source.edits import Edit, apply_edits
    from lean_env.source.render import render_script_at, render_whole_proof

    src = "theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n\tconstructor\n\t· sorry\n\texact ⟨sorry, hq⟩.1\n"
    decl = parse_lean_source(src).theorems[0]
    tactic, term = decl.holes
    assert (tactic.margin, term.margin) == ("\t", "\t")
    filled = apply_edits(src, [Edit(h.span, render_script_at(h, "skip\nexact hp")) for h in (tactic, term)])
    assert filled.endswith("\t· skip\n\t  exact hp\n\texact ⟨by\n\t  skip\n\t  exact hp, hq⟩.1\n")
    # A proof on the `by` line has no tactic line to follow: 2 columns past the declaration, as before.
    one = parse_lean_source("theorem s : True := by sorry\n").theorems[0]
    assert apply_edits("theorem s : True := by sorry\n", [render_whole_proof(one, "trivial")]).endswith(
        ":= by\n  trivial\n"
    )
