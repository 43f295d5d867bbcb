"""The whole shared corpus (../shared/lean_corpus: 759 real, valid Lean 4 files from formal-conjectures and
compfiles, see its SOURCE.md) parses, and write-back round-trips on every file.

Property, per file: parse ONCE, replace every hole (`sorry` of a proof) by a marker tactic with span edits
applied in ONE pass (`apply_edits`), re-parse: the same declarations with the same statements, the markers
exactly where the holes were, and the original bytes everywhere else.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lean_env.source.declarations import parse_lean_source
from lean_env.source.document import LeanFile
from lean_env.source.edits import Edit, apply_edits
from lean_env.source.lexer import TokenKind, tokenize
from lean_env.source.render import render_script_at

EXPECTED_FILES = 759


@pytest.fixture(scope="module")
def corpus(shared: Path) -> list[Path]:
    root = shared / "lean_corpus"
    if not root.is_dir():
        pytest.fail(f"the shared Lean corpus is missing: {root}")
    files = sorted(root.rglob("*.lean"))
    assert len(files) == EXPECTED_FILES
    return files


def _round_trip(path: str, src: str, newline: str) -> tuple[int, int]:
    """Check the property on one source text; returns (declarations, holes)."""
    lean: LeanFile = parse_lean_source(src, path)
    edits: list[Edit] = []
    markers: list[str] = []
    for decl in lean.theorems:
        for hole in decl.holes:
            marker = f"marker_{len(markers)}"
            markers.append(marker)
            edits.append(Edit(hole.span, render_script_at(hole, marker, newline)))
    new = apply_edits(src, edits)

    # Original bytes everywhere else, each replacement exactly where its hole was.
    pos_old, pos_new = 0, 0
    for edit in sorted(edits, key=lambda e: e.span.start):
        gap = edit.span.start - pos_old
        assert new[pos_new : pos_new + gap] == src[pos_old : edit.span.start], path
        pos_new += gap
        assert new[pos_new : pos_new + len(edit.replacement)] == edit.replacement, path
        pos_new += len(edit.replacement)
        pos_old = edit.span.end
    assert new[pos_new:] == src[pos_old:], path

    again = parse_lean_source(new, path)
    assert [(d.kind, d.name) for d in again.declarations] == [(d.kind, d.name) for d in lean.declarations], path
    assert [t.statement for t in again.theorems] == [t.statement for t in lean.theorems], path
    assert all(not t.holes for t in again.theorems), path
    # Each marker is an identifier inside the proof of the declaration its hole belonged to.
    found = {t.text: t.start for t in tokenize(new, keep_comments=False) if t.kind is TokenKind.IDENT}
    k = 0
    for old_decl, new_decl in zip(lean.theorems, again.theorems, strict=True):
        for _ in old_decl.holes:
            at = found[f"marker_{k}"]
            assert new_decl.decl_span.start < at < new_decl.decl_span.end, (path, k)
            k += 1
    return len(lean.declarations), len(markers)


def test_whole_corpus_parses_and_round_trips(corpus: list[Path]) -> None:
    decls = holes = 0
    for path in corpus:
        d, h = _round_trip(str(path), path.read_text(encoding="utf-8"), "\n")
        decls += d
        holes += h
    # Every file parses, with thousands of declarations and holes.
    assert decls > 5000 and holes > 1200


def test_round_trip_with_bom_and_crlf(corpus: list[Path]) -> None:
    """A sample of the corpus as a Windows editor saves it: BOM + CRLF, kept byte for byte."""
    for path in corpus[::19]:
        src = "\ufeff" + path.read_text(encoding="utf-8").replace("\n", "\r\n")
        _round_trip(str(path), src, "\r\n")


def test_previously_refused_module_files(corpus: list[Path]) -> None:
    """Issue 11 point 4: these were refused with "`end` without an open namespace" (`snip end`, `public
    section`). Each also has one compfiles `problem`, a proof target like its theorems and lemmas."""
    names = {"Imo2008P5.lean": 5 + 1, "Imo2016P5.lean": 15 + 1, "Imo2026P3.lean": 198 + 1}
    for path in corpus:
        if path.name in names and path.parent.name == "Compfiles":
            lean = parse_lean_source(path.read_text(encoding="utf-8"), str(path))
            assert len(lean.theorems) == names.pop(path.name), path
    assert not names
