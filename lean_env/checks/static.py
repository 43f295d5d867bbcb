"""Static text checks: what the verifier refuses before Lean sees a proof, and the check source it compiles.

* the proof itself (`static_check`): empty or oversized text, `sorry`/`admit`, anything the tactic filter refuses,
  commands or declarations smuggled into the proof, a proof that dedents out of its `by` block;
* the header (`prelude_problem`, `header_problem`): a `prelude`, `debug.*` options, and command macros,
  elaborators or meta code that could forge the appended `#print axioms` line (`command_extension_problem`, also
  on the user's own imported modules);
* helper lemmas a whole-proof model wrote before the theorem (`helper_declarations_problem`);
* the assembled source (`build_check_source`): it must parse as header declarations plus exactly this theorem
  with this statement, ending with the proof; module syntax is rewritten so that it compiles as a plain file
  (`plain_module_source`).

`prepare_check` runs them in order; every Lean-compiling verifier starts there.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lean_env.checks.judge import CHECKER, NATIVE_AXIOM_COMPONENT, JudgedName, judged_name
from lean_env.checks.verdict import Rejected
from lean_env.errors import LeanParseError
from lean_env.source.document import TARGET_KEYWORDS
from lean_env.source.lexer import COMMAND_KEYWORDS, LexError, Token, TokenKind, tokenize, unescape_name
from lean_env.types import Theorem

EXAMPLE_NAME = "_verify_example"

# Lean refuses `#print axioms` in a file with a `module` header (lean4#8174 until lean4#13117;
# `src/Lean/Elab/Print.lean`, `elabPrintAxioms`, leanprover/lean4@02637a033e9d4f8f99001e01925625452fbb77c4).
MODULE_PRINT_AXIOMS_ERROR = "cannot use `#print axioms` in a `module`"

# Longest proof text the verifier sends to Lean, in characters. The longest proofs of real benchmarks are a
# few thousand characters; a huge input only costs Lean time and memory (and LeanDojo's pty truncates long
# lines), so it is refused before Lean with one clear reason.
MAX_PROOF_CHARS = 100_000


# -- text-level checks -----------------------------------------------------------------------------


def static_check(theorem: Theorem, proof: str, allow_native_decide: bool = False) -> str | None:
    """Why `proof` (a tactic script for `theorem`) is refused before Lean sees it, or None.

    Token-level, so comments and strings do not count (`-- sorry` is fine, a lemma named
    `foo_sorry` is fine).
    """
    from lean_env.checks.tactic_filter import check_tactic

    if (left := suffix_sorry(theorem)) is not None:
        return left
    if not proof.strip():
        return "the proof is empty"
    if len(proof) > MAX_PROOF_CHARS:
        return f"the proof is {len(proof)} characters long (the verifier accepts at most {MAX_PROOF_CHARS})"
    try:
        tokens = tokenize(proof, keep_comments=False)
    except LexError as exc:
        return f"the proof does not lex: {exc.reason}"
    if not tokens:
        return "the proof contains only comments"
    # `sorry`, `#commands` (but not `#s` card notation), command keywords, `«»`-escaped names: the filter.
    for tok in tokens:
        if tok.kind is TokenKind.SYMBOL and tok.text == "@" and _next_is(tokens, tok.end, "["):
            return f"the proof starts a new attributed declaration `@[` (line {tok.line})"
    reason = check_tactic(proof, allow_native_decide)
    if reason is not None:
        return f"the tactic filter refuses the proof: {reason}"
    last = tokens[-1]
    if last.kind is TokenKind.IDENT and unescape_name(last.text) == "in":
        # `… in` scopes the command that follows the proof (`open X in local instance …` ends that instance's
        # scope at once), so a proof ending in `in` changes what the rest of the file means.
        return f"the proof ends in `in` (line {last.line}): it would scope the command that follows it"
    return _dedent_problem(proof, tokens[0].line)


def suffix_sorry(theorem: Theorem) -> str | None:
    """Why `theorem` cannot be proved by any proof: a `sorry` in the rest of its declaration after the proof (a
    `where` clause, `termination_by`/`decreasing_by`), which Lean elaborates as part of the same declaration and
    reports as "declaration uses 'sorry'"; None when that rest has none."""
    if not theorem.suffix.strip():
        return None
    try:
        tokens = tokenize(theorem.suffix, keep_comments=False)
    except LexError as exc:
        return f"the text after the proof does not lex: {exc.reason}"
    if any(t.kind is TokenKind.IDENT and unescape_name(t.text) == "sorry" for t in tokens):
        first = theorem.suffix.split(None, 1)[0]
        return f"the declaration keeps a `sorry` after its proof (in its `{first}` part): it is not proved"
    return None


def _next_is(tokens: Sequence[Any], offset: int, text: str) -> bool:
    return any(t.start == offset and t.text == text for t in tokens)


def _dedent_problem(proof: str, first_line: int) -> str | None:
    # Lean's tactic block takes the column of its first tactic; a later line further left ends the
    # block and whatever follows is parsed as commands of the file. Continuation lines sit deeper.
    lines = _code_lines(proof)
    first = next((ln for n, ln in lines if n >= first_line), None)
    if first is None:
        return None
    column = len(first) - len(first.lstrip())
    for number, line in lines:
        if number > first_line and len(line) - len(line.lstrip()) < column:
            return f"line {number} of the proof is left of the first tactic: it would end the `by` block"
    return None


def _code_lines(text: str) -> list[tuple[int, str]]:
    """(1-based line number, line) for lines that hold code (comments blanked out, blanks dropped)."""
    chars = list(text)
    for tok in tokenize(text, keep_comments=True):
        if tok.kind in (TokenKind.COMMENT, TokenKind.DOC_COMMENT, TokenKind.STRING):
            for i in range(tok.start, tok.end):
                if chars[i] != "\n":
                    chars[i] = " " if tok.kind is not TokenKind.STRING else "x"
    out = []
    for number, line in enumerate("".join(chars).split("\n"), start=1):
        if line.strip():
            out.append((number, line.rstrip()))
    return out


def normalize_space(text: str) -> str:
    return " ".join(text.split())


# -- building the sources --------------------------------------------------------------------------


def prelude_problem(source: str) -> str | None:
    """Why a source with a `prelude` header cannot be audited, or None.

    `prelude` (Lean's module header, `src/Lean/Parser/Module.lean`) stops the implicit `import Init`, so the file
    may declare root axioms named `propext`, `Quot.sound` or `Classical.choice` itself, and `#print axioms`
    (which prints names only) would list them as the standard ones.
    """
    try:
        tokens = tokenize(source, keep_comments=False)
    except LexError:
        return None
    words = [t.text for t in tokens[:2] if t.kind is TokenKind.IDENT]
    if "prelude" in words[:1] or words[:2] == ["module", "prelude"]:
        return "the file is a `prelude` (no `import Init`): its axioms may reuse the standard names"
    # `set_option debug.skipKernelTC true` (in the header or as the theorem's `… in` prefix) makes Lean add
    # declarations without the kernel's type check (`Kernel.Environment.addDecl` "respecting `debug.skipKernelTC`",
    # leanprover/lean4 src/Lean/AddDecl.lean; the option's own description warns it may compromise soundness), so a
    # clean compile would prove nothing about the proof term.
    # Every `debug.*` option is refused, as in proofs (the tactic filter): they switch checks off. Names are compared
    # as Lean reads them (`unescape_name`): `«debug».skipKernelTC` and `debug.«skipKernelTC»` are that option.
    for tok in tokens:
        if tok.kind is TokenKind.IDENT and (option := unescape_name(tok.text)).startswith("debug."):
            if option == "debug.skipKernelTC":
                return "the source sets `debug.skipKernelTC`: Lean would not type-check the proof in the kernel"
            return f"the source names the option `{option}`: `debug.*` options switch Lean's checks off"
    return None


# Commands that change how later commands are parsed or elaborated, or that run code while the file elaborates.
# `elabCommand` expands macros before elaborators (lean4 `src/Lean/Elab/Command.lean`), so a header
# `macro_rules | `(#print axioms $_x) => …` or `@[command_elab Lean.Parser.Command.printAxioms]` would turn the
# verifier's appended line into a clean-looking info message; meta code (`#eval`, `run_cmd`, `initialize`, …) can
# log such a message or change the environment. Term- and tactic-level `notation`/`macro`/`syntax` stay allowed, and
# so does a `macro_rules` whose every alternative matches an explicit `(tactic| …)`, `(term| …)` or `(conv| …)`
# quotation: a macro only rewrites syntax (`MacroM` cannot log or touch the environment), cannot reach the appended
# command, and what it does to the proof shows in the compile and the listing. `elab`/`elab_rules` of any category
# run meta code (which could log a message positioned on the appended line) and are refused, as are the
# attributes that register such code as a tactic or term elaborator.
#
# The same holds for meta code that a proof's own tactics run: a simproc runs whenever `simp` meets its pattern
# (`simproc`/`dsimproc` expand to a `*_decl` — a `def` of type `Simproc`/`DSimproc` (`Expr → SimpM …`) plus a
# `simproc_pattern%` command — and an `attribute [simproc]`, or `[X_proc]` for a simp set `X`: lean4
# src/Init/Simproc.lean at leanprover/lean4@09c02176b0ae00d498838fc16f9ede65228d7241), a `@[norm_num …]`
# extension's `eval` (a `MetaM`, Mathlib/Tactic/NormNum/Core.lean) whenever `norm_num` or `simp` with the norm_num
# plugin meets its pattern, a `@[positivity …]` extension's `core` (a `MetaM`, Mathlib/Tactic/Positivity/Core.lean)
# inside `positivity`, and a `@[delab …]` delaborator (`DelabM`, over `MetaM`: lean4
# src/Lean/PrettyPrinter/Delaborator/Basic.lean) whenever a goal or term in a message is printed. Each can log a
# message positioned on the appended line or change the environment, so each is refused with the commands and
# attributes that declare or register it. An `app_unexpander` stays allowed: an `Unexpander` is
# `Syntax → UnexpandM Syntax` (`ReaderT Syntax (EStateM Unit Unit)`), which can neither log nor reach the environment.
HEADER_META_COMMANDS = frozenset(
    {"elab", "elab_rules", "declare_syntax_cat", "run_cmd", "run_elab", "run_meta", "initialize"}
    | {"builtin_initialize"}
    | {"simproc", "dsimproc", "simproc_decl", "dsimproc_decl", "simproc_pattern"}
    | {"builtin_simproc", "builtin_dsimproc", "builtin_simproc_decl", "builtin_dsimproc_decl"}
    | {"builtin_simproc_pattern"}
)
# The quotation categories a header's `macro_rules` may rewrite.
_MACRO_RULES_CATEGORIES = frozenset({"tactic", "term", "conv"})
# `#` commands that evaluate code (`#eval`; Lean's `#exec`; ProofWidgets' `#html`/`#widget`; Plausible's `#sample`,
# `#test`), compared unescaped without the `#`.
HEADER_META_HASH_COMMANDS = frozenset({"eval", "eval!", "exec", "html", "widget", "sample", "test"})
# Attributes that register a command macro, elaborator or parser (also given through `attribute […] x`).
COMMAND_EXTENSION_ATTRIBUTES = frozenset(
    {"command_elab", "macro", "command_parser", "builtin_command_elab", "builtin_macro", "builtin_command_parser"}
    | {"tactic", "term_elab", "builtin_tactic", "builtin_term_elab"}
    # meta code a proof's tactics run (see HEADER_META_COMMANDS); a simp set `X`'s simprocs are `X_proc`
    | {"simproc", "sevalproc", "builtin_simproc", "builtin_sevalproc", "norm_num", "positivity"}
    | {"delab", "app_delab", "builtin_delab"}
)


def _registers_meta_code(attribute: str) -> bool:
    """Whether `attribute` (a name inside `@[…]`/`attribute […]`, as Lean reads it) registers meta code."""
    return attribute in COMMAND_EXTENSION_ATTRIBUTES or attribute.endswith("_proc")


# Commands that declare syntax with a category: refused when the category is `command`.
_SYNTAX_COMMANDS = frozenset({"syntax", "macro"})


def _macro_rules_problem(tokens: Sequence[Any], head: int) -> bool:
    """Whether the `macro_rules` at `tokens[head]` may rewrite more than tactic, term or conv syntax: an alternative
    (`| pattern => …` at the command's own bracket depth) whose pattern is not a `(tactic| …)`-style quotation, or a
    `(kind := …)` option. The command runs to the next command keyword in column 1."""
    depth = 0
    alternatives = 0
    for k in range(head + 1, len(tokens)):
        tok = tokens[k]
        if tok.column == 1 and (tok.text == "@" or unescape_name(tok.text) in COMMAND_KEYWORDS):
            break
        if tok.kind is TokenKind.IDENT and tok.text == "kind" and depth == 1 and alternatives == 0:
            return True
        if tok.kind is TokenKind.SYMBOL and tok.text in "([{⟨⦃⟦":
            depth += 1
        elif tok.kind is TokenKind.SYMBOL and tok.text in ")]}⟩⦄⟧":
            depth -= 1
        elif tok.kind is TokenKind.SYMBOL and tok.text == "|" and depth == 0:
            alternatives += 1
            quote = [t.text for t in tokens[k + 1 : k + 5]]
            if (
                quote[:2] != ["`", "("]
                or unescape_name(quote[2] if len(quote) > 2 else "") not in (_MACRO_RULES_CATEGORIES)
                or quote[3:4] != ["|"]
            ):
                return True
    return alternatives == 0


@functools.lru_cache(maxsize=256)
def command_extension_problem(text: str, where: str, first_line: int = 1) -> str | None:
    """Why `text` (a header, or a module the header imports) may forge the verifier's appended command, or None.

    One line naming the command and `where:line` (`first_line` is the line of `text`'s first line in `where`):
    a `macro_rules` with a pattern other than a `(tactic| …)`/`(term| …)`/`(conv| …)` quotation, `declare_syntax_cat`,
    `syntax`/`macro` of category `command`, a `command_elab`/`macro`/`command_parser` attribute (in `@[…]` or
    `attribute […]`), meta code (`elab`, `elab_rules`, a `tactic`/`term_elab` attribute, `#eval`, `run_cmd`,
    `run_elab`, `run_meta`, `initialize`), and any name with a `_native` component (only Lean names
    native evaluation's auxiliary axioms so; `JudgedName.owns_auxiliary`). Every token is compared as Lean reads
    it (`unescape_name`), comments and strings ignored. Such files can still be checked with `--strict` and
    comparator, which reads the axioms from the compiled environment instead of a printed line.
    """
    try:
        tokens = tokenize(text, keep_comments=False)
    except LexError as exc:
        return f"{where}:{first_line}: does not lex ({exc.reason})"

    def refuse(tok: Token, what: str) -> str:
        return (
            f"{where}:{tok.line + first_line - 1}: `{tok.text}` {what}: the verifier cannot trust its own "
            "`#print axioms` line after it (check such files with --strict and comparator)"
        )

    scan = _HeaderScan(tokens)
    for i in range(len(tokens)):
        if (hashed := _meta_hash_command(tokens, i)) is not None:
            return refuse(hashed, "runs code while the file elaborates")
        if (found := scan.step(i)) is not None:
            return refuse(*found)
    return None


def _meta_hash_command(tokens: Sequence[Token], i: int) -> Token | None:
    """The token naming a code-evaluating `#` command (`HEADER_META_HASH_COMMANDS`) that starts at `tokens[i]`, or
    None. `#«eval»`: Lean reads `#` then a name (no token starts `#«`); refused all the same, as the filter does."""
    tok = tokens[i]
    if tok.kind is TokenKind.KEYWORD_HASH:
        return tok if unescape_name(tok.text[1:]) in HEADER_META_HASH_COMMANDS else None
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    if (
        tok.kind is TokenKind.SYMBOL
        and tok.text == "#"
        and nxt is not None
        and nxt.start == tok.end
        and nxt.kind is TokenKind.IDENT
        and unescape_name(nxt.text) in HEADER_META_HASH_COMMANDS
    ):
        return nxt
    return None


@dataclass
class _HeaderScan:
    """Where `command_extension_problem`'s walk over a header's tokens stands: the bracket depth, the depths of the
    open attribute brackets (`@[…]`, `attribute […]`), and the head of the `syntax`/`macro` command being read (None
    outside one)."""

    tokens: Sequence[Token]
    bracket_depth: int = 0
    in_attribute: list[int] = field(default_factory=list)
    syntax_head: Token | None = None

    def step(self, i: int) -> tuple[Token, str] | None:
        """Read `tokens[i]`: the token to refuse and why, or None."""
        kind = self.tokens[i].kind
        if kind is TokenKind.SYMBOL:
            return self._symbol(i)
        if kind is TokenKind.IDENT:
            return self._ident(i)
        return None

    def _symbol(self, i: int) -> tuple[Token, str] | None:
        tok = self.tokens[i]
        if tok.text in "([{⟨⦃⟦":
            self.bracket_depth += 1
            prev = self.tokens[i - 1] if i > 0 else None
            if tok.text == "[" and prev is not None and (prev.text == "@" or unescape_name(prev.text) == "attribute"):
                self.in_attribute.append(self.bracket_depth)
        elif tok.text in ")]}⟩⦄⟧":
            if self.in_attribute and self.in_attribute[-1] == self.bracket_depth:
                self.in_attribute.pop()
            self.bracket_depth -= 1
        elif tok.text == ":" and self.syntax_head is not None and self._next_name(i) == "command":
            return self.syntax_head, "declares syntax of category `command`"
        return None

    def _next_name(self, i: int) -> str | None:
        nxt = self.tokens[i + 1] if i + 1 < len(self.tokens) else None
        return unescape_name(nxt.text) if nxt is not None and nxt.kind is TokenKind.IDENT else None

    def _ident(self, i: int) -> tuple[Token, str] | None:
        tok = self.tokens[i]
        name = unescape_name(tok.text)
        if NATIVE_AXIOM_COMPONENT in name.split("."):
            return tok, "uses a `_native` name, which only native evaluation's auxiliary axioms may bear"
        if self.in_attribute:
            if _registers_meta_code(name):
                return tok, "registers a command macro, an elaborator or meta code that proofs run"
            return None
        if name in HEADER_META_COMMANDS:
            return tok, "changes how commands elaborate or runs code"
        if name == "macro_rules" and _macro_rules_problem(self.tokens, i):
            return tok, "may rewrite commands (only `(tactic| …)`, `(term| …)`, `(conv| …)` patterns are allowed)"
        if name in _SYNTAX_COMMANDS:
            self.syntax_head = tok
        elif tok.column == 1 and name in COMMAND_KEYWORDS and name not in MODIFIER_KEYWORDS:
            self.syntax_head = None  # the syntax command ended where the next command begins
        return None


# Declaration modifiers and attribute kinds that precede a command keyword (lean4 `declModifiers`).
MODIFIER_KEYWORDS = frozenset(
    {"private", "public", "protected", "noncomputable", "unsafe", "partial", "local", "scoped"}
)


def _module_imports(text: str) -> list[str]:
    """The module names `text`'s header imports (`import M`, `public import M`, `meta import M`, `import all M`)."""
    try:
        tokens = tokenize(text, keep_comments=False)
    except LexError:
        return []
    names: list[str] = []
    expect = False
    for tok in tokens:
        if tok.kind is not TokenKind.IDENT:
            break
        if tok.text == "import":
            expect = True
        elif tok.text in ("module", "prelude", "public", "meta", "private") or (expect and tok.text == "all"):
            continue
        elif expect:
            names.append(unescape_name(tok.text))
            expect = False
        else:
            break
    return names


def _source_dirs(project: Path) -> list[Path]:
    """Where the Lake package `project` keeps its own modules: its root and every `srcDir` its lakefile names."""
    dirs = [project]
    for lakefile in ("lakefile.lean", "lakefile.toml"):
        path = project / lakefile
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            dirs += [project / d for d in re.findall(r'srcDir\s*:?=\s*"([^"]+)"', text)]
    return dirs


def user_modules(header: str, project: Path) -> list[Path]:
    """The files of the Lake package `project`'s own modules that `header` imports, transitively (a module found
    under the package's root or a `srcDir`, never under `.lake/`, where dependencies such as Mathlib live)."""
    dirs = _source_dirs(project)
    found: list[Path] = []
    queue = _module_imports(header)
    seen: set[str] = set()
    while queue:
        module = queue.pop(0)
        if module in seen:
            continue
        seen.add(module)
        relative = Path(*module.split(".")).with_suffix(".lean")
        for base in dirs:
            path = base / relative
            if path.is_file() and ".lake" not in path.parts:
                found.append(path)
                queue += _module_imports(path.read_text(encoding="utf-8", errors="replace"))
                break
    return found


def header_problem(header: str, project: Path | None = None) -> str | None:
    """Why a header cannot be trusted to leave the verifier's appended `#print axioms` alone, or None:
    `command_extension_problem` on the header and on every module of the user's own Lake package (`project`)
    it imports, transitively (`user_modules`)."""
    problem = command_extension_problem(header, "the header")
    if problem is not None or project is None:
        return problem
    for path in user_modules(header, project):
        text = path.read_text(encoding="utf-8", errors="replace")
        shown = path.relative_to(project) if path.is_relative_to(project) else path
        problem = command_extension_problem(text, str(shown))
        if problem is not None:
            return f"an imported module of the project: {problem}"
    return None


def has_module_header(source: str) -> bool:
    """Whether `source` starts (after comments) with Lean's `module` keyword (the module system, lean4#8174)."""
    try:
        tokens = tokenize(source, keep_comments=False)
    except LexError:
        return False
    return bool(tokens) and tokens[0].kind is TokenKind.IDENT and tokens[0].text == "module"


def plain_module_source(source: str) -> str:
    """`source` with its module-system syntax rewritten so that it compiles as a non-module file.

    Lean refuses `#print axioms` in a `module` (`MODULE_PRINT_AXIOMS_ERROR`), and a proof is never
    accepted without an axiom listing, so module files are checked as plain files. The rewrites follow
    the module system's syntax in Lean's `src/Lean/Parser/Module.lean` (header `module`, import
    modifiers `public`/`meta`/`private` and `import all`) and `src/Lean/Parser/Command.lean`
    (`public section`, `@[expose] public section`, the `public`/`meta` declaration modifiers),
    leanprover/lean4 as of v4.22-v4.32, and the reference manual's "The Module System" chapter:

    * `module` is dropped;
    * `public import M`, `meta import M`, `public meta import M`, `private import M`, `import all M`
      become `import M` (a plain file imports everything a module import can see);
    * `public section` and `@[expose] public section` become `section`;
    * the `public` and `meta` modifiers of declarations are dropped.

    Every rewrite blanks characters out (newlines stay), so lines and columns of everything else are
    unchanged and the judge's spans still hold. Dropping visibility only lets the file see more of its
    own and its imports' definitions; the statement and the axioms checked are the same. A source
    without a `module` header is returned unchanged.
    """
    if not has_module_header(source):
        return source
    tokens = tokenize(source, keep_comments=False)
    chars = list(source)

    def blank(start: int, end: int) -> None:
        for i in range(start, end):
            if chars[i] != "\n":
                chars[i] = " "

    blank(tokens[0].start, tokens[0].end)  # `module`
    for i, tok in enumerate(tokens):
        if tok.kind is not TokenKind.IDENT:
            continue
        nxt = tokens[i + 1].text if i + 1 < len(tokens) else ""
        prev = tokens[i - 1].text if i > 0 else ""
        modifier = tok.text in ("public", "meta") or (tok.text == "private" and nxt == "import")
        if modifier or (tok.text == "all" and prev == "import"):
            blank(tok.start, tok.end)
        elif tok.text == "expose" and i >= 2 and tokens[i - 1].text == "[" and tokens[i - 2].text == "@":
            # `@[expose] public noncomputable meta section`: lean4 `src/Lean/Parser/Command.lean` `sectionHeader` is
            # `optional ("@[" >> nonReservedSymbol "expose" >> "] ") >> optional "public " >>
            # optional "noncomputable " >> optional "meta "` before "section" (leanprover/lean4@00298d032c); the
            # attribute only exists for module sections, `public`/`meta` are blanked above, `noncomputable` stays.
            k = i + 2
            while k < len(tokens) and tokens[k].text in ("public", "noncomputable", "meta"):
                k += 1
            if i + 1 < len(tokens) and tokens[i + 1].text == "]" and k < len(tokens) and tokens[k].text == "section":
                blank(tokens[i - 2].start, tokens[i + 1].end)
    return "".join(chars)


@dataclass(frozen=True)
class CheckSource:
    """A source to compile and where to look in the answer."""

    text: str
    name: JudgedName
    span: tuple[int, int]
    print_line: int


def prepare_check(
    theorem: Theorem, proof: str, allow_native_decide: bool = False, helpers: str = ""
) -> CheckSource | Rejected:
    """The source to compile for `proof` of `theorem`, or why it is refused before Lean sees it
    (`static_check`, then `build_check_source`); every Lean-compiling verifier starts here. `helpers`: helper
    lemmas a whole-proof model wrote before the theorem (`helper_declarations_problem` judges them)."""
    problem = static_check(theorem, proof, allow_native_decide)
    if problem is not None:
        return Rejected(problem, CHECKER)
    if helpers.strip() and (problem := helper_declarations_problem(helpers, theorem.statement, allow_native_decide)):
        return Rejected(problem, CHECKER)
    try:
        return build_check_source(theorem, proof, helpers)
    except (ValueError, LexError) as exc:
        return Rejected(str(exc), CHECKER)


def build_check_source(theorem: Theorem, proof: str, helpers: str = "") -> CheckSource:
    """Header (+ `helpers`) + statement + proof + `#print axioms`, after checking the parse has no surprises.

    Raises `ValueError` (one line) when the assembled text does not parse as header declarations plus
    exactly this theorem with this statement, ending with the proof, or when `helpers` (declarations placed
    between the header and the theorem) are not plain fresh lemmas (`helper_declarations_problem`).
    """
    from lean_env.source.declarations import parse_lean_source

    problem = prelude_problem(f"{theorem.header}\n{helpers}\n{theorem.statement}")
    if problem is None and helpers.strip():
        problem = helper_declarations_problem(helpers, theorem.statement)
    if problem is not None:
        raise ValueError(problem)
    header = f"{theorem.header.rstrip()}\n\n{helpers.strip(chr(10))}\n" if helpers.strip() else theorem.header
    statement = _nameable_statement(theorem.statement)
    body = Theorem(theorem.name, statement, header=header).source_with_proof(proof)
    try:
        header_decls = len(parse_lean_source(header, "<header>").declarations)
        compiled = parse_lean_source(body, "<proof>")
    except LeanParseError as exc:
        raise ValueError(f"the source with the proof does not parse: {exc}") from None
    if len(compiled.declarations) != header_decls + 1 or not compiled.theorems:
        raise ValueError("the proof adds or removes declarations")
    decl = compiled.theorems[-1]
    if normalize_space(_strip_in_prefixes(decl.statement)) != normalize_space(_strip_in_prefixes(statement)):
        raise ValueError(f"the compiled statement differs from the original: {decl.statement!r}")
    # Comments are whitespace to Lean: `omega -- linear arithmetic` or a last line `-- done` end the proof too.
    if decl.proof_span is None or decl.suffix.strip() or tokenize(body[decl.proof_span.end :], keep_comments=False):
        raise ValueError("text follows the proof outside its `by` block")
    print_line = body.count("\n") + 1
    first_line = decl.decl_span.start_line
    # `#print axioms` is refused in a module: Lean compiles the same text as a plain file (same lines, so the
    # spans above still hold); the checks above ran on the text as written.
    judged = judged_name(decl)
    text = plain_module_source(body) + f"#print axioms {judged.print_argument}\n"
    return CheckSource(text, judged, (first_line, print_line - 1), print_line)


# What may make up a helper declaration's head: `theorem`/`lemma` only (`HELPER_KEYWORDS`); every other command
# keyword before the judged theorem (`def`, `instance`, `abbrev`, `notation`, `open`, `set_option`, `attribute`,
# `local`, `scoped`, modifiers, ...) could change what the unchanged statement text means or what Lean checks.
HELPER_KEYWORDS = frozenset({"theorem", "lemma"})


def helper_declarations_problem(helpers: str, statement: str, allow_native_decide: bool = False) -> str | None:
    """Why `helpers`, the declarations a whole-proof model wrote before the judged theorem, are refused, or None.

    Accepted: only a sequence of attribute-free `theorem`/`lemma` declarations (comments allowed), each
    `theorem NAME binders : type := proof`, whose name is fresh: no component of it (as Lean reads it,
    `unescape_name`) is a component of any name in `statement`, so a helper cannot shadow what the statement
    refers to (inside a namespace `theorem foo` would be found before a root `foo`). Each helper's type and proof
    must pass the tactic filter (no `sorry`, no command keyword, no `set_option`, ...). Refused: any other command
    (`def`, `instance`, `abbrev`, `notation`, `open`, `set_option`, `attribute`, `variable`, ...), attributes
    (`@[simp]`: a new simp lemma or instance changes what tactics and elaboration of the statement do),
    modifiers (`local`, `scoped`, `private`, `noncomputable`, ...), `… in` prefixes, `where`/`termination_by`/
    `decreasing_by` clauses and equation-style proofs. Text with no declaration at all is fine (None).
    The verifier applies it to the text it places between the header and the theorem (`build_check_source`'s
    `helpers`); a whole-proof generator that keeps such a block calls it to decide whether to keep it.
    """
    try:
        tokens = tokenize(helpers, keep_comments=False)
        statement_tokens = tokenize(statement, keep_comments=False)
    except LexError as exc:
        return f"the declarations before the theorem do not lex: {exc.reason}"
    if not tokens:
        return None
    heads = [i for i, t in enumerate(tokens) if t.kind is TokenKind.IDENT and unescape_name(t.text) in HELPER_KEYWORDS]
    if not heads or heads[0] != 0:
        first = tokens[0]
        return (
            f"only attribute-free `theorem`/`lemma` declarations may precede the theorem, not `{first.text}` "
            f"(line {first.line})"
        )
    used = {
        part
        for t in statement_tokens
        if t.kind in (TokenKind.IDENT, TokenKind.KEYWORD_HASH)
        for part in unescape_name(t.text.lstrip("#")).split(".")
    }
    for n, start in enumerate(heads):
        chunk = tokens[start : heads[n + 1] if n + 1 < len(heads) else len(tokens)]
        problem = _helper_problem(helpers, chunk, used, allow_native_decide)
        if problem is not None:
            return problem
    return None


def _helper_problem(helpers: str, chunk: Sequence[Token], used: set[str], allow_native_decide: bool) -> str | None:
    """Why one helper declaration is refused, or None: `chunk` is its tokens in `helpers` from its `theorem`/`lemma`
    on, `used` the name components of the judged statement."""
    from lean_env.checks.tactic_filter import check_tactic

    where = f"the declaration before the theorem at line {chunk[0].line}"
    if len(chunk) < 2 or chunk[1].kind is not TokenKind.IDENT:
        return f"{where} has no name"
    name = unescape_name(chunk[1].text)
    clash = sorted(set(name.split(".")) & used)
    if clash:
        return f"{where} is named `{name}`, which shadows `{clash[0]}` of the statement: a helper needs a fresh name"
    assign = _helper_assignment(chunk, where)
    if isinstance(assign, str):
        return assign
    if chunk[-1].kind is TokenKind.IDENT and chunk[-1].text == "in":
        return f"{where} ends in `in` (line {chunk[-1].line}): it would scope a command over what follows"
    for part in (
        helpers[chunk[2].start : chunk[assign].start] if assign > 2 else "",
        helpers[chunk[assign].end : chunk[-1].end],
    ):
        reason = check_tactic(part, allow_native_decide) if part.strip() else None
        if reason is not None:
            return f"{where} is refused: {reason}"
    return None


def _helper_assignment(chunk: Sequence[Token], where: str) -> int | str:
    """The index in `chunk` of the helper's first top-level `:=` (its proof follows), or why the helper is refused:
    an attribute `@[` anywhere in it, a top-level `where`/`termination_by`/`decreasing_by` clause, no `:=`."""
    depth, assign = 0, None
    for k, tok in enumerate(chunk):
        if tok.kind is TokenKind.SYMBOL and tok.text in "([{⟨⦃⟦":
            depth += 1
        elif tok.kind is TokenKind.SYMBOL and tok.text in ")]}⟩⦄⟧":
            depth -= 1
        elif depth == 0 and tok.kind is TokenKind.SYMBOL and tok.text == ":=" and assign is None:
            assign = k
        if tok.kind is TokenKind.SYMBOL and tok.text == "@" and k + 1 < len(chunk) and chunk[k + 1].text == "[":
            return f"{where} is followed by an attribute `@[` (line {tok.line}): helpers must be attribute-free"
        if depth == 0 and tok.kind is TokenKind.IDENT and tok.text in ("where", "termination_by", "decreasing_by"):
            return f"{where} has a `{tok.text}` clause (line {tok.line}): helpers are plain theorems"
    return f"{where} has no `:= proof`" if assign is None else assign


def _strip_in_prefixes(statement: str) -> str:
    """The statement from its keyword on: `to_theorem` keeps `set_option ... in`/`open ... in` prefixes in the
    statement, the parser reports them apart. The keyword is any target's (`TARGET_KEYWORDS`: `theorem`, `lemma`,
    `example` and compfiles' `problem`)."""
    tokens = tokenize(statement, keep_comments=False)
    for tok in tokens:
        if tok.kind is TokenKind.IDENT and tok.text in TARGET_KEYWORDS:
            return statement[tok.start :]
    return statement


def _nameable_statement(statement: str) -> str:
    """`example : P` gets a name so `#print axioms` can ask about it; other statements (every other
    `TARGET_KEYWORDS` kind declares a name) are unchanged."""
    for tok in tokenize(statement, keep_comments=False):
        if tok.kind is TokenKind.IDENT and tok.text == "example":
            return f"{statement[: tok.start]}theorem {EXAMPLE_NAME}{statement[tok.end :]}"
        if tok.kind is TokenKind.IDENT and tok.text in TARGET_KEYWORDS:
            return statement
    return statement
