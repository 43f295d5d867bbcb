"""Set up and inspect a Lean project for proving: `prover setup` and `prover doctor` minus the rendering.

`plan_setup`/`run_setup` create a Lake project pinned to a Mathlib release that also requires the Lean
REPL (leanprover-community/repl), fetch Mathlib's build cache and build the REPL. `run_doctor` probes
the toolchain, the project and the Python extras, and says for each missing piece the command that fixes it.
Everything here returns typed results; the CLI only renders them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lean_env.backends import processes
from lean_env.project.repl_patch import PATCH_DIR, PatchError, apply_patches, patches_missing, revert_patches

DEFAULT_REPL_RELPATH = ".lake/packages/REPL/.lake/build/bin/repl"
REPL_PACKAGE_RELPATH = ".lake/packages/REPL"
MATHLIB_BUILD_RELPATH = ".lake/packages/mathlib/.lake/build"
MATHLIB_TOOLCHAIN_RELPATH = ".lake/packages/mathlib/lean-toolchain"
# The newest release that both Mathlib and the REPL have, as the REPL pins it for its own Mathlib tests
# (`test/Mathlib/lakefile.toml` at REPL tag v4.32.0, ../shared/lean_fixtures/repl_versions/v4.32.0/Mathlib/).
DEFAULT_MATHLIB_REV = "v4.32.0"
MATHLIB_GIT = "https://github.com/leanprover-community/mathlib4"
REPL_GIT = "https://github.com/leanprover-community/repl"
# The REPL fork that lean-interact builds: `DEFAULT_REPL_GIT_URL` in lean-interact's
# `src/lean_interact/utils.py` (augustepoiroux/LeanInteract@a92b1c94da9679a9291d5ecf78d7c4e957572fed).
REPL_FORK_GIT = "https://github.com/augustepoiroux/repl"
FORK_TAG_MARK = "_lean-toolchain-"
# elan's installer only edits the shell profiles: the running shell finds `lake` after sourcing `$ELAN_HOME/env`,
# which `install` writes ("To configure your current shell run `source {elan_home}/env`",
# leanprover/elan src/elan-cli/self_update.rs@00967322), so a fix chained with `&& prover setup` sources it first.
ELAN_INSTALL = (
    "curl https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh -sSf | sh -s -- -y"
    ' && . "$HOME/.elan/env"'
)
PROJECT_NAME = "lean_prover_project"  # the `name` of the lakefile `prover setup` writes: re-running it may rewrite it
SETUP_LOG = ".prover-setup.log"
PROBE_TIMEOUT_S = 20.0
LS_REMOTE_TIMEOUT_S = 60.0

_RELEASE_TAG = re.compile(r"^v\d+\.\d+\.\d+(-rc\d+)?$")
_LEAN_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-rc(\d+))?$")


def default_repl_binary(project: Path) -> Path:
    """Where `prover setup` builds the REPL inside `project`."""
    return Path(project).expanduser() / DEFAULT_REPL_RELPATH


def _which(program: str, env: Mapping[str, str] | None) -> str | None:
    path = (env if env is not None else os.environ).get("PATH", os.defpath)
    return shutil.which(program, path=path)


# ---------------------------------------------------------------------------------------------------
# Lean versions and the REPL revision built for each


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
    git = _which("git", env)
    if git is None:
        raise SetupError("`git` is not on PATH (needed to list the REPL's tags); install git")
    found: dict[str, tuple[str, ...]] = {}
    problems = []
    for url in (REPL_GIT, REPL_FORK_GIT):
        try:
            proc = _capture([git, "ls-remote", "--tags", "--refs", url], LS_REMOTE_TIMEOUT_S, env)
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


# ---------------------------------------------------------------------------------------------------
# setup


class SetupError(Exception):
    """A set-up step failed or cannot start; the message is one line naming the step."""

    def __init__(self, message: str, step: str | None = None, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.exit_code = exit_code


@dataclass(frozen=True)
class SetupStep:
    """One command run inside the project directory."""

    title: str
    argv: tuple[str, ...]

    @property
    def display(self) -> str:
        return " ".join(self.argv)


@dataclass(frozen=True)
class SetupPlan:
    """Two phases: `resolve_steps` fetch Mathlib and settle the project's toolchain (Mathlib's own); then
    the REPL is pinned for that Lean (`plan_repl`) and `repl_steps` fetch and build it.

    `repl` is the pin expected from the Mathlib tag (None for a commit); `run_setup` re-derives it from the
    project's actual toolchain after phase 1. `repl_rev` forces a REPL revision (`--repl-rev`).
    """

    project: Path
    mathlib_rev: str
    toolchain: str
    repl: ReplPin | None
    files: tuple[tuple[str, str], ...]  # (relative path, content) written before phase 1
    resolve_steps: tuple[SetupStep, ...]
    repl_steps: tuple[SetupStep, ...]
    repl_rev: str | None = None
    validator: str | None = None  # `comparator`: the lakefile also declares the lean_lib it builds with

    @property
    def steps(self) -> tuple[SetupStep, ...]:
        return self.resolve_steps + self.repl_steps

    @property
    def repl_binary(self) -> Path:
        return default_repl_binary(self.project)


@dataclass(frozen=True)
class SetupResult:
    project: Path
    repl_binary: Path
    toolchain: str
    log_path: Path
    steps_run: tuple[str, ...]
    repl: ReplPin | None = None
    patches: tuple[str, ...] = ()  # REPL patches applied before the build (lean_env/data/repl_patches/)


def lakefile_toml(
    mathlib_rev: str, repl: ReplPin | None = None, name: str = PROJECT_NAME, validator: str | None = None
) -> str:
    """The project's `lakefile.toml`: Mathlib, and the REPL once it is pinned (phase 2); for `--validator comparator`
    the `lean_lib` covering the checked modules (`ProverValidate.*`), which comparator builds with `lake`
    (github.com/leanprover/comparator README@04398414: each module it builds is in a `[[lean_lib]]`)."""
    from lean_env.checks.validate import MODULE_DIR

    text = (
        f'name = "{name}"\n'
        "defaultTargets = []\n\n"
        "[[require]]\n"
        'name = "mathlib"\n'
        f'git = "{MATHLIB_GIT}"\n'
        f'rev = "{mathlib_rev}"\n'
    )
    if repl is not None:
        text += f'\n[[require]]\nname = "REPL"\ngit = "{repl.git}"\nrev = "{repl.rev}"\n'
    if validator == "comparator":
        text += f'\n[[lean_lib]]\nname = "{MODULE_DIR}"\nglobs = ["{MODULE_DIR}.+"]\n'
    return text


def plan_setup(
    project: Path,
    mathlib_rev: str = DEFAULT_MATHLIB_REV,
    repl_rev: str | None = None,
    lean_toolchain: str | None = None,
    tags: ReplTags | None = None,
    validator: str | None = None,
) -> SetupPlan:
    """What `prover setup` will write and run.

    The first toolchain is the Mathlib tag's (`leanprover/lean4:<tag>`, Mathlib tags releases by Lean
    version); for a commit pass `lean_toolchain`. With `tags`, a Mathlib tag whose Lean has no REPL is
    refused here, before anything is downloaded. `validator="comparator"` adds the `lean_lib` comparator needs.
    """
    if validator not in (None, "lean4checker", "comparator"):
        raise SetupError(f"unknown --validator {validator!r}; expected lean4checker or comparator")
    if not mathlib_rev.strip():
        raise SetupError("--mathlib-rev must not be empty")
    project = Path(project).expanduser().resolve()
    check_project_dir(project)
    if lean_toolchain is None:
        if not _RELEASE_TAG.match(mathlib_rev):
            raise SetupError(
                f"cannot tell the Lean version of Mathlib revision {mathlib_rev!r}; "
                "pass --lean-toolchain leanprover/lean4:vX.Y.Z"
            )
        lean_toolchain = f"leanprover/lean4:{mathlib_rev}"
        if repl_rev is not None:
            # A Mathlib release tag names its Lean: a `--repl-rev` for another Lean is refused now, not after
            # `lake update` has downloaded Mathlib (`run_setup` checks again against the fetched toolchain).
            pin_for_rev(repl_rev, mathlib_rev, tags)
    repl: ReplPin | None = None
    if tags is not None and repl_rev is None and toolchain_lean_version(lean_toolchain) is not None:
        repl = plan_repl(lean_toolchain, tags)
    files = (
        ("lakefile.toml", lakefile_toml(mathlib_rev, validator=validator)),
        ("lean-toolchain", lean_toolchain + "\n"),
    )
    resolve = (SetupStep("fetch Mathlib and its toolchain", ("lake", "update")),)
    repl_steps = (
        SetupStep("fetch the REPL built for the project's Lean", ("lake", "update", "REPL")),
        SetupStep("download Mathlib's build cache", ("lake", "exe", "cache", "get")),
        SetupStep("build the Lean REPL", ("lake", "build", "repl")),
    )
    return SetupPlan(project, mathlib_rev, lean_toolchain, repl, files, resolve, repl_steps, repl_rev, validator)


StepRunner = Callable[[SetupStep, Path, Path, Mapping[str, str] | None], int]


def _run_step(step: SetupStep, cwd: Path, log_path: Path, env: Mapping[str, str] | None) -> int:
    """Run one step, appending its output to the log; returns the exit code."""
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"\n$ {step.display}\n")
        log.flush()
        try:
            # Guarded like every Lean-side process: Ctrl-C or the death of `prover setup` stops `lake` and its
            # children (`lake build` runs `lean` processes) instead of leaving them building.
            proc = processes.run(step.argv, timeout_s=None, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        except OSError as exc:
            log.write(f"could not start: {exc}\n")
            return 127
    return proc.returncode


def check_project_dir(project: Path) -> None:
    """Raise `SetupError` unless set-up may write `project`'s `lakefile.toml` and `lean-toolchain`: the directory
    is new or empty, or a project `prover setup` made (its lakefile's `name` is `PROJECT_NAME`). A user's own
    project is never rewritten: its lakefile and toolchain are theirs."""
    if project.exists() and not project.is_dir():
        raise SetupError(f"{project} exists and is not a directory")
    if (project / "lakefile.lean").exists():
        raise SetupError(f"{project} already has a lakefile.lean; choose an empty directory")
    if (project / "lakefile.toml").exists() and not made_by_setup(project):
        raise SetupError(
            f"{project} already has a lakefile.toml that `prover setup` did not write; choose an empty "
            "directory (set-up never rewrites a project's own lakefile)"
        )


def made_by_setup(project: Path) -> bool:
    """Whether `project`'s `lakefile.toml` is one `prover setup` wrote (its first line names `PROJECT_NAME`)."""
    try:
        first = (project / "lakefile.toml").read_text(encoding="utf-8").partition("\n")[0].strip()
    except (OSError, UnicodeDecodeError):
        return False
    return first == f'name = "{PROJECT_NAME}"'


def require_repl_fix(project: Path, lean: str | None) -> str:
    """How to add the REPL to a user's own Lake project (`prover setup` never edits one): the `require` for its
    lakefile (`lakefile.lean` or `lakefile.toml` syntax), naming the fork tag built for the project's Lean."""
    if not (project / "lakefile.lean").is_file() and not (project / "lakefile.toml").is_file():
        # No Lake project at all: there is no lakefile to add to, and set-up may build one here.
        return (
            f"{project} has no lakefile (it is no Lake project): `prover setup --lean-project {project}` builds "
            "Mathlib and the REPL there"
        )
    tag = f"<release>_lean-toolchain-{lean or '<its Lean>'}"
    # ls-remote lists each annotated tag twice (`…-v4.20.0` and its peeled `…-v4.20.0^{}`): the pattern ends at
    # the version, so one line per release; without a known Lean it lists every fork tag.
    pattern = f"'_lean-toolchain-{lean}$'" if lean else "_lean-toolchain-"
    if (project / "lakefile.lean").is_file():
        require = f'require REPL from git "{REPL_FORK_GIT}" @ "{tag}"'
    else:
        require = f'a [[require]] table with name = "REPL", git = "{REPL_FORK_GIT}", rev = "{tag}"'
    return (
        f"add to {project}'s lakefile: {require} (the tag: `git ls-remote --tags {REPL_FORK_GIT} | grep "
        f"{pattern}`), then cd {project} && lake update REPL && lake build repl"
    )


def check_setup_tools(env: Mapping[str, str] | None = None) -> None:
    """Raise `SetupError` naming the fix when lake or git is missing (elan is how one gets lake)."""
    if _which("lake", env) is None:
        raise SetupError(f"`lake` is not on PATH; install elan (it provides lean and lake): {ELAN_INSTALL}")
    if _which("git", env) is None:
        raise SetupError("`git` is not on PATH (lake fetches Mathlib and the REPL with it); install git")


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


def run_setup(
    plan: SetupPlan,
    env: Mapping[str, str] | None = None,
    on_step: Callable[[int, SetupStep], None] | None = None,
    runner: StepRunner = _run_step,
    tags: ReplTags | None = None,
) -> SetupResult:
    """Create the project and run both phases; raises `SetupError` at the first failing step.

    Phase 1 writes a lakefile with Mathlib alone and runs `lake update`; Mathlib's own `lean-toolchain`
    then becomes the project's. Phase 2 pins the REPL built for exactly that Lean (`plan_repl` over
    `tags`, listed with `git ls-remote` when not given), adds it to the lakefile, `lake update REPL`
    fetches it (nothing else moves), its fetched `lean-toolchain` is checked against the project's,
    then Mathlib's cache is downloaded and the REPL built.
    """
    check_setup_tools(env)
    project = plan.project
    check_project_dir(project)
    project.mkdir(parents=True, exist_ok=True)
    for rel, content in plan.files:
        (project / rel).write_text(content, encoding="utf-8")
    log_path = project / SETUP_LOG
    log_path.write_text(f"prover setup: {project}\n", encoding="utf-8")
    done: list[str] = []
    index = 0

    def run(step: SetupStep) -> None:
        nonlocal index
        if on_step is not None:
            on_step(index, step)
        index += 1
        program = _which(step.argv[0], env)
        resolved = SetupStep(step.title, (program or step.argv[0], *step.argv[1:]))
        code = runner(resolved, project, log_path, env)
        if code != 0:
            raise SetupError(
                f"step `{step.display}` ({step.title}) failed with exit code {code}; see {log_path}",
                step=step.display,
                exit_code=code,
            )
        done.append(step.display)

    for step in plan.resolve_steps:
        run(step)
    toolchain = _align_toolchain(project, plan.toolchain)
    lean = _toolchain_lean(toolchain, plan.mathlib_rev)
    if plan.repl_rev is not None:
        pin = pin_for_rev(plan.repl_rev, lean, tags)
    else:
        pin = plan_repl(lean, tags if tags is not None else fetch_repl_tags(env))
    lakefile = lakefile_toml(plan.mathlib_rev, pin, validator=plan.validator)
    (project / "lakefile.toml").write_text(lakefile, encoding="utf-8")
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"\nREPL for Lean {lean}: {pin.git} @ {pin.rev} ({pin.source})\n")
    repl_dir = project / REPL_PACKAGE_RELPATH
    if repl_dir.is_dir():  # a re-run: `lake update REPL` gets a clean checkout to move
        revert_patches(repl_dir)
    run(plan.repl_steps[0])  # lake update REPL
    _check_fetched_repl(repl_dir, pin, lean)
    patches = _patch_repl(repl_dir, pin, log_path)
    for step in plan.repl_steps[1:]:
        run(step)
    binary = plan.repl_binary
    if not binary.is_file():
        raise SetupError(f"`lake build repl` finished but {binary} does not exist; see {log_path}")
    return SetupResult(project, binary, toolchain, log_path, tuple(done), pin, patches)


def _toolchain_lean(toolchain: str, mathlib_rev: str) -> str:
    """The Lean release `toolchain` names; no REPL is built for anything else."""
    lean = toolchain_lean_version(toolchain)
    if lean is None:
        raise SetupError(
            f"Mathlib {mathlib_rev} uses {toolchain!r}, which is not a Lean release; no REPL is built for it"
        )
    return lean


def _check_fetched_repl(repl_dir: Path, pin: ReplPin, lean: str) -> None:
    """The fetched REPL's `lean-toolchain` must name the project's Lean, or it would not build."""
    repl_toolchain = repl_dir / "lean-toolchain"
    if not repl_toolchain.is_file():
        return
    fetched = toolchain_lean_version(repl_toolchain.read_text(encoding="utf-8"))
    if fetched != lean:
        raise SetupError(
            f"the REPL at {pin.rev} is written for Lean {fetched}, but the project uses Lean {lean}; "
            "it would not build (choose another --repl-rev, or none)"
        )


def _patch_repl(repl_dir: Path, pin: ReplPin, log_path: Path) -> tuple[str, ...]:
    """Apply the REPL patches before `lake build repl` and log which; their names."""
    # The REPL's tactic mode gets the header's maxHeartbeats (repl_patch, lean4#8646).
    try:
        patches = apply_patches(repl_dir)
    except PatchError as exc:
        raise SetupError(f"{exc}; the REPL at {pin.rev} differs from every tag the patch was checked against") from None
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"\nREPL patches applied in {repl_dir}: {', '.join(patches) or 'none needed (applied before)'}\n")
    return patches


def _align_toolchain(project: Path, toolchain: str) -> str:
    """Mathlib must be built with its own toolchain: copy it over ours when they differ."""
    mathlib_toolchain = project / MATHLIB_TOOLCHAIN_RELPATH
    if mathlib_toolchain.is_file():
        wanted = mathlib_toolchain.read_text(encoding="utf-8").strip()
        if wanted and wanted != toolchain:
            (project / "lean-toolchain").write_text(wanted + "\n", encoding="utf-8")
            return wanted
    return toolchain


# ---------------------------------------------------------------------------------------------------
# doctor


@dataclass(frozen=True)
class Check:
    """One probe: what it is, whether it is there, what was found, and the command that fixes it."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None
    required: bool = False  # needed for real proving (not just for GPUs/sweeps)
    group: str = "lean"
    problem: str = "missing"  # what a failed check is: "missing", or "mismatch" for pieces present but at odds


@dataclass(frozen=True)
class DoctorReport:
    project: Path
    checks: tuple[Check, ...] = field(default=())

    @property
    def missing_required(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.required and not c.ok)

    @property
    def ready(self) -> bool:
        return not self.missing_required


def _capture(
    argv: list[str],
    timeout_s: float,
    env: Mapping[str, str] | None,
    cwd: Path | None = None,
    stdin_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a probe to completion, its output captured as text. Its stdin is `stdin_text`, or nothing (never the
    terminal, which a probe waiting for input would hang on). Raises OSError / subprocess.TimeoutExpired."""
    # `lake env <repl>` runs the REPL as lake's child: a timeout must kill the group, not just `lake`.
    return processes.run(argv, timeout_s=timeout_s, cwd=cwd, env=env, input_text=stdin_text)


def _version_of(program: str, env: Mapping[str, str] | None, cwd: Path | None = None) -> tuple[str | None, str]:
    """(path, first line of `program --version`, run in `cwd`) or (None, reason)."""
    path = _which(program, env)
    if path is None:
        return None, "not on PATH"
    try:
        proc = _capture([path, "--version"], PROBE_TIMEOUT_S, env, cwd)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"`{program} --version` failed: {exc}"
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    if proc.returncode != 0:
        return None, f"`{program} --version` exited with {proc.returncode}"
    return path, lines[0] if lines else "(no version output)"


_LEAN_VERSION_LINE = re.compile(r"\bversion (\d+\.\d+\.\d+(?:-rc\d+)?)")


def lean_version_of_output(line: str) -> str | None:
    """`Lean (version 4.20.0, x86_64-unknown-linux-gnu, commit …, Release)` (Lean's `--version`, also the
    `(Lean version 4.20.0)` of `lake --version`) -> `v4.20.0`; None when no release is named."""
    m = _LEAN_VERSION_LINE.search(line)
    return f"v{m[1]}" if m else None


def probe_toolchain(env: Mapping[str, str] | None = None, project: Path | None = None) -> list[Check]:
    """`lake`, `lean`, `elan`, `git`. `lean --version` and `lake --version` run IN the project: elan's proxies
    pick the toolchain named by the `lean-toolchain` of the directory they run in, so outside the project
    they would report elan's default toolchain instead of the project's. elan is only demanded when there
    is no `lake` (a Lean installed another way works as long as its version is the project's)."""
    checks: list[Check] = []
    where = project if project is not None and project.is_dir() else None
    lake_path, lake_detail = _version_of("lake", env, where)
    elan_path, elan_detail = _version_of("elan", env)
    toolchain_fix = (
        f"cd {where} && elan toolchain install $(cat lean-toolchain)"
        if where is not None and (where / "lean-toolchain").is_file()
        else "elan default leanprover/lean4:stable"
    )
    in_project = f" (in {where})" if where is not None else ""
    lean_path, lean_detail = _version_of("lean", env, where)
    for program, path, detail in (("lean", lean_path, lean_detail), ("lake", lake_path, lake_detail)):
        fix = None if path else (toolchain_fix if elan_path else ELAN_INSTALL)
        checks.append(Check(program, path is not None, detail + (in_project if path else ""), fix, True))
    if elan_path is None and lake_path is not None:
        elan_detail = "not on PATH (not needed: lake is on PATH; elan switches Lean versions per project)"
    checks.append(
        Check("elan", elan_path is not None, elan_detail, None if elan_path else ELAN_INSTALL, lake_path is None)
    )
    git_path, git_detail = _version_of("git", env)
    checks.append(Check("git", git_path is not None, git_detail, None if git_path else "install git", False))
    return checks


def _toolchain_file_version(path: Path) -> str | None:
    try:
        return toolchain_lean_version(path.read_text(encoding="utf-8")) if path.is_file() else None
    except OSError:
        return None


def _repl_source_dir(binary: Path) -> Path | None:
    """The REPL checkout a binary was built in (`<dir>/.lake/build/bin/repl` -> `<dir>`), if it has a toolchain."""
    for parent in list(binary.parents)[:4]:
        if (parent / "lean-toolchain").is_file() and parent.name != "bin":
            return parent
    return None


def _mathlib_manifest_rev(project: Path) -> str | None:
    """Mathlib's pinned revision from `lake-manifest.json` (`inputRev`, e.g. `v4.20.0`, else the commit)."""
    try:
        manifest = json.loads((project / "lake-manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for package in manifest.get("packages", []) if isinstance(manifest, dict) else []:
        if isinstance(package, dict) and package.get("name") == "mathlib":
            rev = package.get("inputRev") or package.get("rev")
            return str(rev) if rev else None
    return None


def probe_versions(project: Path, repl_binary: Path | None = None, env: Mapping[str, str] | None = None) -> list[Check]:
    """Does one Lean version run everything? The project's Lean (`lean --version` run in the project),
    its `lean-toolchain`, the Lean the REPL binary was built for (its checkout's `lean-toolchain`) and
    Mathlib's (`.lake/packages/mathlib/lean-toolchain`, at the `lake-manifest.json` revision)."""
    project = Path(project).expanduser()
    if not project.is_dir():
        return []
    declared = _toolchain_file_version(project / "lean-toolchain")
    path, line = _version_of("lean", env, project)
    running = lean_version_of_output(line) if path is not None else None
    binary = (repl_binary or default_repl_binary(project)).expanduser()
    binary = binary if binary.is_absolute() else project / binary
    repl_dir = _repl_source_dir(binary)
    repl = _toolchain_file_version(repl_dir / "lean-toolchain") if repl_dir is not None else None
    mathlib = _toolchain_file_version(project / MATHLIB_TOOLCHAIN_RELPATH)
    mathlib_rev = _mathlib_manifest_rev(project)
    found = {"lean in project": running, "lean-toolchain": declared, "REPL": repl, "Mathlib": mathlib}
    known = {k: v for k, v in found.items() if v is not None}
    detail = ", ".join(f"{k} {v}" for k, v in known.items()) or "no Lean version found"
    if mathlib_rev:
        detail += f" (Mathlib rev {mathlib_rev})"
    versions = set(known.values())
    if len(versions) <= 1:
        return [
            Check(
                "Lean versions",
                bool(known),
                detail,
                None if known else f"prover setup --lean-project {project}",
                True,
                "project",
            )
        ]
    target = mathlib or declared or running
    own = not made_by_setup(project)  # a user's own project: `prover setup` refuses it, its lakefile is the fix
    if running is not None and declared is not None and running != declared:
        fix = f"lean in the project is {running}, not {declared}: install elan so the project's toolchain is used: {ELAN_INSTALL}"
    elif own and mathlib is not None and declared is not None and mathlib != declared:
        fix = f"cp {project / MATHLIB_TOOLCHAIN_RELPATH} {project / 'lean-toolchain'} (Mathlib is built with its own Lean)"
    elif own:
        fix = f"rebuild the REPL for Lean {target}: " + require_repl_fix(project, target)
    elif mathlib is not None and declared is not None and mathlib != declared:
        fix = f"cp {project / MATHLIB_TOOLCHAIN_RELPATH} {project / 'lean-toolchain'} && prover setup --lean-project {project} --mathlib-rev {mathlib_rev or target}"
    else:
        fix = f"rebuild the REPL for Lean {target}: prover setup --lean-project {project} --mathlib-rev {mathlib_rev or target}"
    return [Check("Lean versions", False, "mismatch: " + detail, fix, True, "project", problem="mismatch")]


def find_validator(name: str, project: Path | None = None, env: Mapping[str, str] | None = None) -> Path | None:
    """`lean4checker` or `comparator` as `--strict` will find it (`lean_env.checks.validate.find_validator`)."""
    from lean_env.checks.validate import find_validator as find

    return find(name, project, env)


def _declares_validate_lib(project: Path) -> bool:
    """Whether the project's lakefile has the `lean_lib` comparator builds the checked modules with."""
    from lean_env.checks.validate import MODULE_DIR

    for name in ("lakefile.toml", "lakefile.lean"):
        try:
            text = (project / name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if re.search(rf'name\s*=\s*"{MODULE_DIR}"|lean_lib\s+«?{MODULE_DIR}»?', text):
            return True
    return False


def probe_validators(project: Path, env: Mapping[str, str] | None = None) -> list[Check]:
    """The kernel-replay tools `prove --strict` can use (optional): present, or how to get them for the project's
    Lean (lean4checker's tag for it; from v4.28.0-rc1 the toolchain's own `leanchecker`, nothing to install)."""
    from lean_env.checks.validate import INSTALL_HINTS, MODULE_DIR, TOOLCHAIN_CHECKER, lean4checker_hint, project_lean

    project = Path(project).expanduser()
    checks = []
    for name in ("lean4checker", "comparator"):
        path = find_validator(name, project, env)
        if path is None:
            fix = lean4checker_hint(project_lean(project)) if name == "lean4checker" else INSTALL_HINTS[name]
            checks.append(Check(name, False, "not found (only needed for --strict)", fix, False, "validators"))
        elif path == Path(TOOLCHAIN_CHECKER):
            detail = f"the toolchain's `{TOOLCHAIN_CHECKER}` (Lean {project_lean(project)} ships it)"
            checks.append(Check(name, True, detail, group="validators"))
        elif name == "comparator" and project.is_dir() and not _declares_validate_lib(project):
            detail = f"{path}, but the project's lakefile has no lean_lib {MODULE_DIR} (comparator builds with it)"
            fix = (
                f"prover setup --lean-project {project} --validator comparator"
                if made_by_setup(project)
                else f'add to {project}\'s lakefile: [[lean_lib]] with name = "{MODULE_DIR}"'
            )
            checks.append(Check(name, False, detail, fix, False, "validators", problem="mismatch"))
        else:
            checks.append(Check(name, True, str(path), group="validators"))
    return checks


def probe_project(project: Path, repl_binary: Path | None = None) -> list[Check]:
    project = Path(project).expanduser()
    setup_fix = f"prover setup --lean-project {project}"
    if project.exists() and not project.is_dir():
        fix = "prover setup --lean-project DIR with a new directory, and use --lean-project DIR (or [lean] project)"
        return [Check("Lean project", False, f"{project} is a file, not a directory", fix, True, "project")]
    if not project.is_dir():
        return [Check("Lean project", False, f"{project} does not exist", setup_fix, True, "project")]
    lakefiles = [name for name in ("lakefile.toml", "lakefile.lean") if (project / name).is_file()]
    checks = [
        Check(
            "Lean project",
            bool(lakefiles),
            f"{project} ({lakefiles[0]})" if lakefiles else f"{project} has no lakefile.toml/lakefile.lean",
            None if lakefiles else setup_fix,
            True,
            "project",
        )
    ]
    toolchain_file = project / "lean-toolchain"
    toolchain = toolchain_file.read_text(encoding="utf-8").strip() if toolchain_file.is_file() else ""
    checks.append(
        Check(
            "lean-toolchain",
            bool(toolchain),
            toolchain or "missing",
            None if toolchain else setup_fix,
            True,
            "project",
        )
    )
    mathlib_build = project / MATHLIB_BUILD_RELPATH
    mathlib_ok = mathlib_build.is_dir() and any(mathlib_build.iterdir())
    checks.append(
        Check(
            "Mathlib built",
            mathlib_ok,
            str(mathlib_build) if mathlib_ok else f"{mathlib_build} is missing or empty",
            None if mathlib_ok else f"cd {project} && lake exe cache get",
            True,
            "project",
        )
    )
    binary = repl_binary if repl_binary is not None else default_repl_binary(project)
    binary = binary.expanduser()
    if not binary.is_absolute():
        binary = project / binary
    repl_ok = binary.is_file() and os.access(binary, os.X_OK)
    checks.append(
        Check(
            "REPL binary",
            repl_ok,
            str(binary) if repl_ok else f"{binary} is missing" + (" or not executable" if binary.exists() else ""),
            None if repl_ok else repl_binary_fix(project),
            True,
            "project",
        )
    )
    return checks


def probe_repl_patches(project: Path, repl_binary: Path | None = None) -> list[Check]:
    """Whether the REPL checkout the binary is built from carries lean_env/data/repl_patches/ (without them tactic
    mode runs at the default 200000 heartbeats whatever the header sets: repl#69). Not required: proving works
    without, only with a different limit. Nothing is probed when there is no checkout (other rows say so)."""
    project = Path(project).expanduser()
    binary = (repl_binary or default_repl_binary(project)).expanduser()
    binary = binary if binary.is_absolute() else project / binary
    repl_dir = _repl_source_dir(binary) or project / REPL_PACKAGE_RELPATH
    if not (repl_dir / "REPL").is_dir():
        return []
    missing = patches_missing(repl_dir)
    if not missing:
        return [Check("REPL patches", True, f"applied in {repl_dir}", group="project")]
    if made_by_setup(project) and repl_dir == project / REPL_PACKAGE_RELPATH:
        fix = f"prover setup --lean-project {project}"
    else:
        applies = " && ".join(f"git apply {PATCH_DIR / name}.patch" for name in missing)
        fix = f"cd {repl_dir} && {applies} && lake build repl"
    detail = (
        f"not applied in {repl_dir}: {', '.join(missing)} (tactics run at 200000 heartbeats whatever the header sets)"
    )
    return [Check("REPL patches", False, detail, fix, False, "project")]


def repl_binary_fix(project: Path) -> str:
    """The fix for a missing REPL binary in `project`: build the REPL the project requires; re-run set-up on a
    project it made; in a user's own project (which set-up refuses), require the REPL in its lakefile."""
    project = Path(project).expanduser()
    if (project / REPL_PACKAGE_RELPATH).is_dir():
        return f"cd {project} && lake build repl"
    if made_by_setup(project):  # set-up stopped before it required the REPL
        return f"prover setup --lean-project {project}"
    return require_repl_fix(project, _toolchain_file_version(project / "lean-toolchain"))


# One command with no imports, answered `{"env": 0}` by real Lean (../shared/lean_fixtures/repl/def_eval.in and
# .expected.out, the REPL's own test); it takes about a second once the REPL starts. The REPL's loop
# (leanprover-community/repl `REPL/Main.lean`@9bd82d50ae217694bbca2c54e01505da8716574e) reads a request up to a
# blank line, prints the answer and a blank line, and returns at the end of its input, so closing stdin ends it.
REPL_PROBE_COMMAND = "def f := 37"
REPL_PROBE_TIMEOUT_S = 60.0  # `lake env` may first elaborate a lakefile.lean


def probe_repl_start(
    project: Path, repl_binary: Path | None = None, env: Mapping[str, str] | None = None
) -> list[Check]:
    """Start the REPL as the REPL backend does (`lake env <repl>` in the project) and send one command.

    Files can agree while the binary cannot run (built against other `.olean`s, a broken toolchain). Nothing
    is probed when `lake`, the project or the binary is missing: their own rows say so.
    """
    project = Path(project).expanduser()
    binary = (repl_binary or default_repl_binary(project)).expanduser()
    binary = binary if binary.is_absolute() else project / binary
    lake = _which("lake", env)
    if lake is None or not project.is_dir() or not (binary.is_file() and os.access(binary, os.X_OK)):
        return []
    fix = f"rebuild the REPL for the project's Lean (see the Lean versions row): {repl_binary_fix(project)}"
    request = json.dumps({"cmd": REPL_PROBE_COMMAND}) + "\n\n"
    try:
        proc = _capture([lake, "env", str(binary)], REPL_PROBE_TIMEOUT_S, env, project, stdin_text=request)
    except subprocess.TimeoutExpired:
        detail = f"no answer within {REPL_PROBE_TIMEOUT_S:.0f} s to `{REPL_PROBE_COMMAND}` (no imports)"
        return [Check("REPL starts", False, detail, fix, True, "project", problem="fails")]
    except OSError as exc:
        return [Check("REPL starts", False, f"`lake env` failed: {exc}", fix, True, "project", problem="fails")]
    try:
        answer, _ = json.JSONDecoder().raw_decode(proc.stdout.strip())
    except ValueError:
        answer = None
    if proc.returncode == 0 and isinstance(answer, dict) and "env" in answer:
        detail = f"`lake env {binary.name}` answers `{REPL_PROBE_COMMAND}` (env {answer['env']})"
        return [Check("REPL starts", True, detail, group="project")]
    said = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ["no output"])[-1]
    detail = f"`lake env {binary}` exited with code {proc.returncode}: {said[:200]}"
    if proc.returncode == 0:
        detail = f"`lake env {binary}` gave no REPL answer to `{REPL_PROBE_COMMAND}`: {said[:200]}"
    return [Check("REPL starts", False, detail, fix, True, "project", problem="fails")]


def run_doctor(
    project: Path,
    repl_binary: Path | None = None,
    env: Mapping[str, str] | None = None,
    extra: Sequence[Check] = (),
) -> DoctorReport:
    """The Lean side of `prover doctor` (toolchain, project, versions, REPL start, validators) plus `extra` checks
    from the layers above (the Python stack's probes live in `prover.doctor`: lean_env never imports torch)."""
    project = Path(project).expanduser()
    checks: list[Check] = []
    checks += probe_toolchain(env, project if project.is_dir() else None)
    checks += probe_project(project, repl_binary)
    checks += probe_versions(project, repl_binary, env)
    checks += probe_repl_start(project, repl_binary, env)
    checks += probe_repl_patches(project, repl_binary)
    checks += probe_validators(project, env)
    checks += extra
    return DoctorReport(project, tuple(checks))
