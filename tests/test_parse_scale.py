"""The document model is linear in the file: no declaration holds a copy of the text before it.

A file of short theorems, as `prover parse` was given (4,000 of them took 1.1 GB when every declaration kept
its header as a copy of all text before it), here 1,000 of them: the memory the parse keeps and its peak are
bounded by a constant times the source size, and every position (line, column, byte offset) is still exact.
"""

from __future__ import annotations

import json
import tracemalloc

from lean_env.source.declarations import parse_lean_source

HEADER = "import Mathlib\n\nopen Real\n\n"


def short_theorems(count: int) -> str:
    # Non-ASCII (`ℕ`), so byte offsets differ from code-point offsets all along the file.
    body = "".join(f"theorem t_{i} (n : ℕ) (h : n = {i}) : n + 0 = {i} := by\n  simp [h]\n\n" for i in range(count))
    return HEADER + body + "theorem last (y : ℕ) : y = y := by\n  sorry\n"


def test_parse_memory_is_linear_in_the_file() -> None:
    text = short_theorems(1000)
    tracemalloc.start()
    try:
        parsed = parse_lean_source(text, "Many.lean")
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(parsed.theorems) == 1001
    # With a header copy per declaration this file keeps ~35 MB (500 bytes per source byte); spans keep ~25.
    assert kept < 60 * len(text), kept / len(text)
    assert peak < 150 * len(text), peak / len(text)


def test_each_header_is_the_text_before_its_declaration() -> None:
    text = "\ufeff" + short_theorems(50)
    parsed = parse_lean_source(text, "Many.lean")
    for thm in parsed.theorems:
        assert thm.header == text[1 : thm.decl_span.start]
        assert thm.to_theorem().header == thm.header
    assert parsed.theorems[0].header == parsed.header == HEADER


def test_positions_stay_exact_across_many_lines_of_non_ascii_text() -> None:
    text = short_theorems(300) + "theorem «ünïcode» (x : ℝ) : x = x := by\n  rfl\n"
    parsed = parse_lean_source(text, "Many.lean")
    for thm in parsed.theorems:
        for span in (thm.decl_span, thm.statement_span, thm.proof_span):
            assert span is not None
            for offset, byte, line, column in (
                (span.start, span.start_byte, span.start_line, span.start_column),
                (span.end, span.end_byte, span.end_line, span.end_column),
            ):
                assert byte == len(text[:offset].encode("utf-8"))
                assert line == text.count("\n", 0, offset) + 1
                assert column == offset - (text.rfind("\n", 0, offset) + 1) + 1


def test_json_listing_is_linear_in_the_file() -> None:
    text = short_theorems(1000)
    data = parse_lean_source(text, "Many.lean").to_json()
    assert all("header" not in thm and "source" not in thm for thm in data["theorems"])
    assert len(json.dumps(data)) < 40 * len(text)
