"""`prover parse`: table and JSON output, and the one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_support import run_cli

SOURCE = """\
import Mathlib

open Real

namespace Demo

/-- doc -/
theorem two_sorries (a b : ℝ) (h : a = b) :
    a + 0 = b := by
  have : a = a := by sorry
  sorry

example : (1 : ℕ) + 1 = 2 := by norm_num

end Demo
"""


def _write(tmp_path: Path, text: str, name: str = "Demo.lean") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_json_output(tmp_path: Path) -> None:
    path = _write(tmp_path, SOURCE)
    result = run_cli(["parse", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["imports"] == ["Mathlib"]
    assert data["header"] == SOURCE[: SOURCE.index("/-- doc -/")]
    names = [t["name"] for t in data["theorems"]]
    assert names == ["Demo.two_sorries", "Demo.example_13"]
    first = data["theorems"][0]
    assert first["statement"] == "theorem two_sorries (a b : ℝ) (h : a = b) :\n    a + 0 = b"
    assert [(s["line"], s["column"]) for s in first["sorries"]] == [(10, 22), (11, 3)]
    assert first["has_sorry"] is True and first["statement_span"]["start_line"] == 8
    assert data["theorems"][1]["has_sorry"] is False


def test_table_output(tmp_path: Path) -> None:
    path = _write(tmp_path, SOURCE)
    result = run_cli(["parse", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "imports: Mathlib" in result.stdout
    assert "Demo.two_sorries" in result.stdout and "10:22, 11:3" in result.stdout
    assert "Demo.example_13" in result.stdout


def test_every_minif2f_statement_through_the_cli(shared: Path, tmp_path: Path) -> None:
    rows = [json.loads(line) for line in (shared / "data/minif2f/minif2f.jsonl").read_text("utf-8").splitlines()]
    # One file holding every problem (header once) is a realistic, large input for the command.
    body = "\n\n".join(row["formal_statement"] for row in rows)
    path = _write(tmp_path, rows[0]["header"] + body, "All.lean")
    result = run_cli(["parse", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [t["name"] for t in data["theorems"]] == [row["name"] for row in rows]
    assert all(len(t["sorries"]) == 1 for t in data["theorems"])


def test_malformed_file_exit_2_with_position(tmp_path: Path) -> None:
    path = _write(tmp_path, "import Mathlib\n\ntheorem bad (x : ℕ :\n  x = x := rfl\n", "Bad.lean")
    result = run_cli(["parse", str(path)])
    assert result.exit_code == 2
    assert f"error: {path}:3:13: unclosed bracket `(`" in " ".join(result.output.split())
    assert len(result.output.strip().splitlines()) == 1


def test_missing_and_non_utf8_files(tmp_path: Path) -> None:
    result = run_cli(["parse", str(tmp_path / "missing.lean")])
    assert result.exit_code == 2 and "no such file" in result.output
    bad = tmp_path / "latin1.lean"
    bad.write_bytes(b"theorem caf\xe9 : True := trivial\n")
    result = run_cli(["parse", str(bad)])
    assert result.exit_code == 2 and ":1:12: not valid UTF-8" in result.output


def test_listing_is_readable_in_80_columns_on_a_formal_conjectures_file(shared: Path) -> None:
    """at 80 columns the 7-column table folded names and statements to 11 characters a line
    ("CasasAlvero / .HasCasasAl / veroPropᵣ.h / ..."), and the header dump dropped the file's blank lines."""
    path = shared / "lean_corpus/formal-conjectures/FormalConjectures/Paper/CasasAlvero.lean"
    result = run_cli(["parse", str(path)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    data = json.loads(run_cli(["parse", str(path), "--json"]).stdout)
    for thm in data["theorems"]:  # one line per declaration: line, kind, whole name, its sorries
        [row] = [ln for ln in lines if ln.split()[:3] == [str(thm["line"]), thm["kind"], thm["name"]]]
        where = ", ".join(f"{s['line']}:{s['column']}" for s in thm["sorries"])
        assert (where in row) if where else row.endswith("(no sorry)"), row
        statement = lines[lines.index(row) + 1]  # the statement below, cut to the width
        assert len(statement) <= 80 and statement.split()[:2] == thm["statement"].split()[:2], statement
    assert not any(ch in result.stdout for ch in "│┃━")
    # The header is dumped as the file has it, blank lines included (indented by two spaces).
    start = lines.index("header:") + 1
    dumped = [ln[2:] if ln else ln for ln in lines[start : start + len(data["header"].strip().splitlines())]]
    assert dumped == data["header"].strip().splitlines()
    assert "" in dumped
