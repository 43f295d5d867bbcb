"""`lean_env.source` document model, command splitter, declaration parser and renderers: declarations, statements,
proofs, sorry positions, errors and proof rewriting."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lean_env.errors import LeanParseError
from lean_env.source.declarations import parse_lean_file, parse_lean_source
from lean_env.source.document import TARGET_KEYWORDS, LeanFile, TheoremDecl
from lean_env.source.edits import Edit, apply_edits
from lean_env.source.lexer import COMMAND_KEYWORDS, TokenKind, tokenize
from lean_env.source.render import render_script_at, render_whole_proof
from tests.cli_support import run_cli

TRICKY = """\
import Mathlib
import Aesop

/-! Module doc /- nested -/ still a comment: theorem fake : False := sorry -/

set_option maxHeartbeats 400000

open BigOperators Real

namespace Foo.Bar

/-- A doc comment mentioning `sorry` and theorem. -/
@[simp, norm_cast]
protected theorem «weird name» (x : ℕ) (h : x = «y») :
    |(x : ℤ)| ≥ 0 := by
  have h₁ : x ≥ 0 := by sorry -- sorry in a comment
  exact "sorry := theorem".length.le_refl

section S
variable (n : ℕ)

lemma fact_pos : ∀ n : ℕ, 0 < Nat.factorial n
  | 0 => Nat.one_pos
  | n+1 => by
    have := fact_pos n
    positivity

def f (x : ℕ := 3) : ℕ := x + 1
end S

theorem with_where : helper = 1 := by
  rfl
where
  helper : ℕ := sorry

theorem rec_thm (n : ℕ) : n = n := by
  induction n with
  | zero => rfl
  | succ n ih => sorry
termination_by n
decreasing_by sorry

set_option maxRecDepth 1000 in
theorem opt_in : True := trivial

example (a b : ℝ) : a ^ 2 + b ^ 2 ≥ 2 * a * b := by
  nlinarith [sq_nonneg (a - b)]

instance : Inhabited ℕ := ⟨0⟩

end Foo.Bar

theorem _root_.top_level : 'a' ≠ 'b' := by decide
"""


@pytest.fixture(scope="module")
def tricky() -> LeanFile:
    return parse_lean_source(TRICKY, "Tricky.lean")


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_header_imports_and_structure(tricky: LeanFile) -> None:
    assert tricky.imports == ["Mathlib", "Aesop"]
    assert tricky.header == TRICKY[: TRICKY.index("/-- A doc comment")]
    assert [(d.kind, d.name) for d in tricky.declarations] == [
        ("theorem", "Foo.Bar.«weird name»"),
        ("lemma", "Foo.Bar.fact_pos"),
        ("def", "Foo.Bar.f"),
        ("theorem", "Foo.Bar.with_where"),
        ("theorem", "Foo.Bar.rec_thm"),
        ("theorem", "Foo.Bar.opt_in"),
        ("example", f"Foo.Bar.example_{_line_of(TRICKY, 'example (a b')}"),
        ("instance", None),
        ("theorem", "top_level"),
    ]
    assert [t.kind for t in tricky.theorems] == [
        "theorem",
        "lemma",
        "theorem",
        "theorem",
        "theorem",
        "example",
        "theorem",
    ]


def test_doc_attributes_modifiers_multiline_statement(tricky: LeanFile) -> None:
    thm = tricky.get("«weird name»")
    assert thm.doc is not None and thm.doc.startswith("/-- A doc comment")
    assert thm.attributes == ("simp, norm_cast",)
    assert thm.modifiers == ("protected",)
    assert thm.statement == "theorem «weird name» (x : ℕ) (h : x = «y») :\n    |(x : ℤ)| ≥ 0"
    assert thm.proof.startswith("by\n  have h₁") and thm.proof.endswith(".le_refl")
    # The sorry in the comment and in the string literal do not count.
    assert [(p.line, p.column) for p in thm.sorries] == [(_line_of(TRICKY, "have h₁"), 25)]
    assert thm.header == TRICKY[: TRICKY.index("/-- A doc comment")]


def test_equation_style_where_and_termination(tricky: LeanFile) -> None:
    fact = tricky.get("fact_pos")
    assert fact.statement == "lemma fact_pos : ∀ n : ℕ, 0 < Nat.factorial n"
    assert fact.equation_style and fact.assign_span is None
    assert fact.proof.startswith("| 0 => Nat.one_pos") and fact.proof.endswith("positivity")

    ww = tricky.get("Foo.Bar.with_where")
    assert ww.proof == "by\n  rfl"
    assert ww.suffix == "where\n  helper : ℕ := sorry"
    assert ww.has_sorry  # the sorry in the `where` clause is still the theorem's

    rec = tricky.get("rec_thm")
    assert rec.proof.endswith("| succ n ih => sorry")
    assert rec.suffix == "termination_by n\ndecreasing_by sorry"
    assert len(rec.sorries) == 2


def test_in_prefix_and_to_theorem(tricky: LeanFile) -> None:
    opt = tricky.get("opt_in")
    assert opt.command_prefixes == ("set_option maxRecDepth 1000",)
    thm = opt.to_theorem()
    assert thm.name == "Foo.Bar.opt_in"
    assert thm.statement == "set_option maxRecDepth 1000 in\ntheorem opt_in : True"
    assert thm.header == TRICKY[: TRICKY.index("set_option maxRecDepth 1000 in")]

    lemma = tricky.get("fact_pos").to_theorem()
    assert lemma.statement.startswith("theorem fact_pos : ∀ n")

    ex = next(t for t in tricky.theorems if t.kind == "example")
    ex_thm = ex.to_theorem()
    assert ex_thm.name == ex.name and ex.name.endswith(f"example_{ex.line}")
    assert ex_thm.statement == f"theorem example_{ex.line} (a b : ℝ) : a ^ 2 + b ^ 2 ≥ 2 * a * b"

    assert tricky.get("top_level").statement == "theorem _root_.top_level : 'a' ≠ 'b'"


def test_get_unknown_name(tricky: LeanFile) -> None:
    with pytest.raises(KeyError, match="nope"):
        tricky.get("nope")


def test_spans_are_exact(tricky: LeanFile) -> None:
    data = TRICKY.encode()
    for thm in tricky.theorems:
        s = thm.statement_span
        assert TRICKY[s.start : s.end] == thm.statement
        assert data[s.start_byte : s.end_byte].decode() == thm.statement
        lines = TRICKY.split("\n")
        assert lines[s.start_line - 1][s.start_column - 1 :].startswith(thm.kind)
        for pos in thm.sorries:
            assert TRICKY[pos.offset : pos.offset + 5] == "sorry"
            assert data[pos.byte_offset : pos.byte_offset + 5] == b"sorry"
            assert lines[pos.line - 1][pos.column - 1 :].startswith("sorry")
        if thm.proof_span is not None:
            assert TRICKY[thm.proof_span.start : thm.proof_span.end] == thm.proof


def _minif2f_rows(shared: Path) -> list[dict[str, Any]]:
    path = shared / "data" / "minif2f" / "minif2f.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize(
    ("statement_key", "header_key"),
    [
        ("formal_statement", "header"),
        ("formal_statement_deepseek", "header_deepseek"),
        ("formal_statement_llemma", "header"),
    ],
)
def test_every_minif2f_statement_parses(shared: Path, statement_key: str, header_key: str) -> None:
    rows = _minif2f_rows(shared)
    assert len(rows) == 488
    for row in rows:
        header, stmt = row[header_key], row[statement_key]
        parsed = parse_lean_source(header + stmt, f"{row['name']}:{statement_key}")
        assert parsed.header == header
        assert parsed.imports[0] == "Mathlib"
        assert len(parsed.theorems) == 1
        thm = parsed.theorems[0]
        own_name = re.match(r"(?:theorem|lemma)\s+(\S+)", stmt)
        assert own_name is not None and thm.name == own_name.group(1)
        expected = stmt.split(":= by")[0].rstrip() if ":=" in stmt else stmt.rstrip()
        assert thm.statement == expected
        if statement_key == "formal_statement":
            assert thm.proof == "by sorry" and len(thm.sorries) == 1
        elif statement_key == "formal_statement_llemma":
            assert not thm.has_proof and thm.proof == ""
        theorem = thm.to_theorem()
        assert theorem.header == header and theorem.statement == expected


def test_deepseek_whole_proofs_parse(shared: Path) -> None:
    path = shared / "data" / "minif2f" / "deepseek_minif2f_valid_few_shot.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        src = row["informal_prefix"] + row["formal_statement"] + row["formal_proof"]
        thm = parse_lean_source(src).get(row["name"])
        assert thm.doc is not None  # the informal statement is a doc comment on the theorem
        assert thm.proof.rstrip().endswith(row["formal_proof"].rstrip().split("\n")[-1].strip())
        assert not thm.has_sorry


def _blocks(path: Path) -> list[dict[str, Any]]:
    return [json.loads(b) for b in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")) if b.strip()]


def test_sorry_positions_match_real_lean(shared: Path) -> None:
    """Every `sorry` the real REPL reported inside a theorem/example is found at the same position
    (REPL columns are 0-based), and we report no sorry that is not there."""
    checked = 0
    for inp in sorted((shared / "lean_fixtures" / "repl").rglob("*.in")):
        out = inp.with_name(inp.name[: -len(".in")] + ".expected.out")
        if not out.exists():
            continue
        try:
            requests, responses = _blocks(inp), _blocks(out)
        except json.JSONDecodeError:
            continue  # fixtures about malformed requests
        for req, resp in zip(requests, responses, strict=False):
            if "cmd" not in req:
                continue
            cmd = req["cmd"]
            parsed = parse_lean_source(cmd)
            mine = {(p.line, p.column - 1) for t in parsed.theorems for p in t.sorries}
            lines = cmd.split("\n")
            theirs = {
                (s["pos"]["line"], s["pos"]["column"])
                for s in resp.get("sorries", [])
                if lines[s["pos"]["line"] - 1][s["pos"]["column"] :].startswith("sorry")
            }
            in_targets = {
                pos
                for pos in theirs
                if any(t.decl_span.start_line <= pos[0] <= t.decl_span.end_line for t in parsed.theorems)
            }
            assert in_targets <= mine, (inp.name, cmd)
            # Lean omits sorries that face no goal (an error elsewhere); every one we report is a real token.
            for line, col in mine:
                assert lines[line - 1][col:].startswith("sorry")
            checked += len(in_targets)
    assert checked >= 35


def test_repl_fixture_files_parse(shared: Path) -> None:
    root = shared / "lean_fixtures" / "repl"
    demo = parse_lean_file(root / "Mathlib" / "test" / "file_env.lean").get("demo")
    assert demo.statement == "theorem demo (P Q R : Prop) : (P → Q) → (Q → R) → (P → R)"
    assert [(p.line, p.column) for p in demo.sorries] == [(15, 3)]
    guarded = parse_lean_file(root / "Mathlib" / "test" / "H20231214.lean").get("mathd_algebra_35")
    assert guarded.command_prefixes == ("#guard_msgs",)
    assert guarded.doc is not None and guarded.doc.startswith("/--\nerror: type mismatch")
    assert guarded.to_theorem().statement.startswith("theorem mathd_algebra_35\n  (p q : ℝ → ℝ)")
    induction = parse_lean_file(root / "Mathlib" / "test" / "induction.lean").get("bar")
    assert [(p.line, p.column) for p in induction.sorries] == [(5, 13), (6, 18)]


@pytest.mark.parametrize(
    ("source", "line", "column", "reason"),
    [
        ("theorem : True := trivial", 1, 1, "has no name"),
        ("import Mathlib\n\ntheorem foo := trivial", 3, 1, "has no type"),
        ("theorem foo (x : ℕ :\n  x = x := rfl", 1, 13, "unclosed bracket `(`"),
        ("theorem foo : True := trivial\n/- never closed", 2, 1, "unterminated comment"),
        ('theorem foo : "abc := x', 1, 15, "unterminated string"),
        ("theorem foo : True := ⟨x)", 1, 25, "does not match"),
        ("theorem foo : True := trivial\nend Foo", 2, 1, "`end` without"),
        ("theorem «foo : True := trivial", 1, 9, "unterminated identifier"),
        ("lemma", 1, 1, "has no name"),
    ],
)
def test_malformed_sources(source: str, line: int, column: int, reason: str) -> None:
    with pytest.raises(LeanParseError) as info:
        parse_lean_source(source, "Bad.lean")
    err = info.value
    assert (err.path, err.line, err.column) == ("Bad.lean", line, column)
    assert reason in err.reason
    assert str(err).startswith(f"Bad.lean:{line}:{column}: ")


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.lean"
    path.write_bytes(b"theorem foo : True := trivial\n-- caf\xe9\n")
    with pytest.raises(LeanParseError) as info:
        parse_lean_file(path)
    assert (info.value.line, info.value.column) == (2, 7)
    assert "UTF-8" in info.value.reason


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        parse_lean_file(tmp_path / "nope.lean")


def _rewrite_proof(source: str, decl: TheoremDecl, script: str) -> str:
    """`source` with `decl`'s whole proof replaced by `by` + `script`, as `prover prove` writes it."""
    return apply_edits(source, [render_whole_proof(decl, script)])


def test_whole_proof_rewrite_changes_only_that_proof(tricky: LeanFile) -> None:
    script = "intro x\nsimp\n  <;> ring"
    for thm in tricky.theorems:
        out = _rewrite_proof(TRICKY, thm, script)
        again = parse_lean_source(out)
        new = again.get(thm.name)
        assert new.tactic_script == script
        assert new.statement == thm.statement
        assert new.suffix == thm.suffix
        # Everything before the statement's end and after the old proof is byte-identical.
        assert out.startswith(TRICKY[: thm.statement_span.end])
        old_end = thm.proof_span.end if thm.proof_span is not None else thm.statement_span.end
        assert out.endswith(TRICKY[old_end:])
        # (Example names follow their line, which moves; statements and proofs do not.)
        others = [(t.statement, t.proof) for t in again.theorems if t.statement != thm.statement]
        assert others == [(t.statement, t.proof) for t in tricky.theorems if t.statement != thm.statement]


def test_whole_proof_rewrite_indents_as_the_old_proof() -> None:
    src = "namespace A\n  theorem t : True := by\n    sorry\nend A\n"
    thm = parse_lean_source(src).get("A.t")
    out = _rewrite_proof(src, thm, "trivial")
    assert out == "namespace A\n  theorem t : True := by\n    trivial\nend A\n"


def test_whole_proof_rewrite_adds_missing_proof(shared: Path) -> None:
    row = _minif2f_rows(shared)[0]
    src = row["header"] + row["formal_statement_llemma"]
    thm = parse_lean_source(src).theorems[0]
    out = _rewrite_proof(src, thm, "norm_num")
    assert out == src.rstrip() + " := by\n  norm_num" + src[len(src.rstrip()) :]
    assert parse_lean_source(out).theorems[0].proof == "by\n  norm_num"


def test_whole_proof_rewrite_rejects_empty_script(tricky: LeanFile) -> None:
    with pytest.raises(ValueError, match="empty"):
        render_whole_proof(tricky.theorems[0], "  \n")


_names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: s not in {"by", "at", "fun", "do", "in", "if", "then", "else", "have", "show", "from", "let", "end"}
)


@settings(max_examples=60, deadline=None)
@given(
    names=st.lists(_names, min_size=1, max_size=5, unique=True),
    comments=st.lists(
        st.sampled_from(["", "-- c := sorry\n", "/- theorem x : y := z -/\n", "/-- doc -/\n"]), min_size=5, max_size=5
    ),
    proofs=st.lists(
        st.sampled_from(["by simp", "by\n  sorry", "rfl", "by\n  intro h\n  exact (h : 1 = 1)"]), min_size=5, max_size=5
    ),
)
def test_generated_files_roundtrip(names: list[str], comments: list[str], proofs: list[str]) -> None:
    parts = ["import Mathlib\n\n"]
    for i, name in enumerate(names):
        parts.append(f"{comments[i]}theorem {name} (x : ℕ) (h : x = x) :\n    x + 0 = x := {proofs[i]}\n\n")
    src = "".join(parts)
    parsed = parse_lean_source(src)
    assert [t.name for t in parsed.theorems] == names
    for i, thm in enumerate(parsed.theorems):
        assert thm.statement == f"theorem {names[i]} (x : ℕ) (h : x = x) :\n    x + 0 = x"
        assert thm.proof == proofs[i]
        assert len(thm.sorries) == proofs[i].count("sorry")
        out = _rewrite_proof(src, thm, "omega")
        assert parse_lean_source(out).theorems[i].proof == "by\n  omega"


# --------------------------------------------------- real-file shapes: `… in` prefixes, `:=` in types, attributes

MATHD_182 = "theorem mathd_algebra_182 (y : ℂ) : 7 * (3 * y + 2) = 21 * y + 14 := by\n  sorry\n"


def test_commands_after_a_sorry_theorem_survive_a_fill() -> None:
    """Point 1, the quoted input: `alias` and `proof_wanted` were swallowed into the proof and lost."""
    tail = "alias mathd_algebra_182_alias := mathd_algebra_182\nproof_wanted w (y : ℂ) : y = y\n"
    src = "import Mathlib\n\n" + MATHD_182 + "\n" + tail
    lean = parse_lean_source(src)
    [decl] = lean.theorems
    assert decl.proof == "by\n  sorry"
    assert [(d.kind, d.name) for d in lean.declarations][1:] == [
        ("alias", "mathd_algebra_182_alias"),
        ("proof_wanted", "w"),
    ]
    filled = apply_edits(src, [Edit(decl.holes[0].span, render_script_at(decl.holes[0], "ring"))])
    whole = apply_edits(src, [render_whole_proof(decl, "ring")])
    for out in (filled, whole):
        assert out.endswith("\n" + tail)
        assert parse_lean_source(out).theorems[0].statement == decl.statement


@pytest.mark.parametrize("keyword", sorted(COMMAND_KEYWORDS - TARGET_KEYWORDS))
def test_every_command_keyword_ends_the_proof_above(keyword: str) -> None:
    """Point 1 for every command keyword of Lean core, Batteries, Mathlib and compfiles (cited in the lexer)."""
    src = f"namespace N\ntheorem t : True := by\n  trivial\n{keyword} x\n"
    decl = parse_lean_source(src).theorems[0]
    assert decl.proof == "by\n  trivial"


def test_stacked_in_prefixes_belong_to_the_declaration() -> None:
    """Point 2, the quoted card_filter_ne_le input: 0 theorems were found."""
    prefixes = (
        "set_option autoImplicit true in\n"
        "open Finset in\n"
        "open Classical in\n"
        "attribute [local instance] Classical.dec in\n"
    )
    stmt = "lemma card_filter_ne_le (S : Finset ℕ) : (S.filter (fun v => v ≠ 0)).card ≤ S.card := by sorry\n"
    src = "import Mathlib\n\n" + prefixes + stmt
    lean = parse_lean_source(src)
    [decl] = lean.theorems
    assert lean.header == "import Mathlib\n\n"
    assert decl.command_prefixes == (
        "set_option autoImplicit true",
        "open Finset",
        "open Classical",
        "attribute [local instance] Classical.dec",
    )
    assert src[decl.decl_span.start :].startswith("set_option autoImplicit")
    assert len(decl.holes) == 1 and decl.holes[0].position == "tactic"
    assert decl.to_theorem().statement.startswith(prefixes)
    # A single `attribute … in` line is a prefix too, not header.
    single = parse_lean_source("import Mathlib\nattribute [local instance] Classical.dec in\n" + stmt)
    assert single.header == "import Mathlib\n"
    assert single.theorems[0].command_prefixes == ("attribute [local instance] Classical.dec",)


def test_assign_inside_the_statement_type() -> None:
    """Point 3, the quoted odd_cubic input: the statement was cut at `let f`."""
    src = "theorem odd_cubic (x : ℝ) : let f := fun y : ℝ => y ^ 3 - y\n  f (-x) = -f x := by sorry\n"
    [decl] = parse_lean_source(src).theorems
    assert decl.statement == src[: src.rindex(" := by")]
    assert decl.proof == "by sorry"
    have = "theorem h2 : (have h : 1 = 1 := rfl; h) = rfl ∧ ∀ n : ℕ, have k := n; k = n := by\n  sorry\n"
    assert parse_lean_source(have).theorems[0].proof == "by\n  sorry"


def test_module_system_files() -> None:
    """Point 4: `module`, `public import`, `@[expose] public section`, `public meta`."""
    src = (
        "module\n\npublic import Mathlib.Tactic\nmeta import Lean.Elab\n\n@[expose] public section\n\n"
        "namespace Foo\npublic meta def helper : Nat := 1\n"
        "public noncomputable section\ntheorem t : 1 = 1 := by sorry\nend\nend Foo\n\nend\n"
    )
    lean = parse_lean_source(src)
    assert lean.imports == ["Mathlib.Tactic", "Lean.Elab"]
    assert [t.name for t in lean.theorems] == ["Foo.t"]
    assert ("def", "Foo.helper") in [(d.kind, d.name) for d in lean.declarations]
    snip = "module\npublic import Mathlib\npublic section\nsnip begin\ntheorem a : True := trivial\nsnip end\nend\n"
    assert [t.name for t in parse_lean_source(snip).theorems] == ["a"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("théorème_ñ", True),  # Latin-1 letters (isLetterLike, Lean ≥ v4.22)
        ("Łukasiewicz", True),  # Latin Extended-A
        ("xⱼ", True),  # U+2C7C subscript j
        ("h₁'", True),
        ("αβγ", True),
        ("λx", False),  # λ is syntax, not a letter
        ("x×y", False),  # × is not a letter
    ],
)
def test_identifier_characters_as_lean(name: str, expected: bool) -> None:
    """Point 5: Lean's isIdFirst/isIdRest/isLetterLike/isSubScriptAlnum (src/Init/Meta/Defs.lean)."""
    toks = tokenize(name)
    assert (len(toks) == 1 and toks[0].kind is TokenKind.IDENT) is expected


@pytest.mark.parametrize(
    "literal",
    [
        r'"a \" sorry \\"',
        's!"x = {f "sorry" 1} and {g {a := 1}}"',
        'r#"raw "sorry" \\ "#',
        'r"no escapes \\"',
        "'\"'",
        "'\\''",
        "`sorry",
        "``sorry.Nat",
        "«sorry x»",
    ],
)
def test_literals_hide_sorry(literal: str) -> None:
    """Point 5: strings (escapes, interpolation), raw strings, chars and name literals lex as one token,
    so a `sorry` or quote inside them is no hole and ends nothing."""
    src = f"theorem t : True := by\n  have := {literal}\n  sorry\n"
    [decl] = parse_lean_source(src).theorems
    assert len(decl.holes) == 1 and decl.holes[0].span.start_line == 3
    toks = [t for t in tokenize(literal) if t.kind is not TokenKind.COMMENT]
    assert len(toks) == 1 or (len(toks) == 2 and toks[0].text == "s!"), toks


# Where Lean reads a string literal as an interpolated string (`interpolatedStr`, whose `{…}` hold terms that may
# hold strings of their own): exactly after the syntax that declares one (cited in lean_env.source.lexer._INTERPOLATING).
# `"{"}"}"` is one interpolated string (the term `"}"` between braces) but three tokens as plain strings.
INTERPOLATED_AFTER = [
    "s!",
    "s! ",
    "m!",
    "f!",
    "println! ",
    "throwError ",
    "dbg_trace ",
    "reportIssue! ",
    "throwErrorAt stx ",
    "throwErrorAt (← getRef) ",
    "throwErrorAt stx[0] ",
    "throwErrorAt (f x).1 ",
    "throwErrorAt ⟨a, b⟩ ",
    "trace[Meta.debug] ",
    "throwNamedError lean.unknownIdentifier ",
    "throwNamedErrorAt ref lean.unknownIdentifier ",
    "logNamedError lean.unknownIdentifier ",
    "logNamedErrorAt (← getRef) lean.unknownIdentifier ",
    "logNamedWarning lean.unknownIdentifier ",
    "logNamedWarningAt ref lean.unknownIdentifier ",
]
# Plain functions taking `MessageData`/`String` (src/Lean/Log.lean `logInfo`, ...), `panic!` (a term), any other
# name ending in `!`, and a term after `throwErrorAt` that is not at its string argument.
PLAIN_AFTER = [
    "logInfo ",
    "logWarning ",
    "logError ",
    "logInfoAt ref ",
    "panic! ",
    "panic!",
    "foo!",
    "IO.println ",
    "throwErrorAt ",
    "f stx ",
    "trace ",
]


@pytest.mark.parametrize("head", INTERPOLATED_AFTER)
def test_strings_are_interpolated_after_the_syntax_that_declares_it(head: str) -> None:
    strings = [t.text for t in tokenize(f'{head}"{{"}}"}}" ++ x') if t.kind is TokenKind.STRING]
    assert strings == ['"{"}"}"'], head


@pytest.mark.parametrize("head", PLAIN_AFTER)
def test_strings_are_plain_after_functions_and_other_names(head: str) -> None:
    strings = [t.text for t in tokenize(f'{head}"{{" ++ x ++ "}}"') if t.kind is TokenKind.STRING]
    assert strings == ['"{"', '"}"'], head


@pytest.mark.parametrize(
    "text",
    [
        'm!"a{g (panic!"{")}b"',  # `panic!` takes a term: its `"{"` is plain
        'm!"a{g (logInfo "{")}b"',
        's!"a{f s!"{"}"}"}b"',  # a nested `s!` string is interpolated
        's!"a{f (throwError "{"}"}")}b"',  # so is a `throwError` string
    ],
)
def test_strings_in_an_interpolated_term_follow_the_same_rule(text: str) -> None:
    assert [(t.kind, t.text) for t in tokenize(text)] == [(TokenKind.IDENT, text[:2]), (TokenKind.STRING, text[2:])]


def test_hash_notation_vs_hash_command() -> None:
    """Point 5: `#s` (Mathlib's card notation) is `#` then `s`; `#check` is a command token."""
    kinds = [(t.kind, t.text) for t in tokenize("#s ≤ #check")]
    assert kinds[:2] == [(TokenKind.SYMBOL, "#"), (TokenKind.IDENT, "s")]
    assert kinds[-1] == (TokenKind.KEYWORD_HASH, "#check")
    src = "theorem t (s : Finset ℕ) : #s ≤ #s + 1 := by\n  sorry\n#check t\n"
    [decl] = parse_lean_source(src).theorems
    assert decl.statement.endswith("#s ≤ #s + 1") and decl.proof == "by\n  sorry"


def test_hash_notation_on_escaped_and_root_names() -> None:
    """`#_root_.s` and `#«s»` are `#` notation on the names `s` (`_root_.` only anchors a name, `«»` only quote a
    component): the lexer and the tactic filter share one `is_hash_command`, so both read them as notation.
    `#_root_.eval` stays a command token to both (Lean reads `#` then a name there, as no token starts
    `#_root_`, so this only errs on the side of refusal); `#«eval»` is `#` then `«eval»` as in Lean, and
    the filter refuses it all the same."""
    from lean_env.checks.tactic_filter import check_tactic

    for text in ("#_root_.s", "#«s»", "#_root_.«s».card"):
        kinds = [t.kind for t in tokenize(text)]
        assert kinds == [TokenKind.SYMBOL, TokenKind.IDENT], text
        assert check_tactic(f"exact foo ({text})") is None, text
    for text in ("#_root_.eval", "#min_imports"):
        assert [t.kind for t in tokenize(text)] == [TokenKind.KEYWORD_HASH], text
    assert [t.kind for t in tokenize("#«eval»")] == [TokenKind.SYMBOL, TokenKind.IDENT]
    for text in ("#_root_.eval 1", "#«eval» 1", "#_root_.«eval» 1"):
        assert check_tactic(f"simp\n{text}") is not None, text


def test_parse_command_lists_holes(tmp_path: Path) -> None:
    """`prover parse` shows each theorem's holes (statement sorries are no holes) and --json carries them."""

    path = tmp_path / "H.lean"
    path.write_text(
        "theorem h (x : ℕ) : answer(sorry) := by\n  constructor\n  · sorry\n  · exact ⟨sorry, rfl⟩\n", "utf-8"
    )
    table = run_cli(["parse", str(path)], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "2 (1 tactic, 1 term)" in table.stdout
    data = json.loads(run_cli(["parse", str(path), "--json"]).stdout)
    [thm] = data["theorems"]
    assert len(thm["sorries"]) == 3
    assert [(h["position"], h["index"], h["span"]["start_line"]) for h in thm["holes"]] == [
        ("tactic", 0, 3),
        ("term", 1, 4),
    ]


# compfiles' `problem` and `determine` (dwrensha/compfiles ProblemExtraction.lean at 0d7ea8b0a6a108792e018492223c7a488d65666a):
# `problem` is "A synonym for `theorem`" whose elab_rules elaborate `$dm theorem $di $ds $dv`; `determine` is "A
# synonym for `abbrev`", data "intended to be filled in as part of a solution" that "a human will inspect".
COMPFILES_SRC = """\
module

public import Mathlib

public import ProblemExtraction

@[expose] public section

problem_file { tags := [.Algebra] }

namespace Demo

noncomputable determine solution_set : Set ℝ := sorry

snip begin

lemma helper (x : ℝ) : x = x := rfl

snip end

/-- The problem. -/
problem demo_p1 (x : ℝ) (h : 0 < x) :
    x ∈ solution_set ↔ 0 < x := by
  constructor
  · sorry
  · intro hx
    exact sorry

end Demo
"""


def test_compfiles_problem_is_a_proof_target_and_determine_is_not() -> None:
    lean = parse_lean_source(COMPFILES_SRC, "Demo.lean")
    kinds = [(d.kind, d.name, d.is_target) for d in lean.declarations]
    assert kinds == [
        ("determine", "Demo.solution_set", False),
        ("lemma", "Demo.helper", True),
        ("problem", "Demo.demo_p1", True),
    ]
    helper, problem = lean.theorems
    assert problem.kind == "problem" and problem.short_name == "demo_p1" and problem.doc is not None
    assert [h.position for h in problem.holes] == ["tactic", "term"]
    # The `sorry` of the `determine` is an answer to choose, not a proof to search for: no hole anywhere.
    assert len(lean.get("demo_p1").holes) == 2 and not helper.holes
    # Checked on its own, a `problem` is what ProblemExtraction elaborates it to: a `theorem` of the same name.
    thm = problem.to_theorem()
    assert thm.statement.startswith("theorem demo_p1 (x : ℝ)") and thm.name == "Demo.demo_p1"
    assert "determine solution_set" in thm.header
    # A fill writes back into the `problem` as written.
    filled = apply_edits(COMPFILES_SRC, [Edit(h.span, render_script_at(h, "simp")) for h in problem.holes])
    again = parse_lean_source(filled, "Demo.lean")
    assert again.theorems[-1].kind == "problem" and not again.theorems[-1].holes
    assert again.theorems[-1].statement == problem.statement


def test_compfiles_corpus_problems_are_targets(shared: Path) -> None:
    """A real compfiles file: its `problem`'s proof (a long tactic script) is found, as for a `theorem`."""
    path = shared / "lean_corpus" / "compfiles" / "Compfiles" / "Bulgaria1998P2.lean"
    lean = parse_lean_source(path.read_text(encoding="utf-8"), str(path))
    [decl] = [t for t in lean.theorems if t.kind == "problem"]
    assert decl.name == "Bulgaria1998P2.bulgaria1998_p2"
    assert decl.proof.startswith("by\n  let x := ∠ D A C")
