"""The document model of a parsed `.lean` file: its declarations, theorems, holes and their positions.

Positions: `line`/`column` are 1-based and count code points (Lean's REPL reports 0-based columns,
so REPL column = our column - 1); `start`/`end` are offsets into the Python string; `start_byte`/
`end_byte` are UTF-8 byte offsets. `lean_env.source.declarations` builds the model
(`parse_lean_source`), `lean_env.source.render` turns proofs into edits of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from lean_env.source.edits import Span, dedent_script
from lean_env.types import Theorem

__all__ = [
    "DECL_KEYWORDS",
    "OTHER_DECL_KEYWORDS",
    "TARGET_KEYWORDS",
    "Declaration",
    "Hole",
    "HolePosition",
    "LeanFile",
    "SourcePos",
    "TheoremDecl",
    "TheoremKind",
    "iter_sorries",
    "pair_theorems",
]

TheoremKind = Literal["theorem", "lemma", "example", "problem"]
# compfiles' `problem` (dwrensha/compfiles ProblemExtraction.lean at 0d7ea8b0a6a108792e018492223c7a488d65666a)
# is "A synonym for `theorem`": its elab_rules elaborate `$dm theorem $di $ds $dv`, so its `sorry`s are proofs to
# fill like a theorem's. Its `determine` is not a target: "A synonym for `abbrev`" whose body is data, an answer
# "a human will inspect" when judging; a `sorry` there is a choice of answer, not a proof to search for.
TARGET_KEYWORDS = frozenset({"theorem", "lemma", "example", "problem"})
OTHER_DECL_KEYWORDS = frozenset(
    {"def", "instance", "abbrev", "structure", "class", "inductive", "coinductive", "axiom", "opaque"}
    # Declarations of Batteries, Mathlib and compfiles (see lean_env.source.lexer.COMMAND_KEYWORDS): recorded
    # with their names so that the file's structure is visible; not proof targets.
    | {"alias", "proof_wanted", "open_problem", "irreducible_def", "determine"}
)
DECL_KEYWORDS = TARGET_KEYWORDS | OTHER_DECL_KEYWORDS


@dataclass(frozen=True, slots=True)
class SourcePos:
    line: int
    column: int
    offset: int
    byte_offset: int


@dataclass(frozen=True, slots=True)
class Declaration:
    """Any top-level declaration (targets included), so callers can see the file's structure."""

    kind: str
    name: str | None  # full name (namespaces included); None for anonymous instances
    span: Span

    @property
    def line(self) -> int:
        return self.span.start_line

    @property
    def is_target(self) -> bool:
        return self.kind in TARGET_KEYWORDS


HolePosition = Literal["tactic", "term"]


@dataclass(frozen=True, slots=True)
class Hole:
    """One `sorry` of a declaration's proof: a place where a proof script goes.

    `span` is the `sorry` token exactly. `position` is "tactic" when the `sorry` stands where a tactic
    does (`· sorry`, `:= by sorry`, a line of its own in a tactic block) and "term" where a term does
    (`exact ⟨sorry, h⟩`, `have h : p := sorry`). `indent` is the column (0-based, in code points) where
    every further line of a multi-line replacement must start: the `sorry`'s own column in tactic position
    (Lean's `sepByIndent` wants the next tactic in the first one's column), the enclosing tactic's column
    + 2 in term position (a nested `by` block indented past the tactic it belongs to). `index` is the
    0-based order among the declaration's holes, in source order, which is also the order of the REPL's
    `sorries` sorted by position. `parenthesize`: a term-position replacement needs `(by …)` here
    (the `sorry` is an argument, not the whole term after `:=`, `=>`, `<|`, `(`, `⟨` or `,`).
    `margin` is the whitespace that starts the `sorry`'s line, byte for byte (a tab stays a tab): further
    lines of a replacement start with it, then spaces up to `indent` (see `line_pad`).
    """

    span: Span
    position: HolePosition
    indent: int
    index: int
    parenthesize: bool = False
    margin: str = ""


@dataclass(frozen=True, slots=True)
class TheoremDecl:
    """One theorem, lemma, example or compfiles `problem`.

    `statement` is the text from the keyword up to (not including) the top-level `:=`; `proof` is
    the text after `:=` up to the next command, a `where` clause or `termination_by`/`decreasing_by`
    (kept in `suffix`). Equation-style proofs (`| 0 => ...`, no `:=`) are in `proof` too. A
    statement with no proof at all (`proof_span is None`) is accepted: statement files such as
    Llemma's miniF2F have none.
    """

    name: str
    short_name: str | None
    kind: TheoremKind
    namespace: str
    statement: str
    proof: str
    sorries: tuple[SourcePos, ...]
    decl_span: Span  # doc comment and attributes included
    statement_span: Span
    proof_span: Span | None
    assign_span: Span | None  # the `:=` token; None for equation-style or missing proofs
    suffix: str = ""
    doc: str | None = None
    attributes: tuple[str, ...] = ()
    modifiers: tuple[str, ...] = ()
    # `set_option x v in` / `open A in` / `#guard_msgs in` before the declaration, without the `in`.
    command_prefixes: tuple[str, ...] = ()
    # Every `sorry` after the statement (proof, `where`, `decreasing_by`), in source order.
    holes: tuple[Hole, ...] = ()
    # Column (0-based) where the proof text starts in the source, for `tactic_script`.
    proof_column: int = 0
    # Spaces before the declaration on its first line (a whole new proof is indented 2 more).
    indent: int = 0
    # The whole parsed text, shared by every declaration of the file (a reference, not a copy): a file of n
    # declarations holds its text once, not n copies of growing prefixes (`header` slices it when asked).
    source: str = field(default="", repr=False, compare=False)

    @property
    def header(self) -> str:
        """All file text before the declaration (before `decl_span`, so without its doc comment and
        attributes), a BOM left out."""
        return self.source[1 if self.source.startswith("\ufeff") else 0 : self.decl_span.start]

    @property
    def has_sorry(self) -> bool:
        return bool(self.sorries)

    @property
    def line(self) -> int:
        return self.statement_span.start_line

    @property
    def has_proof(self) -> bool:
        return self.proof_span is not None

    @property
    def equation_style(self) -> bool:
        return self.proof_span is not None and self.assign_span is None

    @property
    def tactic_script(self) -> str | None:
        """The proof's tactic block without its `by`, dedented with its layout intact; None when the
        proof is not a `by` block. A first tactic written on the `by` line keeps its real column, so
        `by intro h\n  exact h` stays one (ill-laid-out) step and `:= by\n  intro h\n  exact h` is two."""
        proof = self.proof
        if not (proof.startswith("by") and (len(proof) == 2 or proof[2].isspace())):
            return None
        return dedent_script(" " * (self.proof_column + 2) + proof[2:])

    def to_theorem(self) -> Theorem:
        """A `Theorem` that re-elaborates on its own after `header` (all file text before it).

        `lemma` becomes `theorem` (plain Lean has no `lemma`), so does compfiles' `problem` (what its
        elab_rules elaborate it to, see TARGET_KEYWORDS), and an `example` becomes
        `theorem example_<line>` so that it has a name to check (`#print axioms`). Attributes and
        `#guard_msgs` are dropped; `set_option ... in`/`open ... in` prefixes are kept.
        """
        statement = self.statement
        if self.kind in ("lemma", "problem"):
            statement = "theorem" + statement[len(self.kind) :]
        elif self.kind == "example":
            statement = f"theorem {self.name.rsplit('.', 1)[-1]}" + statement[len("example") :]
        kept_prefix = "".join(f"{p} in\n" for p in self.command_prefixes if not p.startswith("#guard_msgs"))
        return Theorem(
            name=self.name,
            statement=kept_prefix + statement,
            header=self.header,
            suffix=self.suffix,
        )

    def to_json(self) -> dict[str, Any]:
        """Every field but the shared `source`: the header is the file's text before `decl_span` (written out for
        every declaration, a file's JSON would grow with the square of its length)."""
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "source":
                continue
            if isinstance(value, tuple):
                value = [asdict(v) if isinstance(v, (SourcePos, Hole)) else v for v in value]
            data[f.name] = asdict(value) if isinstance(value, Span) else value
        data["has_sorry"] = self.has_sorry
        data["line"] = self.line
        return data


@dataclass
class LeanFile:
    path: str
    source: str
    header: str
    imports: list[str]
    theorems: list[TheoremDecl]
    declarations: list[Declaration] = field(default_factory=list)

    def get(self, name: str) -> TheoremDecl:
        """The theorem with this full name, or else this short name (unique), else KeyError."""
        for thm in self.theorems:
            if thm.name == name:
                return thm
        matches = [t for t in self.theorems if t.short_name == name or t.name.endswith("." + name)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise KeyError(f"ambiguous theorem name {name!r}: {', '.join(t.name for t in matches)}")
        raise KeyError(f"no theorem, lemma or example named {name!r} in {self.path}")

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "header": self.header,
            "imports": self.imports,
            "declarations": [
                {"kind": d.kind, "name": d.name, "line": d.line, "span": asdict(d.span)} for d in self.declarations
            ],
            "theorems": [t.to_json() for t in self.theorems],
        }


def iter_sorries(lean_file: LeanFile) -> Iterator[tuple[TheoremDecl, SourcePos]]:
    for thm in lean_file.theorems:
        for pos in thm.sorries:
            yield thm, pos


def pair_theorems(original: LeanFile, rewritten: LeanFile) -> dict[str, TheoremDecl]:
    """Each original theorem's name -> the same declaration in a rewritten copy of the file.

    Paired by position, since rewriting a proof shifts the line-based names of later examples;
    empty when the files no longer have the same theorems.
    """
    if [d.kind for d in original.theorems] != [d.kind for d in rewritten.theorems]:
        return {}
    return {old.name: new for old, new in zip(original.theorems, rewritten.theorems, strict=True)}
