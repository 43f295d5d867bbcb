"""The document model's write path: holes, span edits, script layout and byte-exact write-back.

Layout rules are Lean's: `Lean.Parser.Tactic.tacticSeq1Indented` is `sepByIndent tactic "; "`
(leanprover/lean4 src/Lean/Parser/Term.lean) and `sepByIndent` (src/Lean/Parser/Extra.lean) takes each
further tactic with `checkColEq`, so a tactic sequence's steps share one column and deeper lines continue
the step above.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lean_env.backends.replay import flatten_proof
from lean_env.source.declarations import parse_lean_file, parse_lean_source
from lean_env.source.document import Hole
from lean_env.source.edits import Edit, Span, apply_edits, dedent_script, split_steps
from lean_env.source.render import render_script_at, render_whole_proof
from prover.files import write_preserving

SKELETON = """theorem t (x : ℕ) (h : x = 2) : x = 2 ∧ 2 = x := by
  constructor
  · sorry
  · have hx : x = 2 := by sorry
    have hy : 2 = x := sorry
    exact ⟨sorry, hy⟩.2
"""


def _span(start: int, end: int) -> Span:
    return Span(start, end, start, end, 1, start + 1, 1, end + 1)


# ------------------------------------------------------------------------------------------ apply_edits


def test_apply_edits_one_pass_any_order() -> None:
    src = "abcdef"
    assert apply_edits(src, [Edit(_span(4, 5), "E"), Edit(_span(0, 1), "AA"), Edit(_span(2, 2), "+")]) == "AAb+cdEf"
    assert apply_edits(src, []) == src


@pytest.mark.parametrize(
    "edits",
    [
        [Edit(_span(0, 3), "x"), Edit(_span(2, 4), "y")],  # overlap
        [Edit(_span(2, 2), "x"), Edit(_span(2, 2), "y")],  # two insertions at one point: order ambiguous
        [Edit(_span(5, 9), "x")],  # outside
    ],
)
def test_apply_edits_refuses_overlaps_and_foreign_spans(edits: list[Edit]) -> None:
    with pytest.raises(ValueError):
        apply_edits("abcdef", edits)


# ------------------------------------------------------------------------------------------ holes


def test_holes_positions_indents_and_order() -> None:
    decl = parse_lean_source(SKELETON).theorems[0]
    holes = decl.holes
    assert [h.index for h in holes] == [0, 1, 2, 3]
    assert all(SKELETON[h.span.start : h.span.end] == "sorry" for h in holes)
    assert [h.position for h in holes] == ["tactic", "tactic", "term", "term"]
    # `· sorry`: the sorry's own column; `have … := sorry` inside a bullet: the `have`'s column + 2.
    assert holes[0].indent == SKELETON.split("\n")[2].index("sorry")
    assert holes[2].indent == 6 and not holes[2].parenthesize
    assert holes[3].indent == 6 and not holes[3].parenthesize  # `⟨sorry, …⟩` takes a bare `by`


def test_holes_in_tactic_blocks_after_arrows_and_lines() -> None:
    src = (
        "theorem r (n : ℕ) : n = n := by\n"
        "  induction n with\n"
        "  | zero => sorry\n"
        "  | succ n ih =>\n"
        "    simp\n"
        "    sorry\n"
        "example : (fun x : ℕ => x) = id := funext fun x => sorry\n"
        "example (f : ℕ → ℕ) : f 0 = f 0 := congrArg f sorry\n"
    )
    lean = parse_lean_source(src)
    assert [h.position for h in lean.theorems[0].holes] == ["tactic", "tactic"]
    assert [(h.position, h.parenthesize) for h in lean.theorems[1].holes] == [("term", False)]
    assert [(h.position, h.parenthesize) for h in lean.theorems[2].holes] == [("term", True)]


def test_term_hole_in_an_alternative_indents_past_its_tactic() -> None:
    src = "theorem a (n : ℕ) : n = n := by\n  cases n with\n  | zero => rfl\n  | succ n => exact id sorry\n"
    [hole] = parse_lean_source(src).theorems[0].holes
    assert (hole.position, hole.parenthesize) == ("term", True)
    assert hole.indent == src.split("\n")[3].index("exact") + 2


def test_render_script_at_reindents_to_the_hole() -> None:
    lean = parse_lean_source(SKELETON)
    holes = lean.theorems[0].holes
    script = "norm_num\nlinarith"
    edits = [Edit(h.span, render_script_at(h, script)) for h in holes]
    out = apply_edits(SKELETON, edits)
    assert out == (
        "theorem t (x : ℕ) (h : x = 2) : x = 2 ∧ 2 = x := by\n"
        "  constructor\n"
        "  · norm_num\n"
        "    linarith\n"
        "  · have hx : x = 2 := by norm_num\n"
        "                          linarith\n"
        "    have hy : 2 = x := by\n"
        "      norm_num\n"
        "      linarith\n"
        "    exact ⟨by\n"
        "      norm_num\n"
        "      linarith, hy⟩.2\n"
    )
    # The filled file parses to the same declaration, with no hole left.
    again = parse_lean_source(out).theorems[0]
    assert again.statement == lean.theorems[0].statement and again.holes == ()


def test_render_term_hole_parenthesized_and_one_line() -> None:
    hole = Hole(_span(0, 5), "term", 4, 0, parenthesize=True)
    assert render_script_at(hole, "simp") == "(by simp)"
    assert render_script_at(hole, "simp\nring", "\r\n") == "(by\r\n    simp\r\n    ring)"
    with pytest.raises(ValueError):
        render_script_at(hole, "  \n")


def test_render_whole_proof_keeps_statement_and_assign() -> None:
    src = "namespace N\n  theorem w (a : ℕ) : a = a :=\n    sorry\nend N\n"
    decl = parse_lean_source(src).theorems[0]
    out = apply_edits(src, [render_whole_proof(decl, "intro\nrfl")])
    assert out == "namespace N\n  theorem w (a : ℕ) : a = a := by\n    intro\n    rfl\nend N\n"
    bare = "theorem s : True\n"
    out2 = apply_edits(bare, [render_whole_proof(parse_lean_source(bare).theorems[0], "trivial")])
    assert out2 == "theorem s : True := by\n  trivial\n"


# ------------------------------------------------------------------------------------------ scripts


def test_dedent_and_split_steps() -> None:
    assert dedent_script("\n    a\n      b\n    c\n\n") == "a\n  b\nc"
    assert split_steps("  intro h\n  exact h") == ["intro h", "exact h"]
    # Lean reads a deeper line as the step above continued: one step, not two.
    assert split_steps("intro h\n  exact h") == ["intro h\n  exact h"]
    assert split_steps("nlinarith [a,\nb]\nrfl") == ["nlinarith [a,\nb]", "rfl"]
    assert split_steps("cases h\n<;> simp\nrfl") == ["cases h\n<;> simp", "rfl"]
    assert split_steps('simp [show "a\nb" = x from h]\nrfl') == ['simp [show "a\nb" = x from h]', "rfl"]
    assert split_steps("constructor\n· simp\n  ring\n· rfl") == ["constructor", "· simp\n  ring", "· rfl"]
    assert split_steps("") == []


def test_flatten_proof_multi_step_from_proof_body() -> None:
    """Issue 11: `intro h` / `exact h` as `proof_body` gave it (first line indented) was one step."""
    assert flatten_proof("  intro h\n  exact h") == ["intro h", "exact h"]
    assert flatten_proof("by\n  intro h\n  exact h") == ["intro h", "exact h"]
    decl = parse_lean_source("theorem i (p : Prop) : p → p := by\n  intro h\n  exact h\n").theorems[0]
    assert decl.tactic_script == "intro h\nexact h"
    assert flatten_proof(decl.tactic_script) == ["intro h", "exact h"]


def test_tactic_script_keeps_the_first_tactics_column() -> None:
    first = "theorem i (p : Prop) : p → p := by intro h"
    src = first + "\n" + " " * first.index("intro") + "exact h\n"
    decl = parse_lean_source(src).theorems[0]
    # `exact h` stands in the column of `intro h`: the two are the block's two steps.
    assert decl.tactic_script == "intro h\nexact h"
    assert parse_lean_source("theorem z : True := sorry\n").theorems[0].tactic_script is None


# ------------------------------------------------------------------------------------------ BOM, CRLF, mode


def test_bom_crlf_and_mode_survive_a_fill(tmp_path: Path) -> None:
    """Issue 11 point 6: parse + edits + write_preserving keeps the BOM, CRLF line endings and the mode."""
    text = "\ufeffimport Mathlib\r\n\r\ntheorem b (x : ℕ) : x = x := by\r\n  sorry\r\n-- tail\r\n"
    path = tmp_path / "Bom.lean"
    path.write_bytes(text.encode("utf-8"))
    os.chmod(path, 0o644)
    lean = parse_lean_file(path)
    assert lean.source == text and lean.header == "import Mathlib\r\n\r\n"
    decl = lean.theorems[0]
    assert lean.source[decl.statement_span.start : decl.statement_span.end] == decl.statement
    hole = decl.holes[0]
    new = apply_edits(lean.source, [Edit(hole.span, render_script_at(hole, "intro\nrfl", "\r\n"))])
    write_preserving(path, new)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data == text.replace("sorry", "intro\r\n  rfl").encode("utf-8")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert not [p for p in tmp_path.iterdir() if p.name != "Bom.lean"]  # no temporary file left


def test_write_preserving_through_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "Real.lean"
    target.write_text("theorem a : True := sorry\n", encoding="utf-8")
    os.chmod(target, 0o640)
    link = tmp_path / "Link.lean"
    link.symlink_to(target)
    write_preserving(link, "theorem a : True := trivial\n")
    assert link.is_symlink() and target.read_text(encoding="utf-8") == "theorem a : True := trivial\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_write_preserving_needs_an_existing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_preserving(tmp_path / "missing.lean", "x")


# ------------------------------------------------------------------------------------------ layout property

_ONE_LINE = ["simp", "ring_nf", "norm_num [h]", "exact h", "linarith", "omega", "rfl"]
_MULTI_LINE = [
    "have h2 : x = 1 := by\n  simp\n  ring",
    "nlinarith [sq_nonneg (a - b),\n  sq_nonneg (a + b)]",
    "calc a = b := by simp\n  _ = c := by ring",
    "· simp\n  ring",
    "cases h\n<;> simp",
    'simp [show "a\nb" = s from rfl]',
]


@given(st.lists(st.sampled_from(_ONE_LINE + _MULTI_LINE), min_size=1, max_size=5))
@settings(max_examples=60, deadline=None)
def test_a_filled_script_reads_back_as_the_same_steps(steps: list[str]) -> None:
    """Rendering a script at a hole and reading the filled proof back gives the same top-level steps, for
    a hole after `by` on the same line, on its own line, under a bullet, and in term position."""
    script = "\n".join(steps)
    expected = split_steps(script)
    assert expected == [dedent_script(s) for s in steps]
    flat = flatten_proof(script)
    skeletons = {
        "same_line": "theorem t : P := by sorry\n",
        "own_line": "theorem t : P := by\n  intro x\n  sorry\n",
        "bullet": "theorem t : P := by\n  constructor\n  · sorry\n  · rfl\n",
        "term": "theorem t : P := by\n  have h : Q := sorry\n  exact h\n",
    }
    for kind, src in skeletons.items():
        [hole] = parse_lean_source(src).theorems[0].holes
        out = apply_edits(src, [Edit(hole.span, render_script_at(hole, script))])
        decl = parse_lean_source(out).theorems[0]
        got = split_steps(decl.tactic_script or "")
        if kind == "same_line":
            assert got == expected, out
        elif kind == "own_line":
            assert got == ["intro x", *expected], out
        elif kind == "bullet":
            assert flatten_proof(decl.tactic_script or "") == ["constructor", *flat, "rfl"], out
        else:
            have, exact = got
            assert exact == "exact h" and have.startswith("have h : Q := by"), out
            assert split_steps(have.split("\n", 1)[1] if "\n" in have else have[len("have h : Q := by") :]) == expected
