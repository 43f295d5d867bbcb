"""The tactic filter refuses cheating / code-running / escaping tactics and passes ordinary Mathlib ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lean_env.checks.tactic_filter import check_tactic, is_allowed
from lean_env.source.lexer import COMMAND_KEYWORDS

REFUSED = [
    ("sorry", "sorry"),
    ("exact sorry", "sorry"),
    ("  ·  sorry", "sorry"),
    ("admit", "admit"),
    ("stop\n  simp", "stop"),
    ("exact sorryAx _ false", "sorryAx"),
    ("native_decide", "native_decide"),
    ("decide +native", "native"),
    ("decide (config := { native := true })", "native"),
    ("bv_decide", "bv_decide"),
    ("exact Lean.ofReduceBool _ _ rfl", "ofReduceBool"),
    ("exact Lean.ofReduceNat _ _ rfl", "ofReduceNat"),
    ("open Lean in exact ofReduceBool _ _ rfl", "ofReduceBool"),
    ("run_tac Lean.Elab.Tactic.evalTactic", "run_tac"),
    ("run_cmd pure ()", "run_cmd"),
    ("run_elab pure ()", "run_elab"),
    ("exact by_elab pure x", "by_elab"),
    ("#eval IO.println 1", "#eval"),
    ("#exit", "#exit"),
    ("simp\n#print axioms foo", "#print"),
    ("set_option debug.skipKernelTC true in exact h", "set_option"),
    ("set_option maxHeartbeats 0 in nlinarith", "set_option"),
    ('exact (IO.FS.readFile "/etc/passwd")', "IO.FS.readFile"),
    ("exact unsafeCast ()", "unsafeCast"),
    ("attribute [local instance] Classical.propDecidable in simp", "attribute"),
    ("simp\n\ntheorem free : False := sorry", "theorem"),
    ("exact h\nend Foo", "end"),
    ("simp\naxiom cheat : False", "axiom"),
    ("exact (Lean.Elab.Term.elabTerm x none)", "Lean.Elab"),
    ("simp /- the rest of the file vanishes", "unterminated comment"),
    ('exact "unterminated', "unterminated string"),
    ('macro "cheat" : tactic => `(tactic| sorry)', "macro"),
    # Admitting tactics (lean4#8212): `apply?` and Mathlib's `hint` close the goal with
    # `sorry` when they find nothing (Lean `src/Lean/Elab/Tactic/LibrarySearch.lean`, `admitGoal`).
    ("apply?", "apply?"),
    ("apply? using h", "apply?"),
    ("intro x\n  apply?", "apply?"),
    ("hint", "hint"),
    ("first | hint | simp", "hint"),
    # Names as Lean reads them (point 5): `«»` only quote a component.
    ("exact «sorryAx» _ false", "sorryAx"),
    ("exact Lean.«ofReduceBool» _ _ rfl", "ofReduceBool"),
    ("exact «Lean».«ofReduceBool» _ _ rfl", "ofReduceBool"),
    ('exact («IO».println "x")', "IO.println"),
    ("«native_decide»", "native_decide"),
    ("decide +«native»", "native"),
    ("exact «unsafeCast» ()", "unsafeCast"),
    ("«sorry»", "sorry"),
    ("exact _root_.sorryAx _ false", "sorryAx"),
    ("exact _root_.Lean.ofReduceBool _ _ rfl", "ofReduceBool"),
    ('exact (_root_.IO.println "x")', "IO.println"),
    ("exact «_root_».sorryAx _ false", "sorryAx"),
    # Any command keyword of Lean / Batteries / Mathlib, on its own line or not (point 5).
    ("simp\nalias cheat := Nat.add_zero", "alias"),
    ('notation3 "X" => False', "notation3"),
    ("simp\nirreducible_def cheat : Nat := 0", "irreducible_def"),
    ("simp\nsimproc_decl cheat (_) := fun _ => pure .continue", "simproc_decl"),
    ("simp\nproof_wanted cheat : False", "proof_wanted"),
    ("simp\nlemma cheat : False := sorry", "lemma"),
    ("simp\nopen Nat", "open"),
    ("simp\nseal Nat.add", "seal"),
    ("simp\nsudo set_option debug.skipKernelTC true", "sudo"),
    ("simp\nlocal macro_rules | `(tactic| trivial) => `(tactic| sorry)", "local"),
    # `#` commands, however the lexer splits them (point 6).
    ("simp\n#check_failure foo", "#check_failure"),
    ("simp\n#find_home", "#find_home"),
    ("simp\n#guard_msgs in\nexample : True := trivial", "#guard_msgs"),
    ("exact #sorryAx", "sorryAx"),
]

ALLOWED = [
    "simp [sorry_lemma]",
    "exact my_sorry",
    "nlinarith [sq_nonneg (a - b), sq_nonneg (a + b), mul_pos ha hb]",
    "norm_num [Nat.factorial]",
    "decide",
    "exact Nat.decide_eq_true h",
    "simp (config := {decide := true})",
    "intro x; linarith [h₀ x]",
    "field_simp\nring_nf",
    "rcases h with ⟨x, hx⟩ | h",
    "simp -- sorry, I give up (only a comment)",
    "exact ⟨'a', \"sorry\"⟩",
    "exact? ",
    "omega",
    "open Real in simp [Real.sqrt_eq_iff]",
    "calc a = b := by ring\n  _ = c := h",
    "exact #[1, 2].size_pos",
    "induction n with\n| zero => simp\n| succ n ih => omega",
    "have h' : x' ≠ 0 := by positivity",
    "exact (Finset.sum_range_succ f n).trans rfl",
    # `exact?` throws when it cannot close the goal: not an admitting tactic.
    "exact? using h",
    # `#` followed by a name that is not a command is Mathlib's card notation (point 6).
    "rw [Finset.card_eq_of_bijective] at #s",
    "have : #s ≤ #t := Finset.card_le_card hst",
    "simp [#s, Finset.card_union_of_disjoint]",
    "calc #(s ∪ t) = #s + #t := Finset.card_union_of_disjoint h\n  _ ≤ n := hn",
    "exact (#A).le",
    # `open ... in` is a tactic; escaped names that are harmless stay harmless.
    "open scoped BigOperators in simp",
    "open Finset (card_le_card) in exact card_le_card h",
    "open Real hiding pi in simp",
    "exact «h₁»",
    "exact hint_of_foo",
    # Mathlib's `module` tactic (compfiles Imo2013P2 uses it): not the file header keyword.
    "rw [smul_add]\nmodule",
]


@pytest.mark.parametrize(("tactic", "word"), REFUSED)
def test_refused_with_reason(tactic: str, word: str) -> None:
    reason = check_tactic(tactic)
    assert reason is not None, tactic
    assert word in reason
    assert not is_allowed(tactic)


@pytest.mark.parametrize("tactic", ALLOWED)
def test_ordinary_tactics_pass(tactic: str) -> None:
    assert check_tactic(tactic) is None


@pytest.mark.parametrize("tactic", ["native_decide", "decide +native", "bv_decide", "exact Lean.ofReduceBool _ _ rfl"])
def test_native_evaluation_only_when_allowed(tactic: str) -> None:
    assert check_tactic(tactic) is not None
    assert "allow_native_decide" in (check_tactic(tactic) or "")
    assert check_tactic(tactic, allow_native_decide=True) is None


def test_sorry_is_refused_even_when_native_is_allowed() -> None:
    assert check_tactic("sorry", allow_native_decide=True) is not None


def test_real_proof_steps_are_not_refused(shared: Path) -> None:
    """Real tactics from LeanDojo/Lean-STaR/Lean Workbook proofs: none of them cheat, so none may be refused."""
    files = sorted((shared / "data" / "proofsteps").glob("*.jsonl"))
    assert files, "no proofstep files in shared data"
    tactics: list[str] = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            tactic = row.get("tactic")
            if isinstance(tactic, str):
                tactics.append(tactic)
    assert len(tactics) > 500
    refused = {t: check_tactic(t) for t in tactics if check_tactic(t) is not None}
    # `sorry`/`native_decide` never appear in these successful proofs; anything refused is a false positive.
    assert refused == {}


@pytest.mark.parametrize("theorem", ["theorem two_le_five : 2 ≤ 5 := by apply?", "example : True := by hint"])
def test_admitting_tactic_in_a_whole_theorem_is_refused(theorem: str) -> None:
    """The issue's example: the filter sees the proof text after `by` and refuses it before Lean."""
    proof = theorem.split(":= by", 1)[1]
    reason = check_tactic(proof)
    assert reason is not None and "sorry" in reason


def test_every_command_keyword_is_refused_alone_on_a_line() -> None:
    from lean_env.checks.tactic_filter import DECLARATION_KEYWORDS

    for word in sorted(DECLARATION_KEYWORDS):
        reason = check_tactic(f"simp\n{word} x")
        assert reason is not None and word in reason, word
        assert check_tactic(f"simp\n«{word}» x") is not None, word


# The command keywords of `lean_env.source.lexer.COMMAND_KEYWORDS` the filter does not refuse as commands wherever they
# stand: `open` (the tactic `open … in tac`, `_open_reason`) and `module` (Mathlib's `module` tactic). The other
# ambiguous ones (`set_option`, `deriving`, `local`, `scoped`) are refused by their own rule (`_REFUSED_WORDS`).
COMMAND_KEYWORDS_NOT_REFUSED_ALONE = frozenset({"open", "module"})


@pytest.mark.parametrize("word", sorted(COMMAND_KEYWORDS - COMMAND_KEYWORDS_NOT_REFUSED_ALONE))
def test_every_lexer_command_keyword_is_refused_on_its_own_line(word: str) -> None:
    """One list of command keywords (the lexer's, with sources): each one after a tactic would end the tactic
    block and start a command (compfiles' `problem`, Lean's `with_weak_namespace`, Mathlib's `variable?`, ...),
    so each is refused on the fast path (`check_tactic`), on the full path and by a search's checker."""
    from lean_env.checks.tactic_filter import check_tactic_lexed, make_checker

    text = f"simp\n{word} x : True := trivial"
    for check in (check_tactic, check_tactic_lexed, make_checker()):
        reason = check(text)
        assert reason is not None and word in reason, (word, reason)


def test_the_filter_keeps_no_command_list_of_its_own() -> None:
    from lean_env.checks import tactic_filter
    from lean_env.source import lexer

    assert tactic_filter.HASH_COMMANDS is lexer.HASH_COMMANDS
    assert tactic_filter.is_hash_command is lexer.is_hash_command
    assert tactic_filter.unescape_name is lexer.unescape_name
    excluded = {"open", "set_option", "deriving", "local", "scoped", "module"}
    expected = (COMMAND_KEYWORDS - excluded) | {"axioms", "universes", "variables"}
    assert expected == tactic_filter.DECLARATION_KEYWORDS


def test_hash_commands_and_notation() -> None:
    from lean_env.checks.tactic_filter import HASH_COMMANDS, is_hash_command

    for name in HASH_COMMANDS:
        assert is_hash_command(name), name
        assert check_tactic(f"simp\n#{name} foo") is not None, name
    for name in ["s", "t", "A", "G", "α", "s.filter", "S₁"]:
        assert not is_hash_command(name), name
        assert check_tactic(f"exact foo (#{name})") is None, name


# Lexer disagreements: a string literal the filter reads as text but Lean reads as code
# hides whatever it spans. Lean's interpolated strings (`interpolatedStr`, leanprover/lean4
# src/Lean/Parser/Term.lean / StrInterpolation.lean) elaborate the terms between `{` and `}`; whether a string
# is interpolated depends on the syntax before it (`s!`, `m!`, `throwError`, but not the function `logInfo`);
# raw strings `r"\"` end at the first `"` (`rawStrLitFnAux`, src/Lean/Parser/Basic.lean) where a plain string
# would read `\"` as an escape. Proofs never need such strings (none of the shared proofsteps has a string),
# so a string holding `{`, `}` or `\` and every raw string are refused, whichever way the lexer reads them.
HIDDEN_CODE = [
    # `s!` interpolation: the term in braces is elaborated (`run_tac` runs).
    ('have := s!"{(by run_tac pure (); exact 1 : Nat)}"\nsimp', "string"),
    # `logInfo` is a function: `"{"` is a plain string and `by_elab` is code.
    ('open Lean in\nhave := logInfo "{" ++ toString (by_elab pure (mkConst ``True.intro)) ++ "}"\nsimp', "string"),
    # A raw string whose body is one backslash: `--` in Lean's comment, `"` read as an escape otherwise.
    ('have h0 := r"\\"\nrun_tac pure () -- "', ""),
    ('have h0 := r#"x"#\nsimp', "string"),
    ("exact '\\\\' ", "char"),
]


@pytest.mark.parametrize(("tactic", "word"), HIDDEN_CODE)
def test_strings_that_lean_may_read_as_code_are_refused(tactic: str, word: str) -> None:
    reason = check_tactic(tactic)
    assert reason is not None, tactic
    assert word in reason


# More rows: admitting tactics beyond `apply?`/`hint`, native evaluation in config forms.
RED_TEAM_REFUSED = [
    # Plausible / Mathlib's `slim_check`: when no counter-example is found the goal is closed like `sorry`
    # (lean-ja/lean-by-example LeanByExample/Reference/Tactic/Plausible.lean records "declaration uses 'sorry'").
    ("plausible", "plausible"),
    ("slim_check", "slim_check"),
    ("intro x\nplausible (config := { numInst := 10 })", "plausible"),
    # Native evaluation however the config value is written (`DecideConfig.native`).
    ("decide (config := { native := (true) })", "native"),
    ("decide (config := { native := !false })", "native"),
    ("decide (native := Bool.true)", "native"),
    ("decide (config := ⟨false, true⟩)", "config"),
    ("decide (config := .mk false true false false)", "config"),
]


@pytest.mark.parametrize(("tactic", "word"), RED_TEAM_REFUSED)
def test_red_team_rows_are_refused(tactic: str, word: str) -> None:
    reason = check_tactic(tactic)
    assert reason is not None, tactic
    assert word in reason


@pytest.mark.parametrize(
    "tactic",
    [
        "exact ⟨'a', \"sorry\"⟩",
        'exact (IO.FS.readFile "/etc/passwd").isEmpty = false',
        "decide (config := { kernel := true })",
        "decide -native",
        "decide (config := { native := false })",
        "decide +kernel",
    ],
)
def test_red_team_lookalikes_of_refused_forms_stay_as_they_were(tactic: str) -> None:
    if "IO." in tactic:
        assert check_tactic(tactic) is not None and "string" not in (check_tactic(tactic) or "")
    else:
        assert check_tactic(tactic) is None, tactic


def test_red_team_rows_take_the_same_verdict_on_the_fast_path() -> None:
    """The fast path (`_surely_harmless`) must never pass what the lexing filter refuses."""
    from lean_env.checks import tactic_filter

    lexed = getattr(tactic_filter, "check_tactic_lexed", check_tactic)
    for tactic, _ in [*HIDDEN_CODE, *RED_TEAM_REFUSED]:
        assert check_tactic(tactic) == lexed(tactic) is not None, tactic


# More admitting forms: the term elaborators and the old name of `apply?`.
# Lean core `src/Lean/Elab/Tactic/LibrarySearch.lean` (leanprover/lean4@09ef1835aaa2609ad7def69237c3566d58ece8f7):
# `exact?%` elaborates to `mkLabeledSorry expectedType` when no lemma closes the goal. Mathlib
# `Mathlib/Tactic/LibrarySearch.lean` (leanprover-community/mathlib4@01ad9ede56d53b26cdfe20f01eac9e62587b0e64):
# the `library_search` tactic ends in `admitGoal goal` and `library_search%` in `mkSorry expectedType` when
# nothing closes the goal, with no error at all; later Mathlib/Std kept `library_search` as `apply?`
# (`exact? tk none false`, also `admitGoal`). Lean versions this project sets up (v4.8.0 on) have them.
TERM_AND_OLD_ADMITS = [
    ("exact exact?%", "exact?%"),
    ("exact (exact?% : 2 ≤ 5)", "exact?%"),
    ("refine ⟨exact?%, ?_⟩", "exact?%"),
    ("library_search", "library_search"),
    ("library_search!", "library_search"),
    ("intro x\n  library_search using h", "library_search"),
    ("exact library_search%", "library_search"),
]


@pytest.mark.parametrize(("tactic", "word"), TERM_AND_OLD_ADMITS)
def test_term_admits_and_library_search_are_refused(tactic: str, word: str) -> None:
    from lean_env.checks.tactic_filter import make_checker

    for check in (check_tactic, make_checker()):
        reason = check(tactic)
        assert reason is not None and word in reason and "sorry" in reason, (tactic, reason)


@pytest.mark.parametrize("tactic", ["exact?", "exact? using h", "exact h % 2", "exact library_search_lemma"])
def test_term_admit_lookalikes_stay_allowed(tactic: str) -> None:
    # `exact?` throws when it cannot close the goal (the same Lean source), so it stays allowed.
    assert check_tactic(tactic) is None, tactic


def test_hash_commands_are_the_longest_matching_token() -> None:
    """Lean's tokenizer takes the longest token of its table that begins the text (`tokenFn`, lean4
    src/Lean/Parser/Basic.lean): `#s_1` is `#` (Mathlib's card notation) then `s_1`, since no `#` command token
    begins it; `#evalx` is `#eval` then `x`. The list is `lean_env.source.hash_commands` (with provenance)."""
    from lean_env.checks.tactic_filter import is_hash_command
    from lean_env.source.hash_commands import (
        BATTERIES,
        HASH_COMMAND_TOKENS,
        LEAN_CORE,
        MATHLIB_HELP_COMMAND,
        hash_tokens,
        help_listing_tokens,
    )

    for name in ["s_1", "s_2", "x_y", "S₁", "t", "A_i", "s.card", "u_1", "p_a"]:
        assert not is_hash_command(name), name
        assert check_tactic(f"have h : #{name} ≤ #{name} := le_rfl\nexact h") is None, name
    for name in ["evalx", "eval!", "check_failure", "print", "simp_all", "«eval»", "_root_.exit"]:
        assert is_hash_command(name), name
    assert {"check", "eval", "print", "exit", "guard_msgs"} <= LEAN_CORE
    assert BATTERIES <= HASH_COMMAND_TOKENS
    # The generation rule: atoms of syntax declarations, not `#…` inside messages.
    source = 'elab "#show_unused " ids:ident* : command => do\n  logInfo m!"#check {x}"\nsyntax "#help " : command\n'
    assert hash_tokens(source) == {"show_unused", "help"}
    # Lean's `#help command` listing (rendered as markdown headings), the source of the Mathlib part.
    listing = "# Commands\n\n## \\#adaptation_note\nDefined in: `adaptationNoteCmd`\n\n## \\#check\n"
    assert help_listing_tokens(listing) == {"adaptation_note", "check"}
    assert {"find_home", "min_imports", "loogle", "guard_msgs", "print"} <= MATHLIB_HELP_COMMAND <= HASH_COMMAND_TOKENS
