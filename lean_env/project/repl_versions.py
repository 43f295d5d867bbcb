"""Lean versions and the REPL revision built for each: which tag of the REPL (lean-interact's fork first,
upstream second) a project on a given Lean must require, read from the tag lists `git ls-remote` gives."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lean_env.errors import SetupError
from lean_env.project.tools import capture, which

REPL_GIT = "https://github.com/leanprover-community/repl"
# The REPL fork that lean-interact builds: `DEFAULT_REPL_GIT_URL` in lean-interact's
# `src/lean_interact/utils.py` (augustepoiroux/LeanInteract@a92b1c94da9679a9291d5ecf78d7c4e957572fed).
REPL_FORK_GIT = "https://github.com/augustepoiroux/repl"
FORK_TAG_MARK = "_lean-toolchain-"
LS_REMOTE_TIMEOUT_S = 60.0

_LEAN_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-rc(\d+))?$")
_LEAN_VERSION_LINE = re.compile(r"\bversion (\d+\.\d+\.\d+(?:-rc\d+)?)")


def lean_version_key(version: str) -> tuple[int, int, int, int] | None:
    """Sort key of a Lean release name (`v4.20.0`, `v4.20.0-rc3`); None for anything else (nightlies, commits).

    A release sorts after all of its release candidates.
    """
    m = _LEAN_VERSION.match(version.strip())
    if m is None:
        return None
    rc = int(m[4]) if m[4] is not None else 1 << 30
    return int(m[1]), int(m[2]), int(m[3]), rc


def toolchain_lean_version(toolchain: str) -> str | None:
    """`leanprover/lean4:v4.20.0` (a `lean-toolchain` line) -> `v4.20.0`; None when it names no release.

    The same reading as lean-interact's `parse_lean_version` (strip the `leanprover/lean4:` origin);
    nightlies and commits have no REPL release and give None.
    """
    name = toolchain.strip().removeprefix("leanprover/lean4:").strip()
    return name if lean_version_key(name) is not None else None


@dataclass(frozen=True)
class ReplTags:
    """The tags of the upstream REPL and of lean-interact's fork (what `git ls-remote --tags` lists)."""

    upstream: tuple[str, ...]
    fork: tuple[str, ...]

    @classmethod
    def from_dir(cls, directory: Path) -> ReplTags:
        """Read `TAGS.txt` (upstream) and `TAGS-lean-interact-fork.txt` (fork), one tag a line."""

        def read(name: str) -> tuple[str, ...]:
            path = Path(directory) / name
            if not path.is_file():
                return ()
            return tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())

        tags = cls(read("TAGS.txt"), read("TAGS-lean-interact-fork.txt"))
        if not tags.upstream and not tags.fork:
            raise SetupError(f"no REPL tag lists (TAGS.txt, TAGS-lean-interact-fork.txt) in {directory}")
        return tags

    def fork_builds(self) -> dict[str, str]:
        """Lean version -> the newest fork tag built for it.

        The fork tags `<release>_lean-toolchain-<lean version>` for each of its releases (lean-interact's
        `LeanREPLConfig._prepare_git_repl` checks out `f"{repl_rev}_lean-toolchain-{lean_version}"`,
        `src/lean_interact/config.py` at augustepoiroux/LeanInteract@a92b1c94); every such v1.3.18 tag's
        `lean-toolchain` is `leanprover/lean4:<lean version>` (augustepoiroux/repl@c38a0199).
        """
        best: dict[str, tuple[tuple[int, ...], str]] = {}
        for tag in self.fork:
            release, mark, lean = tag.partition(FORK_TAG_MARK)
            if not mark or lean_version_key(lean) is None:
                continue
            key = _release_key(release)
            if lean not in best or key > best[lean][0]:
                best[lean] = (key, tag)
        return {lean: tag for lean, (_, tag) in best.items()}

    def upstream_builds(self) -> set[str]:
        """Lean versions with an upstream tag of their own: REPL tag `vX.Y.Z` is built for Lean `vX.Y.Z`
        (its `lean-toolchain` is `leanprover/lean4:vX.Y.Z` at every tag of leanprover-community/repl
        up to 8948401ab4924499421c94b7facdfca5ff27d81d)."""
        return {tag for tag in self.upstream if lean_version_key(tag) is not None}


def _release_key(release: str) -> tuple[int, ...]:
    # `v1.3.18` > `v1.3.2-dev`: numbers compare as numbers; a `-dev` build sorts before its release.
    m = re.match(r"^v(\d+)\.(\d+)\.(\d+)(-.+)?$", release)
    if m is None:
        return (-1,)
    return int(m[1]), int(m[2]), int(m[3]), 0 if m[4] else 1


@dataclass(frozen=True)
class ReplPin:
    """A REPL revision built for one Lean version: the git URL and tag that `lakefile.toml` requires."""

    lean: str  # the Lean version it is built for, e.g. `v4.20.0`
    git: str
    rev: str
    source: str  # "lean-interact fork" | "upstream" | "--repl-rev"


def plan_repl(lean_version: str, tags: ReplTags) -> ReplPin:
    """The REPL revision to build for a project on `lean_version` (`v4.20.0` or a `lean-toolchain` line).

    lean-interact's fork first (it tags a revision for every Lean release it supports, from v4.8.0),
    upstream's own tag second. Raises `SetupError` (one line, naming the nearest Lean versions that have
    a REPL) when neither has one: the REPL only builds with the Lean it was written for.
    """
    lean = toolchain_lean_version(lean_version)
    if lean is None:
        raise SetupError(
            f"the project's Lean {lean_version.strip()!r} is not a Lean release; "
            "the REPL is only tagged for releases (pin Mathlib to a release tag with --mathlib-rev)"
        )
    fork = tags.fork_builds()
    if lean in fork:
        return ReplPin(lean, REPL_FORK_GIT, fork[lean], "lean-interact fork")
    if lean in tags.upstream_builds():
        return ReplPin(lean, REPL_GIT, lean, "upstream")
    known = sorted(set(fork) | tags.upstream_builds(), key=lambda v: lean_version_key(v) or (0, 0, 0, 0))
    key = lean_version_key(lean)
    below = [v for v in known if (lean_version_key(v) or (0,)) < (key or (0,))]
    above = [v for v in known if (lean_version_key(v) or (0,)) > (key or (0,))]
    nearest = " and ".join(x for x in (below[-1] if below else "", above[0] if above else "") if x)
    raise SetupError(
        f"no Lean REPL revision is built for Lean {lean} (neither lean-interact's fork nor upstream tags one); "
        f"nearest Lean versions with a REPL: {nearest or 'none'}; pin Mathlib to one of them with --mathlib-rev"
    )


def parse_ls_remote_tags(text: str) -> tuple[str, ...]:
    """Tag names from `git ls-remote --tags --refs URL` output (`<sha>\trefs/tags/<name>` lines)."""
    out = []
    for line in text.splitlines():
        _, _, ref = line.partition("\t")
        if ref.startswith("refs/tags/"):
            out.append(ref.removeprefix("refs/tags/").removesuffix("^{}"))
    return tuple(dict.fromkeys(out))


def fetch_repl_tags(env: Mapping[str, str] | None = None) -> ReplTags:
    """Both tag lists, read with `git ls-remote --tags --refs` (network). A fork that cannot be listed is
    skipped; if neither can, raises `SetupError`."""
    git = which("git", env)
    if git is None:
        raise SetupError("`git` is not on PATH (needed to list the REPL's tags); install git")
    found: dict[str, tuple[str, ...]] = {}
    problems = []
    for url in (REPL_GIT, REPL_FORK_GIT):
        try:
            proc = capture([git, "ls-remote", "--tags", "--refs", url], LS_REMOTE_TIMEOUT_S, env)
        except (OSError, subprocess.TimeoutExpired) as exc:
            problems.append(f"{url}: {exc}")
            continue
        if proc.returncode != 0:
            problems.append(f"{url}: git exited with {proc.returncode}")
            continue
        found[url] = parse_ls_remote_tags(proc.stdout)
    if not found:
        raise SetupError(
            f"cannot list the Lean REPL's tags ({'; '.join(problems)}); check the network, or set up offline with "
            "--repl-tags DIR (TAGS.txt and TAGS-lean-interact-fork.txt: one tag a line, from `git ls-remote --tags`)"
        )
    return ReplTags(found.get(REPL_GIT, ()), found.get(REPL_FORK_GIT, ()))


def toolchain_file_version(path: Path) -> str | None:
    try:
        return toolchain_lean_version(path.read_text(encoding="utf-8")) if path.is_file() else None
    except OSError:
        return None


def lean_version_of_output(line: str) -> str | None:
    """`Lean (version 4.20.0, x86_64-unknown-linux-gnu, commit …, Release)` (Lean's `--version`, also the
    `(Lean version 4.20.0)` of `lake --version`) -> `v4.20.0`; None when no release is named."""
    m = _LEAN_VERSION_LINE.search(line)
    return f"v{m[1]}" if m else None


def pin_for_rev(repl_rev: str, lean: str, tags: ReplTags | None) -> ReplPin:
    """A `--repl-rev` given by hand: a fork tag (`..._lean-toolchain-<lean>`) or an upstream tag must name
    the project's Lean; anything else (a commit) is checked after fetching, from its `lean-toolchain`."""
    if FORK_TAG_MARK in repl_rev:
        built_for = repl_rev.partition(FORK_TAG_MARK)[2]
        if built_for != lean:
            raise SetupError(f"--repl-rev {repl_rev} is built for Lean {built_for}, but the project uses Lean {lean}")
        return ReplPin(lean, REPL_FORK_GIT, repl_rev, "--repl-rev")
    if lean_version_key(repl_rev) is not None and repl_rev != lean:
        raise SetupError(f"--repl-rev {repl_rev} is built for Lean {repl_rev}, but the project uses Lean {lean}")
    if tags is not None and tags.upstream and lean_version_key(repl_rev) is not None and repl_rev not in tags.upstream:
        raise SetupError(f"--repl-rev {repl_rev} is not a tag of {REPL_GIT}")
    return ReplPin(lean, REPL_GIT, repl_rev, "--repl-rev")
