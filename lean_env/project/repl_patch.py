"""Patches `prover setup` applies to the Lean REPL's checkout before building it (lean_env/data/repl_patches/).

Each `*.patch` is a unified diff (free text before the first `---` line says what it fixes and why; `git apply`
and `patch -p1` read it too). It is applied by context, not by line number: each hunk's old lines must occur
exactly once in the file (REPL tags move code around; the text a hunk touches must not have changed), and a
hunk whose new lines are already there counts as applied, so running set-up again is harmless. A hunk that
matches neither way raises `PatchError`, naming the patch, the file and the hunk: the REPL then differs from
every tag the patch was checked against (tests/fixtures/repl_snapshots/), and it is not built half-patched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PATCH_DIR = Path(__file__).resolve().parents[1] / "data" / "repl_patches"


class PatchError(Exception):
    """A patch does not fit the REPL's source; the message is one line naming the patch, file and hunk."""


@dataclass(frozen=True)
class Hunk:
    old: tuple[str, ...]  # context and removed lines, in order
    new: tuple[str, ...]  # context and added lines, in order

    @property
    def label(self) -> str:
        changed = [line for line in self.old if line not in self.new] or list(self.new)
        return changed[0].strip() if changed else "(empty hunk)"


@dataclass(frozen=True)
class FilePatch:
    path: str  # relative to the REPL's checkout, e.g. `REPL/Snapshots.lean`
    hunks: tuple[Hunk, ...]


@dataclass(frozen=True)
class ReplPatch:
    name: str  # the file's stem
    summary: str  # the first line of its description
    files: tuple[FilePatch, ...]


def parse_patch(text: str, name: str) -> ReplPatch:
    """Read a unified diff (`--- a/X`, `+++ b/X`, `@@` hunks); the text before the first `---` is its description."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("--- ")), None)
    if start is None:
        raise PatchError(f"{name}: no `--- a/FILE` line; not a unified diff")
    summary = next((line.strip() for line in lines[:start] if line.strip()), name)
    parsed = (_parse_file_section(section, name) for section in _file_sections(lines[start:]))
    return ReplPatch(name, summary, tuple(file for file in parsed if file is not None))


def _file_sections(lines: list[str]) -> list[list[str]]:
    """The diff cut before each `--- ` line; `lines` starts with one."""
    sections: list[list[str]] = []
    for line in lines:
        if line.startswith("--- "):
            sections.append([line])
        else:
            sections[-1].append(line)
    return sections


def _parse_file_section(section: list[str], name: str) -> FilePatch | None:
    """One file's `---`, `+++` and `@@` hunks; None for a `---` line with no `+++` after it."""
    path: str | None = None
    hunks: list[tuple[list[str], list[str]]] = []  # each hunk's old and new lines
    for line in section[1:]:
        if line.startswith("+++ "):
            path = _target_path(line)
        elif line.startswith("@@"):
            if path is None:
                raise PatchError(f"{name}: a hunk before its `+++` line")
            hunks.append(([], []))
        elif hunks and (line[:1] in (" ", "-", "+") or line == ""):
            old, new = hunks[-1]
            if not line.startswith("+"):
                old.append(line[1:])
            if not line.startswith("-"):
                new.append(line[1:])
        elif not line.startswith("\\"):  # "\ No newline at end of file" is skipped
            raise PatchError(f"{name}: unexpected line in the diff: {line[:60]!r}")
    if path is None:
        return None
    if not hunks:
        raise PatchError(f"{name}: no hunks for {path}")
    return FilePatch(path, tuple(Hunk(tuple(old), tuple(new)) for old, new in hunks))


def _target_path(line: str) -> str:
    """The file a `+++ b/X` line names, relative to the checkout."""
    target = line[4:].split("\t")[0].strip()
    return target[2:] if target.startswith("b/") else target


def load_patches(directory: Path = PATCH_DIR) -> tuple[ReplPatch, ...]:
    """Every `*.patch` of `directory`, by name."""
    return tuple(parse_patch(p.read_text(encoding="utf-8"), p.stem) for p in sorted(directory.glob("*.patch")))


def _find(lines: list[str], block: tuple[str, ...]) -> list[int]:
    n = len(block)
    return [i for i in range(len(lines) - n + 1) if tuple(lines[i : i + n]) == block]


def apply_to_text(text: str, patch: ReplPatch, file: FilePatch) -> tuple[str, bool]:
    """`text` with `file`'s hunks applied, and whether anything changed (False: it was applied already)."""
    lines = text.split("\n")
    changed = False
    for number, hunk in enumerate(file.hunks, start=1):
        at = _find(lines, hunk.old)
        if len(at) == 1:
            lines[at[0] : at[0] + len(hunk.old)] = list(hunk.new)
            changed = True
            continue
        if not at and len(_find(lines, hunk.new)) == 1:
            continue  # applied before
        how = "matches more than once" if at else "does not match"
        raise PatchError(f"REPL patch {patch.name}: hunk {number} (`{hunk.label}`) {how} {file.path}")
    return "\n".join(lines), changed


def revert_text(text: str, patch: ReplPatch, file: FilePatch) -> str:
    """`text` with `file`'s hunks taken out again where they are applied (the inverse of `apply_to_text`)."""
    lines = text.split("\n")
    for hunk in reversed(file.hunks):
        at = _find(lines, hunk.new)
        if len(at) == 1 and not _find(lines, hunk.old):
            lines[at[0] : at[0] + len(hunk.new)] = list(hunk.old)
    return "\n".join(lines)


def apply_patches(repl_dir: Path, patches: tuple[ReplPatch, ...] | None = None) -> tuple[str, ...]:
    """Apply every patch to the REPL checkout `repl_dir`; the names of those that changed something.

    All files are checked before any is written, so a `PatchError` leaves the checkout as it was."""
    writes: dict[Path, str] = {}
    applied: list[str] = []
    for patch in load_patches() if patches is None else patches:
        changed_any = False
        for file in patch.files:
            path = repl_dir / file.path
            try:
                text = writes.get(path) or path.read_text(encoding="utf-8")
            except OSError as exc:
                raise PatchError(f"REPL patch {patch.name}: cannot read {file.path} in {repl_dir}: {exc}") from None
            new_text, changed = apply_to_text(text, patch, file)
            if changed:
                writes[path] = new_text
                changed_any = True
        if changed_any:
            applied.append(patch.name)
    for path, text in writes.items():
        path.write_text(text, encoding="utf-8")
    return tuple(applied)


def revert_patches(repl_dir: Path, patches: tuple[ReplPatch, ...] | None = None) -> None:
    """Take every patch out of `repl_dir` again (before `lake update` moves the checkout to another revision)."""
    for patch in load_patches() if patches is None else patches:
        for file in patch.files:
            path = repl_dir / file.path
            try:
                text = path.read_text(encoding="utf-8")
            except OSError:
                continue
            reverted = revert_text(text, patch, file)
            if reverted != text:
                path.write_text(reverted, encoding="utf-8")


def patches_missing(repl_dir: Path, patches: tuple[ReplPatch, ...] | None = None) -> tuple[str, ...]:
    """Names of the patches not (fully) applied in `repl_dir`, for `prover doctor`."""
    missing = []
    for patch in load_patches() if patches is None else patches:
        for file in patch.files:
            try:
                text = (repl_dir / file.path).read_text(encoding="utf-8")
            except OSError:
                missing.append(patch.name)
                break
            lines = text.split("\n")
            if any(len(_find(lines, hunk.new)) != 1 or _find(lines, hunk.old) for hunk in file.hunks):
                missing.append(patch.name)
                break
    return tuple(missing)
