"""A file that mixes line endings keeps each line's own: a rewritten proof's new lines take the line ending of the
line they are written on, so every other line's bytes stay as they were."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_the_line_ending_is_the_one_of_the_offsets_own_line() -> None:
    from prover.prove import line_ending_at

    text = "a\r\nb\nc\r\nd"
    assert [line_ending_at(text, text.index(ch)) for ch in "abcd"] == ["\r\n", "\n", "\r\n", "\r\n"]
    assert line_ending_at("one line", 3) == "\n"


@pytest.mark.parametrize(("crlf_lines", "where"), [(3, "header"), (-1, "declarations")])
def test_prove_write_keeps_every_lines_own_ending(repo_root: Path, tmp_path: Path, crlf_lines: int, where: str) -> None:
    from tests.cli_support import run_cli

    demo = (repo_root / "examples" / "demo.lean").read_text(encoding="utf-8")
    lines = demo.split("\n")
    cut = crlf_lines if crlf_lines > 0 else len(lines) // 2
    # The header's first lines CRLF and the rest LF, or the other way round.
    head, tail = lines[:cut], lines[cut:]
    mixed = (
        "\r\n".join(head) + "\r\n" + "\n".join(tail)
        if where == "header"
        else "\n".join(head) + "\n" + "\r\n".join(tail)
    )
    path = tmp_path / "mixed.lean"
    path.write_bytes(mixed.encode())
    cassette = str(repo_root / "examples" / "demo.cassette.jsonl")
    result = run_cli(
        ["prove", str(path), "--backend", "replay", "--cassette", cassette, "--generator", "fixed", "--write"]
    )
    assert result.exit_code in (0, 1), result.output
    written = path.read_bytes().decode()
    assert written != mixed
    old_lines, new_lines = mixed.splitlines(keepends=True), written.splitlines(keepends=True)
    # Lines of the old text that survive keep their ending; new lines end like the lines around them.
    assert [ln for ln in old_lines if "sorry" not in ln and ln in new_lines] == [
        ln for ln in old_lines if "sorry" not in ln
    ]
    crlf_new = sum(ln.endswith("\r\n") for ln in new_lines) - sum(ln.endswith("\r\n") for ln in old_lines)
    lf_new = sum(not ln.endswith("\r\n") for ln in new_lines) - sum(not ln.endswith("\r\n") for ln in old_lines)
    assert (crlf_new, lf_new)[0 if where == "header" else 1] == 0
