"""`prover prove`'s file handling: fill each `sorry` of a file where it stands (or prove whole theorems), verify, write.

The file is parsed once (`lean_env.source.document.LeanFile`); each `sorry` of a declaration's skeleton is a
target searched from its own goal (`Env.start_hole`), a declaration whose proof is just `sorry`
(or every one, with `--from-statement`) is searched from its statement. The scripts found become
span edits of the one parse, applied in one pass. A target counts as proved only when (1) the search
found a proof, (2) for a whole proof, the backend's verifier re-checked it from scratch, and (3) the
declaration, as it stands in the rewritten text with all its holes filled, was re-checked. Anything
else is reported as not proved, with the reason.
"""

from __future__ import annotations

import difflib
import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from lean_env.checks.verdict import (
    FileVerifier,
    HoleVerifier,
    PartialVerifier,
    ProofVerifier,
    Rejected,
    Verdict,
    Verified,
)
from lean_env.source.declarations import parse_lean_source
from lean_env.source.document import Hole, LeanFile, TheoremDecl, pair_theorems
from lean_env.source.edits import Edit, apply_edits, dedent_script, split_steps
from lean_env.source.render import render_script_at, render_whole_proof
from lean_env.types import DojoSource, HoleTarget, Theorem
from prover.engine import Engine, Outcome, ProofTarget, Status
from prover.files import UserFileChangedError, atomic_write, write_user_file
from search import InformalContext


class UnknownTheoremError(ValueError):
    pass


@dataclass(frozen=True)
class ProveOptions:
    """One `prover prove` run as the command line gave it: the file, the config overrides, the outputs, the
    strategy ("auto": the model preset's)."""

    file: Path
    theorem: str | None = None
    config: Path | None = None
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    write: bool = False
    report: Path | None = None
    tree_dir: Path | None = None
    informal: bool = False
    from_statement: bool = False
    strategy: str = "auto"
    num_proofs: int = 8
    correction_rounds: int = 0  # > 0: the `correct` strategy (self-correction rounds after the samples)
    correction_samples: int = 1  # corrections per failed sample and round
    repair: bool = False  # failed whole proofs: failing blocks become holes the tactic search fills
    keep_partial: bool = False  # write a skeleton with some holes filled when it compiles with just the others


# 1: entries without strategy, costs and attempts, statuses as the search named them (failed_exhausted, ...);
# 2: statuses of `prover.engine.Status`, each entry's strategy, cost per round and attempts.
REPORT_SCHEMA_VERSION = 2


@dataclass
class TheoremReport:
    """One target's entry in the `--report` JSON: its outcome, cost per strategy round and every attempt."""

    name: str
    status: Status
    proof: str | None = None
    checker: str | None = None
    message: str = ""
    stats: dict[str, Any] = field(default_factory=dict)
    strategy: str = ""
    costs: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.status = Status.from_legacy(str(self.status))

    @property
    def proved(self) -> bool:
        return self.status is Status.PROVED

    @classmethod
    def from_outcome(cls, outcome: Outcome) -> TheoremReport:
        return cls(
            name=outcome.target,
            status=outcome.status,
            proof=outcome.proof,
            checker=outcome.checker,
            message=outcome.message,
            stats=dict(outcome.stats),
            strategy=outcome.strategy,
            costs=outcome.cost_dicts(),
            attempts=[a.to_dict() for a in outcome.attempts],
        )


@dataclass
class FileReport:
    file: str
    backend: str
    generator: str
    model: str | None
    started_at: float = field(default_factory=time.time)
    theorems: list[TheoremReport] = field(default_factory=list)
    file_verified: bool | None = None
    written: bool = False
    backup: str | None = None
    interrupted: bool = False

    @property
    def all_proved(self) -> bool:
        return bool(self.theorems) and all(t.proved for t in self.theorems)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["schema_version"] = REPORT_SCHEMA_VERSION
        for entry in data["theorems"]:
            entry["status"] = str(entry["status"])
        data["proved"] = sum(t.proved for t in self.theorems)
        data["total"] = len(self.theorems)
        return data

    def save(self, path: Path) -> None:
        """Atomic write, so a crash mid-write never leaves a truncated report."""
        atomic_write(path, json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")


def select_targets(lean_file: LeanFile, theorem: str | None) -> list[TheoremDecl]:
    """The named theorem, or every theorem/lemma/example whose proof contains `sorry`."""
    if theorem is None:
        return [d for d in lean_file.theorems if d.has_sorry]
    matches = [d for d in lean_file.theorems if d.name == theorem or d.name.rsplit(".", 1)[-1] == theorem]
    if not matches:
        known = ", ".join(d.name for d in lean_file.theorems) or "none"
        raise UnknownTheoremError(f"no theorem named {theorem!r} in {lean_file.path} (theorems: {known})")
    if len(matches) > 1:
        names = ", ".join(d.name for d in matches)
        raise UnknownTheoremError(f"{theorem!r} is ambiguous in {lean_file.path}: {names}")
    return matches


def proof_body(decl_proof: str) -> str:
    """The tactic block of a `by` proof as it appears after `:=`, without the `by`."""
    text = decl_proof.strip()
    return text[2:].lstrip(" ").lstrip("\n") if text.startswith("by") else text


def _replay_whole_proofs(
    verifier: ProofVerifier, lean_file: LeanFile, new_source: str, names: Sequence[str]
) -> dict[str, Verdict]:
    """Whole proofs, each re-checked as it now stands in the new text (for verifiers that cannot compile
    a whole file): the new text is parsed once and paired with the original parse by position."""
    paired = pair_theorems(lean_file, parse_lean_source(new_source, lean_file.path))
    verdicts: dict[str, Verdict] = {}
    for name in names:
        old_decl, new_decl = lean_file.get(name), paired.get(name)
        if new_decl is None:
            verdicts[name] = Rejected("the rewritten file no longer has the same theorems")
            continue
        if " ".join(old_decl.statement.split()) != " ".join(new_decl.statement.split()):
            verdicts[name] = Rejected("the statement in the rewritten file differs from the original")
            continue
        verdicts[name] = verifier.verify(new_decl.to_theorem(), proof_body(new_decl.proof))
    return verdicts


ProgressCallback = Callable[[str, Any], None]


def dojo_source_for(path: Path) -> Callable[[TheoremDecl], Theorem]:
    """LeanDojo traces a git commit: theorems of `path` at the HEAD of its repository.

    Raises ValueError when the file is not in a git repository or differs from HEAD (LeanDojo
    would silently prove the committed version instead).
    """
    import subprocess

    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=path.parent, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise ValueError(f"the dojo backend needs {path} inside a git repository ({proc.stderr.strip()})")
        return proc.stdout.strip()

    root = Path(git("rev-parse", "--show-toplevel"))
    commit = git("rev-parse", "HEAD")
    rel = path.resolve().relative_to(root.resolve()).as_posix()
    if git("status", "--porcelain", "--", rel):
        raise ValueError(f"{rel} has uncommitted changes; LeanDojo traces commit {commit[:12]}: commit them first")

    def make(decl: TheoremDecl) -> Theorem:
        theorem = decl.to_theorem()
        return replace(theorem, dojo=DojoSource(url=str(root), commit=commit, file_path=rel, full_name=decl.name))

    return make


def informal_context(decl: TheoremDecl) -> InformalContext | None:
    """A theorem's doc comment, as the informal statement that guides the prompt."""
    return InformalContext(statement=decl.doc) if decl.doc else None


@dataclass(frozen=True)
class Hooks:
    """Optional callbacks: a search's progress (target name, event) and each finished target's entry."""

    on_progress: ProgressCallback | None = None
    on_done: Callable[[Outcome], None] | None = None


@dataclass(frozen=True)
class DeclPlan:
    """How one declaration is worked on: each hole of its skeleton, or (no holes) its whole proof.

    `targets` are the names of its `ProofTarget`s, in hole order (one name for a whole proof).
    """

    decl: TheoremDecl
    theorem: Theorem
    holes: tuple[Hole, ...]
    skeleton: str
    targets: tuple[str, ...]


def proof_is_just_sorry(decl: TheoremDecl) -> bool:
    """`:= sorry`, `:= by sorry`, `:= by\\n  sorry`: nothing of the user's to keep."""
    words = decl.proof.split()
    return words in (["sorry"], ["by", "sorry"])


def plan_targets(
    lean_file: LeanFile,
    decls: Sequence[TheoremDecl],
    *,
    from_statement: bool = False,
    make_theorem: Callable[[TheoremDecl], Theorem] | None = None,
    use_informal: bool = False,
) -> tuple[list[DeclPlan], list[ProofTarget]]:
    """One target per `sorry` of each declaration's skeleton; one whole-proof target instead when
    `from_statement` is set, the proof is just `sorry`, or it has no `sorry` (`--theorem` on a proved one)."""
    plans: list[DeclPlan] = []
    targets: list[ProofTarget] = []
    for decl in decls:
        theorem = make_theorem(decl) if make_theorem else decl.to_theorem()
        context = informal_context(decl) if use_informal else None
        # Only the proof's own holes are targets; a `sorry` after the proof (`where`, `decreasing_by`) stays in the
        # declaration, and every verifier refuses it (`static_check`), so the declaration is never proved.
        proof_end = decl.proof_span.end if decl.proof_span is not None else -1
        holes = tuple(h for h in decl.holes if h.span.start < proof_end)
        if from_statement or not holes or decl.proof_span is None or proof_is_just_sorry(decl):
            plans.append(DeclPlan(decl, theorem, (), "", (decl.name,)))
            targets.append(ProofTarget(decl.name, theorem, context=context))
            continue
        start = decl.proof_span.start
        skeleton = lean_file.source[start : decl.proof_span.end]
        offsets = tuple(h.span.start - start for h in holes)
        prefixes = _top_level_prefixes(skeleton, len(holes))
        names = []
        for hole in holes:
            target = HoleTarget(theorem, skeleton, offsets, hole.index, prefixes.get(hole.index))
            names.append(target.label)
            targets.append(ProofTarget(target.label, theorem, target, context))
        plans.append(DeclPlan(decl, theorem, holes, skeleton, tuple(names)))
    return plans, targets


def _top_level_prefixes(skeleton: str, count: int) -> dict[int, tuple[str, ...]]:
    """For each hole that is a whole top-level step of a `by` block: the steps before it (for LeanDojo)."""
    text = skeleton.strip()
    if not (text.startswith("by") and (len(text) == 2 or text[2].isspace())):
        return {}
    from lean_env.cassette.keys import without_comments

    # Comments travel with the step after them; LeanDojo is sent the tactics without them.
    steps = [code for code in (without_comments(s).strip() for s in split_steps(dedent_script(text[2:]))) if code]
    found: dict[int, tuple[str, ...]] = {}
    seen = 0
    for i, step in enumerate(steps):
        if step == "sorry":
            found[seen] = tuple(steps[:i])
        seen += len(re.findall(r"(?<![\w.'])sorry(?![\w'])", step))
    return found if seen == count else {}


def prove_file(
    targets: Sequence[ProofTarget],
    engine: Engine,
    report: FileReport,
    hooks: Hooks = Hooks(),
) -> dict[str, str]:
    """Prove (and, for theorems, verify) each target with the engine, `jobs` at a time.

    Returns the proofs by target name: verified theorem proofs, and hole scripts found by the search
    (status "found"; `finalize_file` re-checks them with their whole declaration). `report.theorems`
    gets one entry per target, in target order.
    """

    lock = threading.Lock()
    before = len(report.theorems)

    def done(outcome: Outcome) -> None:
        # The entry is in the report as soon as its target finishes (a report saved now holds it).
        with lock:
            report.theorems.append(TheoremReport.from_outcome(outcome))
        if hooks.on_done is not None:
            hooks.on_done(outcome)

    outcomes = engine.prove_all(targets, hooks.on_progress, on_done=done)
    order = {t.name: i for i, t in enumerate(targets)}
    report.theorems[before:] = sorted(report.theorems[before:], key=lambda e: order.get(e.name, len(order)))
    return {o.target: o.proof for o in outcomes if o.status in (Status.PROVED, Status.FOUND) and o.proof is not None}


def finalize_file(
    path: Path,
    lean_file: LeanFile,
    plans: Sequence[DeclPlan],
    proofs: dict[str, str],
    verifier: ProofVerifier,
    report: FileReport,
    write: bool,
    keep_partial: bool = False,
) -> tuple[str, str]:
    """Fill the holes and proofs found, re-verify every changed declaration whole, drop any that fail.

    With `keep_partial`, a skeleton with some holes filled is kept with those filled and the others still
    `sorry`, when the verifier confirms it compiles with nothing but the remaining holes (`partial_problem`):
    its entries become `partial`, never proved.

    A declaration changes only when all its holes were filled (one that still has a `sorry` is not
    proved). Edits are spans of the one parse, applied in one pass to the original text, so nothing
    else in the file changes. Returns (new_source, unified diff); writes (keeping a backup and the
    file's mode, BOM and line endings) only when `write` is set and something survived.
    """
    by_name = {t.name: t for t in report.theorems}
    original = lean_file.source
    planned = _plan_file_edits(lean_file, plans, proofs, verifier, by_name, keep_partial)
    changes, partial = planned.changes, planned.partial
    new_source = _verify_until_stable(verifier, lean_file, changes, partial, by_name, report)
    diff = "".join(
        difflib.unified_diff(
            original.splitlines(keepends=True),
            new_source.splitlines(keepends=True),
            fromfile=f"a/{path.name}",
            tofile=f"b/{path.name}",
        )
    )
    if write and (changes or partial):
        # A search takes minutes to hours: the user may have edited the file meanwhile. The edits are
        # spans of the text read at the start, so they are written only onto that same text.
        try:
            backup = write_user_file(path, original, new_source)
        except UserFileChangedError as exc:
            reason = "changed while the search ran" if exc.reason == "changed since it was read" else exc.reason
            raise FileChangedError(path, diff, reason) from None
        report.written, report.backup = True, str(backup)
    return new_source, diff


_Change = tuple[DeclPlan, list[Edit], dict[int, str]]


@dataclass
class _FileEdits:
    """What `finalize_file` will try to write: whole declarations to verify (`changes`) and, with
    `--keep-partial`, skeletons kept with some holes still `sorry` (`partial`, already confirmed)."""

    changes: dict[str, _Change] = field(default_factory=dict)
    partial: dict[str, list[Edit]] = field(default_factory=dict)


def _plan_file_edits(
    lean_file: LeanFile,
    plans: Sequence[DeclPlan],
    proofs: dict[str, str],
    verifier: ProofVerifier,
    by_name: dict[str, TheoremReport],
    keep_partial: bool,
) -> _FileEdits:
    """The edits of every declaration whose holes (or whole proof) were all found; the others get a note."""
    original = lean_file.source
    out = _FileEdits()
    for plan in plans:
        if not plan.holes:
            script = proofs.get(plan.decl.name)
            if script is not None:
                where = plan.decl.proof_span or plan.decl.decl_span
                newline = line_ending_at(original, where.start)
                out.changes[plan.decl.name] = (plan, [render_whole_proof(plan.decl, script, newline)], {})
            continue
        fills = {h.index: proofs[n] for h, n in zip(plan.holes, plan.targets, strict=True) if n in proofs}
        if keep_partial and 0 < len(fills) < len(plan.holes):
            _keep_partial(lean_file, plan, fills, verifier, by_name, out)
        elif len(fills) < len(plan.holes):
            missing = next(n for n in plan.targets if n not in proofs)
            for name in plan.targets:
                if name in proofs:
                    by_name[
                        name
                    ].message = f"found, not written: {missing} was not filled, so the declaration is unproved"
        else:
            out.changes[plan.decl.name] = (plan, [_fill_edit(original, h, fills[h.index]) for h in plan.holes], fills)
    return out


def _keep_partial(
    lean_file: LeanFile,
    plan: DeclPlan,
    fills: dict[int, str],
    verifier: ProofVerifier,
    by_name: dict[str, TheoremReport],
    out: _FileEdits,
) -> None:
    """`--keep-partial`: keep the filled holes of a skeleton when the verifier confirms nothing else is wrong."""
    original = lean_file.source
    edits = [_fill_edit(original, h, fills[h.index]) for h in plan.holes if h.index in fills]
    problem = partial_problem(verifier, lean_file, plan, fills, apply_edits(original, edits))
    if problem is None:
        out.partial[plan.decl.name] = edits
        _mark_partial(plan, fills, by_name)
        return
    for name in plan.targets:
        by_name[name].message = f"partial proof not kept: {problem}"


def _verify_until_stable(
    verifier: ProofVerifier,
    lean_file: LeanFile,
    changes: dict[str, _Change],
    partial: dict[str, list[Edit]],
    by_name: dict[str, TheoremReport],
    report: FileReport,
) -> str:
    """Apply every change, re-verify each changed declaration whole, drop the rejected ones and try again until
    every remaining one is verified (at most one round per change). Returns the final text; `changes` keeps
    only the verified declarations."""
    original = lean_file.source
    kept = [e for edits in partial.values() for e in edits]
    new_source = original
    for _ in range(len(changes) + 1):
        new_source = apply_edits(original, [e for _, edits, _ in changes.values() for e in edits] + kept)
        if not changes:
            break
        verdicts = _check_declarations(verifier, lean_file, new_source, list(changes.values()))
        rejected = [
            name for name in list(changes) if not _record_verdict(changes[name][0], verdicts.get(name), by_name)
        ]
        for name in rejected:
            del changes[name]
        if not rejected:
            report.file_verified = True
            break
    return new_source


def _record_verdict(plan: DeclPlan, verdict: Verdict | None, by_name: dict[str, TheoremReport]) -> bool:
    """Mark the declaration's entries proved or rejected; True when verified."""
    # A declaration the verifier said nothing about is not verified: it is dropped like a rejected one.
    if verdict is None:
        verdict = Rejected("the verifier returned no verdict for this declaration")
    entries = [by_name[n] for n in plan.targets]
    if isinstance(verdict, Verified):
        for entry in entries:
            entry.status, entry.checker = Status.PROVED, verdict.checker
        return True
    for entry in entries:
        entry.status, entry.checker = Status.REJECTED, verdict.checker or entry.checker
        entry.message = f"whole-declaration check rejected the proof: {verdict.reason}"
    return False


def line_ending_at(text: str, offset: int) -> str:
    """The line ending of the line holding `offset` (`\\r\\n` or `\\n`): a file may mix them, and a rewritten
    proof's new lines take its own line's, so no other line's bytes change. A last line without one takes the
    line ending before it; a file of one line, `\\n`."""
    end = text.find("\n", offset)
    if end == -1:
        end = text.rfind("\n", 0, offset)
    return "\r\n" if end > 0 and text[end - 1] == "\r" else "\n"


def _fill_edit(original: str, hole: Hole, script: str) -> Edit:
    return Edit(hole.span, render_script_at(hole, script, line_ending_at(original, hole.span.start)))


def partial_problem(
    verifier: ProofVerifier, lean_file: LeanFile, plan: DeclPlan, fills: dict[int, str], new_source: str
) -> str | None:
    """Why a skeleton with only `fills` filled may not be written, or None: it must have fewer `sorry`s than
    before and compile with no error (the REPL verifier: its messages hold warnings only; replay: every filled
    hole replays to the end from its recorded goal, as Lean compiles the skeleton with those goals)."""
    from lean_env.source.lexer import TokenKind, tokenize

    def sorries(text: str) -> int:
        return sum(t.kind is TokenKind.IDENT and t.text == "sorry" for t in tokenize(text, keep_comments=False))

    if sorries(new_source) >= sorries(lean_file.source):
        return "it would not have fewer `sorry`s"
    if isinstance(verifier, FileVerifier):
        verdict = verifier.verify_file(lean_file.source, new_source, [plan.decl.name]).get(plan.decl.name)
        if not isinstance(verdict, Rejected) or not verdict.messages:
            return "the compile gave no messages to confirm that only the holes remain"
        errors = [m for m in verdict.messages if m.is_error]
        return f"Lean reports an error: {errors[0].data.splitlines()[0]}" if errors else None
    if isinstance(verifier, PartialVerifier):
        return verifier.verify_partial(plan.theorem, plan.skeleton, fills)
    return f"{type(verifier).__name__} cannot check a partial proof"


def _mark_partial(plan: DeclPlan, fills: dict[int, str], by_name: dict[str, TheoremReport]) -> None:
    left = [name for hole, name in zip(plan.holes, plan.targets, strict=True) if hole.index not in fills]
    for hole, name in zip(plan.holes, plan.targets, strict=True):
        entry = by_name[name]
        if hole.index in fills:
            entry.status = Status.PARTIAL
            entry.message = f"written into a partial proof; still `sorry`: {', '.join(left)}"
        else:
            entry.message = f"{entry.message}; left as `sorry` in the written partial proof".lstrip("; ")


class FileChangedError(Exception):
    """`finalize_file` did not write: the file on disk is not the text the proofs were planned on.

    `diff` holds the verified proofs as a unified diff against the text read at the start, so nothing
    found is lost; `reason` says what happened to the file."""

    def __init__(self, path: Path, diff: str, reason: str) -> None:
        super().__init__(f"{path} {reason}: not written (the verified proofs are in the diff)")
        self.path, self.diff, self.reason = path, diff, reason


def _check_declarations(
    verifier: ProofVerifier,
    lean_file: LeanFile,
    new_source: str,
    changes: Sequence[tuple[DeclPlan, list[Edit], dict[int, str]]],
) -> dict[str, Verdict]:
    """Each changed declaration, judged as it now stands: the REPL verifier compiles the whole new file
    once; replay checks a filled skeleton hole by hole (`verify_holes`) and a whole proof by replaying it."""
    names = [plan.decl.name for plan, _, _ in changes]
    if isinstance(verifier, FileVerifier):
        return verifier.verify_file(lean_file.source, new_source, names)
    verdicts: dict[str, Verdict] = {}
    whole_proofs = [plan.decl.name for plan, _, fills in changes if not plan.holes]
    if whole_proofs:
        verdicts.update(_replay_whole_proofs(verifier, lean_file, new_source, whole_proofs))
    for plan, _, fills in changes:
        if not plan.holes:
            continue
        if not isinstance(verifier, HoleVerifier):
            verdicts[plan.decl.name] = Rejected(f"{type(verifier).__name__} cannot check a filled skeleton")
            continue
        verdicts[plan.decl.name] = verifier.verify_holes(plan.theorem, plan.skeleton, fills)
    return verdicts
