"""`prover setup` minus the rendering: create a Lake project pinned to a Mathlib release that also requires the
Lean REPL (leanprover-community/repl), fetch Mathlib's build cache and build the REPL.

`plan_setup` says what will be written and run; `run_setup` runs it. The REPL revision comes from
`lean_env.project.repl_versions`; the Lean-side doctor rows from `lean_env.project.probes`.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from lean_env.backends import processes
from lean_env.errors import SetupError
from lean_env.project.repl_patch import PatchError, apply_patches, revert_patches
from lean_env.project.repl_versions import (
    REPL_FORK_GIT,
    ReplPin,
    ReplTags,
    fetch_repl_tags,
    pin_for_rev,
    plan_repl,
    toolchain_file_version,
    toolchain_lean_version,
)
from lean_env.project.tools import which

DEFAULT_REPL_RELPATH = ".lake/packages/REPL/.lake/build/bin/repl"
REPL_PACKAGE_RELPATH = ".lake/packages/REPL"
MATHLIB_BUILD_RELPATH = ".lake/packages/mathlib/.lake/build"
MATHLIB_TOOLCHAIN_RELPATH = ".lake/packages/mathlib/lean-toolchain"
# The newest release that both Mathlib and the REPL have, as the REPL pins it for its own Mathlib tests
# (`test/Mathlib/lakefile.toml` at REPL tag v4.32.0, ../shared/lean_fixtures/repl_versions/v4.32.0/Mathlib/).
DEFAULT_MATHLIB_REV = "v4.32.0"
MATHLIB_GIT = "https://github.com/leanprover-community/mathlib4"
# elan's installer only edits the shell profiles: the running shell finds `lake` after sourcing `$ELAN_HOME/env`,
# which `install` writes ("To configure your current shell run `source {elan_home}/env`",
# leanprover/elan src/elan-cli/self_update.rs@00967322), so a fix chained with `&& prover setup` sources it first.
ELAN_INSTALL = (
    "curl https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh -sSf | sh -s -- -y"
    ' && . "$HOME/.elan/env"'
)
PROJECT_NAME = "lean_prover_project"  # the `name` of the lakefile `prover setup` writes: re-running it may rewrite it
SETUP_LOG = ".prover-setup.log"

_RELEASE_TAG = re.compile(r"^v\d+\.\d+\.\d+(-rc\d+)?$")


def default_repl_binary(project: Path) -> Path:
    """Where `prover setup` builds the REPL inside `project`."""
    return Path(project).expanduser() / DEFAULT_REPL_RELPATH


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
    if which("lake", env) is None:
        raise SetupError(f"`lake` is not on PATH; install elan (it provides lean and lake): {ELAN_INSTALL}")
    if which("git", env) is None:
        raise SetupError("`git` is not on PATH (lake fetches Mathlib and the REPL with it); install git")


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
        program = which(step.argv[0], env)
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


def repl_binary_fix(project: Path) -> str:
    """The fix for a missing REPL binary in `project`: build the REPL the project requires; re-run set-up on a
    project it made; in a user's own project (which set-up refuses), require the REPL in its lakefile."""
    project = Path(project).expanduser()
    if (project / REPL_PACKAGE_RELPATH).is_dir():
        return f"cd {project} && lake build repl"
    if made_by_setup(project):  # set-up stopped before it required the REPL
        return f"prover setup --lean-project {project}"
    return require_repl_fix(project, toolchain_file_version(project / "lean-toolchain"))


# One command with no imports, answered `{"env": 0}` by real Lean (../shared/lean_fixtures/repl/def_eval.in and
