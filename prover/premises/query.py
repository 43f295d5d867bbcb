"""Which premises a theorem in a file may use, and the best of them for its goal.

Accessible from FILE at line L: the declarations of FILE's transitive imports (from the dump's module graph)
and FILE's own declarations that start before L. FILE's own module is never taken from the dump, which
would also hold the declarations after L.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from lean_env.source.declarations import parse_lean_source
from lean_env.source.document import LeanFile
from prover.premises.dump import Declaration
from prover.premises.index import Encoder, Hit, PremiseIndex, premise_text
from prover.premises.reprover_format import augmented_state, serialize_premise
from search.types import GenRequest


class PremiseQueryError(ValueError):
    """A bad file, theorem or line for a premise query (one line)."""


def lean_version(project: Path) -> str:
    """The project's Lean version, from its `lean-toolchain` (`leanprover/lean4:v4.24.0` -> `v4.24.0`)."""
    path = project / "lean-toolchain"
    try:
        line = path.read_text(encoding="utf-8").strip()
    except OSError:
        raise PremiseQueryError(f"{project} has no lean-toolchain: is it a Lean project?") from None
    return line.rsplit(":", 1)[-1] or "unknown"


def project_revision(project: Path) -> str:
    """The project's git commit (with `+dirty` for uncommitted changes), or `worktree` outside git."""
    try:
        rev = subprocess.run(
            ["git", "-C", str(project), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(project), "status", "--porcelain"], capture_output=True, text=True, timeout=30
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "worktree"
    return f"{rev}+dirty" if dirty else rev


def module_of(project: Path, file: Path) -> str | None:
    try:
        rel = file.resolve().relative_to(project.resolve())
    except ValueError:
        return None
    return ".".join(rel.with_suffix("").parts)


@dataclass(frozen=True)
class FileQuery:
    """The goal text to embed, the modules FILE imports, and FILE's declarations before the line."""

    goal: str
    imports: tuple[str, ...]
    earlier: tuple[Declaration, ...]
    module: str | None


def file_query(project: Path, file: Path, theorem: str, line: int | None, goal: str | None = None) -> FileQuery:
    try:
        source = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PremiseQueryError(f"cannot read {file}: {exc}") from None
    parsed: LeanFile = parse_lean_source(source, str(file))
    try:
        target = parsed.get(theorem)
    except KeyError as exc:
        raise PremiseQueryError(str(exc.args[0])) from None
    start = target.line
    limit = start if line is None else line
    if line is not None and line < 1:
        raise PremiseQueryError(f"--line must be >= 1, got {line}")
    module = module_of(project, file)
    owner = module or file.stem
    earlier = tuple(
        Declaration(t.name, t.statement, "source", owner)
        for t in parsed.theorems
        if t.line < limit and t.name != target.name and t.name
    )
    query = goal if goal is not None else target.statement
    return FileQuery(query, tuple(parsed.imports), earlier, module)


def best_premises(
    index: PremiseIndex, revision: str, query: FileQuery, encoder: Encoder, k: int
) -> tuple[list[Hit], list[str]]:
    """The `k` best accessible premises for the query's goal, and modules skipped for lack of embeddings."""
    manifest = index.manifest(revision)
    modules = [m for m in index.accessible(manifest, query.imports) if m != query.module]
    texts = [query.goal, *(serialize_premise(premise_text(d)) for d in query.earlier)]
    vectors = encoder.encode(texts)
    extra = list(zip(query.earlier, vectors[1:], strict=True))
    return index.retrieve(manifest, modules, vectors[0], k, extra)


class RetrievalInput:
    """`reprover-retrieval`'s generator input (a `Seq2SeqGenerator.build_input`): the state with the best
    premises of the project's index prepended as ReProver does (`reprover_format.augmented_state`; upstream
    retrieves 100, prover/evaluate.py `max_num_retrieved`). Every embedded module of the revision is a
    candidate, since a proof state alone does not say which file it is in."""

    def __init__(self, index: PremiseIndex, revision: str, encoder: Encoder, k: int = 100) -> None:
        self.index = index
        self.manifest = index.manifest(revision)
        self.modules = sorted(self.manifest)
        self.encoder = encoder
        self.k = k

    def __call__(self, request: GenRequest) -> str:
        [vector] = self.encoder.encode([request.state])
        hits, _ = self.index.retrieve(self.manifest, self.modules, vector, self.k)
        return augmented_state(request.state, [premise_text(h.declaration) for h in hits])
