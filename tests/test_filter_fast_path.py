"""The tactic filter's fast path (`_surely_harmless`) gives exactly the verdicts of the full, lexing filter.

Differential: on every tactic of the shared proofsteps (real Lean 4 tactics from LeanDojo Benchmark 4,
Lean-STaR and Lean Workbook), every proof of the adversarial table in tests/test_verify.py and the
filter's own tables in tests/test_tactic_filter.py, and on generated texts built from every refused
word, `check_tactic` (fast path first) and `check_tactic_lexed` (always lexes) agree, with and without
`allow_native_decide`; the fast path only ever answers "allowed".
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lean_env.checks import tactic_filter
from lean_env.checks.tactic_filter import check_tactic, check_tactic_lexed
from lean_env.source.lexer import COMMAND_KEYWORDS

TESTS = Path(__file__).parent


def _load(name: str) -> ModuleType:
    """A sibling test module (tests/ is not a package), for its tables."""
    spec = importlib.util.spec_from_file_location(f"_fast_path_{name}", TESTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def proofsteps_tactics(shared: Path) -> list[str]:
    tactics: list[str] = []
    for path in sorted((shared / "data" / "proofsteps").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                tactics.append(json.loads(line)["tactic"])
    return tactics


def table_texts() -> list[str]:
    verify, filt = _load("test_verify"), _load("test_tactic_filter")
    texts = list(verify.ADVERSARIAL)
    for table in (filt.REFUSED, filt.ALLOWED):
        for row in table:
            texts.append(row if isinstance(row, str) else row[0])
    return texts


def assert_same_verdict(text: str) -> None:
    for allow in (False, True):
        full = check_tactic_lexed(text, allow_native_decide=allow)
        assert check_tactic(text, allow_native_decide=allow) == full, (text, allow)
        if tactic_filter._surely_harmless(text):
            assert full is None, f"the fast path lets through what the filter refuses: {text!r} ({full})"


def test_same_verdicts_on_every_shared_proofsteps_tactic(shared: Path) -> None:
    tactics = proofsteps_tactics(shared)
    assert len(tactics) > 1500
    for text in tactics:
        assert_same_verdict(text)
    # And the fast path is what real tactics take: most are proved harmless without the lexer.
    fast = sum(tactic_filter._surely_harmless(t) for t in tactics)
    assert fast >= 0.9 * len(tactics), f"only {fast}/{len(tactics)} real tactics take the fast path"


def test_same_verdicts_on_the_adversarial_and_filter_tables() -> None:
    texts = table_texts()
    assert len(texts) > 50
    for text in texts:
        assert_same_verdict(text)
    refused = [t for t in texts if check_tactic_lexed(t) is not None]
    assert refused and not any(tactic_filter._surely_harmless(t) for t in refused)


@pytest.mark.parametrize(
    "text",
    [
        "exact 2sorry",  # a number ends where a name starts: `sorry` stands alone
        "exact _root_.sorryAx _ false",
        "exact h.unsafeCast",
        "exact declare_cheat",
        "apply?",
        'simp; notation3 "x" => 1',
        "decide (config := {native := true})",
        "norm_num [Lean.ofReduceBool]",
        "exact x'sorry",  # `'` continues a name in Lean: `x'sorry` is one name, allowed
        "exact αsorry",
        "open Nat",
    ],
)
def test_same_verdicts_on_boundary_cases(text: str) -> None:
    assert_same_verdict(text)


@pytest.mark.parametrize("word", sorted(COMMAND_KEYWORDS - {"module"}))
def test_every_command_keyword_takes_the_full_path(word: str) -> None:
    """A text with any command keyword of the lexer's one list is never passed by the fast path alone
    (`module` is Mathlib's `module` tactic as well, allowed on both paths: tests/test_tactic_filter.py)."""
    for text in (f"simp\n{word} x : True := trivial", f"{word}", f"exact h\n  {word}"):
        assert not tactic_filter._surely_harmless(text), text
        assert_same_verdict(text)


_WORDS = sorted(
    {
        *tactic_filter._REFUSED_NAMES,
        "simp",
        "h",
        "x",
        "in",
        "Nat",
        "apply",
        "exact",
        "sq_nonneg",
        "h₁",
        "α",
        "'",
        "_root_",
        "2",
    }
)
_GLUE = st.sampled_from(
    ["", " ", ".", "_", "\n  ", "(", ")", "[", ", ", "+", "?", "!", "'", "₁", "α", "0", ":=", "-", "/"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_WORDS), _GLUE), min_size=1, max_size=6))
def test_same_verdicts_on_generated_texts(parts: list[tuple[str, str]]) -> None:
    assert_same_verdict("".join(word + glue for word, glue in parts))
