"""Line layout read as Lean reads it: isolated carriage returns (refused, as Lean's `whitespace` refuses them),
several imports on one line, and a declaration keyword in the middle of a line (it ends the proof before it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lean_env.errors import LeanParseError
from lean_env.source.declarations import parse_lean_source
from lean_env.source.lexer import LexError, tokenize
from tests.cli_support import run_cli

DEMO_HEADER = (
    "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 0\n\nopen BigOperators Real Nat Topology Rat\n\n"
)
THEOREMS = "theorem a : 1 = 1 := by\n  sorry\n\ntheorem b : 2 = 2 := by\n  sorry\n"


def test_an_isolated_carriage_return_does_not_lex_but_crlf_and_one_inside_a_comment_or_string_do() -> None:
    """lean4 src/Lean/Parser/Basic.lean `whitespace` (at 00c1b82722b50e9b1ae4999ccc97f932b2788b51): a `\\r` there
    is "isolated carriage returns are not allowed"; comments and strings are not whitespace."""
    with pytest.raises(LexError) as exc:
        tokenize("theorem a : 1 = 1 := by\r  rfl\r")
    assert exc.value.offset == "theorem a : 1 = 1 := by".index("by") + 2
    assert [t.text for t in tokenize("theorem a : 1 = 1 := by\r\n  rfl\r\n")][-1] == "rfl"
    assert [t.text for t in tokenize('def s := "a\rb" -- c\rd\n', keep_comments=False)] == ["def", "s", ":=", '"a\rb"']


def test_a_classic_mac_file_is_refused_in_one_line_with_exit_2(tmp_path: Path, repo_root: Path) -> None:

    path = tmp_path / "cr.lean"
    path.write_bytes((DEMO_HEADER + THEOREMS).replace("\n", "\r").encode())
    with pytest.raises(LeanParseError):
        parse_lean_source(path.read_bytes().decode(), str(path))
    cassette = str(repo_root / "examples" / "demo.cassette.jsonl")
    for args in (["parse", str(path)], ["prove", str(path), "--backend", "replay", "--cassette", cassette]):
        result = run_cli([*args, "--generator", "fixed"] if args[0] == "prove" else args)
        assert result.exit_code == 2, result.output
        assert "isolated carriage return" in result.output and result.output.strip().count("\n") == 0


@pytest.mark.parametrize(
    ("line", "imports"),
    [
        ("import Mathlib import Aesop", ["Mathlib", "Aesop"]),
        ("public import Mathlib\nmeta import all Aesop", ["Mathlib", "Aesop"]),
    ],
)
def test_several_imports_on_one_line_are_each_an_import(line: str, imports: list[str]) -> None:
    assert parse_lean_source(f"{line}\ntheorem foo : 1 = 1 := by\n  sorry\n").imports == imports


def test_a_declaration_keyword_mid_line_ends_the_proof_before_it() -> None:
    lean_file = parse_lean_source("import Mathlib\ntheorem foo : 1 = 1 := by sorry theorem bar : 2 = 2 := by sorry\n")
    foo, bar = lean_file.theorems
    assert (foo.name, foo.proof, len(foo.sorries)) == ("foo", "by sorry", 1)
    assert (bar.name, bar.statement, len(bar.sorries)) == ("bar", "theorem bar : 2 = 2", 1)
    one_line = parse_lean_source("def x : Nat := 1 lemma y : x = 1 := rfl example : True := trivial\n")
    assert [d.kind for d in one_line.declarations] == ["def", "lemma", "example"]
    # `class inductive`, `deriving instance`, and a keyword inside brackets stay one command each.
    kept = parse_lean_source("class inductive C : Prop\n  | mk\nderiving instance Repr for Nat\n")
    assert [d.kind for d in kept.declarations] == ["class"]
