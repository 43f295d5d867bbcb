"""A theorem renamed in the file is still found in the cassette by its statement, the declared name set aside
(as `same_theorem` sets it aside); a changed statement is not."""

from __future__ import annotations

from pathlib import Path

from lean_env.cassette.store import Cassette
from lean_env.source.declarations import parse_lean_source


def test_a_renamed_theorem_is_found_by_its_statement_and_proved(repo_root: Path, tmp_path: Path) -> None:
    from tests.cli_support import run_cli

    demo = (repo_root / "examples" / "demo.lean").read_text(encoding="utf-8")
    renamed = demo.replace("theorem mathd_algebra_182", "theorem foo")
    cassette = Cassette.load(repo_root / "examples" / "demo.cassette.jsonl")
    theorem = parse_lean_source(renamed).get("foo").to_theorem()
    record = cassette.find_theorem(theorem)
    assert record is not None and record.name == "mathd_algebra_182"
    changed = parse_lean_source(renamed.replace("= 21 * y + 14", "= 21 * y + 15")).get("foo").to_theorem()
    assert cassette.find_theorem(changed) is None

    path = tmp_path / "ren.lean"
    path.write_text(renamed, encoding="utf-8")
    args = [
        "prove",
        str(path),
        "--backend",
        "replay",
        "--cassette",
        str(repo_root / "examples" / "demo.cassette.jsonl"),
    ]
    result = run_cli([*args, "--generator", "fixed", "--theorem", "foo"])
    assert result.exit_code == 0, result.output
    assert "1/1 proved" in result.output
