"""prover.files: outputs get the user's umask, a user's file keeps its mode (not mkstemp's 0600)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from prover.files import atomic_write, write_preserving


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("umask_022")
def test_a_new_output_gets_the_umask_and_an_existing_one_keeps_its_mode(tmp_path: Path) -> None:
    report = tmp_path / "out" / "report.md"
    atomic_write(report, "# report\n")
    assert report.stat().st_mode & 0o777 == 0o644  # was 0600: mkstemp's mode survived the rename
    report.chmod(0o664)
    atomic_write(report, "# again\n")
    assert report.stat().st_mode & 0o777 == 0o664 and report.read_text(encoding="utf-8") == "# again\n"
    assert [p.name for p in report.parent.iterdir()] == ["report.md"]  # no temporary file left


@pytest.mark.usefixtures("umask_022")
def test_write_preserving_keeps_mode_and_bytes(tmp_path: Path) -> None:
    path = tmp_path / "f.lean"
    path.write_bytes(b"\xef\xbb\xbftheorem t : True := by\r\n  sorry\r\n")
    path.chmod(0o640)
    write_preserving(path, "\ufefftheorem t : True := by\r\n  trivial\r\n")
    assert path.read_bytes() == b"\xef\xbb\xbftheorem t : True := by\r\n  trivial\r\n"
    assert path.stat().st_mode & 0o777 == 0o640
