"""Set up and inspect a Lean project for proving: `prover setup` and `prover doctor` minus the rendering.

`plan_setup`/`run_setup` create a Lake project pinned to a Mathlib release that also requires the Lean
REPL (leanprover-community/repl), fetch Mathlib's build cache and build the REPL. `run_doctor` probes
the toolchain, the project and the Python extras, and says for each missing piece the command that fixes it.
Everything here returns typed results; the CLI only renders them.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_REPL_RELPATH = ".lake/packages/REPL/.lake/build/bin/repl"
MATHLIB_BUILD_RELPATH = ".lake/packages/mathlib/.lake/build"
MATHLIB_TOOLCHAIN_RELPATH = ".lake/packages/mathlib/lean-toolchain"
DEFAULT_MATHLIB_REV = "v4.19.0"
DEFAULT_REPL_REV = "v4.19.0"  # the REPL tags a release per Lean version; keep it equal to Mathlib's
MATHLIB_GIT = "https://github.com/leanprover-community/mathlib4"
REPL_GIT = "https://github.com/leanprover-community/repl"
ELAN_INSTALL = "curl https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh -sSf | sh -s -- -y"
SETUP_LOG = ".prover-setup.log"
PROBE_TIMEOUT_S = 20.0

_RELEASE_TAG = re.compile(r"^v\d+\.\d+\.\d+(-rc\d+)?$")


def default_repl_binary(project: Path) -> Path:
    """Where `prover setup` builds the REPL inside `project`."""
    return Path(project).expanduser() / DEFAULT_REPL_RELPATH


def _which(program: str, env: Mapping[str, str] | None) -> str | None:
    path = (env if env is not None else os.environ).get("PATH", os.defpath)
    return shutil.which(program, path=path)


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
    project: Path
    mathlib_rev: str
    repl_rev: str
    toolchain: str
    files: tuple[tuple[str, str], ...]  # (relative path, content) written before the steps
    steps: tuple[SetupStep, ...]

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


def lakefile_toml(mathlib_rev: str, repl_rev: str, name: str = "lean_prover_project") -> str:
    return (
        f'name = "{name}"\n'
        "defaultTargets = []\n\n"
        "[[require]]\n"
        'name = "mathlib"\n'
        f'git = "{MATHLIB_GIT}"\n'
        f'rev = "{mathlib_rev}"\n\n'
        "[[require]]\n"
        'name = "REPL"\n'
        f'git = "{REPL_GIT}"\n'
        f'rev = "{repl_rev}"\n'
    )


def plan_setup(
    project: Path,
    mathlib_rev: str = DEFAULT_MATHLIB_REV,
    repl_rev: str | None = None,
    lean_toolchain: str | None = None,
) -> SetupPlan:
    """What `prover setup` will write and run. The toolchain must match Mathlib's: for a release tag
    (`v4.19.0`) it is `leanprover/lean4:<tag>`; for a commit, pass `lean_toolchain` explicitly."""
    if not mathlib_rev.strip():
        raise SetupError("--mathlib-rev must not be empty")
    repl_rev = repl_rev or (mathlib_rev if _RELEASE_TAG.match(mathlib_rev) else DEFAULT_REPL_REV)
    if lean_toolchain is None:
        if not _RELEASE_TAG.match(mathlib_rev):
            raise SetupError(
                f"cannot tell the Lean version of Mathlib revision {mathlib_rev!r}; "
                "pass --lean-toolchain leanprover/lean4:vX.Y.Z"
            )
        lean_toolchain = f"leanprover/lean4:{mathlib_rev}"
    project = Path(project).expanduser().resolve()
    files = (
        ("lakefile.toml", lakefile_toml(mathlib_rev, repl_rev)),
        ("lean-toolchain", lean_toolchain + "\n"),
    )
    steps = (
        SetupStep("fetch dependencies (Mathlib, REPL)", ("lake", "update")),
        SetupStep("download Mathlib's build cache", ("lake", "exe", "cache", "get")),
        SetupStep("build the Lean REPL", ("lake", "build", "repl")),
    )
    return SetupPlan(project, mathlib_rev, repl_rev, lean_toolchain, files, steps)


StepRunner = Callable[[SetupStep, Path, Path, Mapping[str, str] | None], int]


def _run_step(step: SetupStep, cwd: Path, log_path: Path, env: Mapping[str, str] | None) -> int:
    """Run one step, appending its output to the log; returns the exit code."""
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"\n$ {step.display}\n")
        log.flush()
        try:
            proc = subprocess.run(
                list(step.argv),
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(env) if env is not None else None,
                check=False,
            )
        except OSError as exc:
            log.write(f"could not start: {exc}\n")
            return 127
    return proc.returncode


def check_setup_tools(env: Mapping[str, str] | None = None) -> None:
    """Raise `SetupError` naming the fix when elan, lake or git is missing."""
    for tool in ("elan", "lake"):
        if _which(tool, env) is None:
            raise SetupError(f"`{tool}` is not on PATH; install elan (it provides lean and lake): {ELAN_INSTALL}")
    if _which("git", env) is None:
        raise SetupError("`git` is not on PATH (lake fetches Mathlib and the REPL with it); install git")


def run_setup(
    plan: SetupPlan,
    env: Mapping[str, str] | None = None,
    on_step: Callable[[int, SetupStep], None] | None = None,
    runner: StepRunner = _run_step,
) -> SetupResult:
    """Create the project and run every step; raises `SetupError` at the first failing step."""
    check_setup_tools(env)
    project = plan.project
    if project.exists() and not project.is_dir():
        raise SetupError(f"{project} exists and is not a directory")
    project.mkdir(parents=True, exist_ok=True)
    for rel, content in plan.files:
        target = project / rel
        if rel == "lakefile.toml" and (project / "lakefile.lean").exists():
            raise SetupError(f"{project} already has a lakefile.lean; choose an empty directory")
        target.write_text(content, encoding="utf-8")
    log_path = project / SETUP_LOG
    log_path.write_text(f"prover setup: {project}\n", encoding="utf-8")
    done: list[str] = []
    toolchain = plan.toolchain
    for index, step in enumerate(plan.steps):
        if on_step is not None:
            on_step(index, step)
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
        if step.argv[1:] == ("update",):
            toolchain = _align_toolchain(project, toolchain)
    binary = plan.repl_binary
    if not binary.is_file():
        raise SetupError(f"`lake build repl` finished but {binary} does not exist; see {log_path}")
    return SetupResult(project, binary, toolchain, log_path, tuple(done))


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


def _version_of(program: str, env: Mapping[str, str] | None) -> tuple[str | None, str]:
    """(path, first line of `program --version`) or (None, reason)."""
    path = _which(program, env)
    if path is None:
        return None, "not on PATH"
    try:
        proc = subprocess.run(
            [path, "--version"],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"`{program} --version` failed: {exc}"
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    if proc.returncode != 0:
        return None, f"`{program} --version` exited with {proc.returncode}"
    return path, lines[0] if lines else "(no version output)"


def probe_toolchain(env: Mapping[str, str] | None = None, project: Path | None = None) -> list[Check]:
    checks: list[Check] = []
    elan_path, elan_detail = _version_of("elan", env)
    checks.append(Check("elan", elan_path is not None, elan_detail, None if elan_path else ELAN_INSTALL, True))
    toolchain_fix = (
        f"cd {project} && elan toolchain install $(cat lean-toolchain)"
        if project is not None and (project / "lean-toolchain").is_file()
        else "elan default leanprover/lean4:stable"
    )
    for tool in ("lean", "lake"):
        path, detail = _version_of(tool, env)
        fix = None if path else (toolchain_fix if elan_path else ELAN_INSTALL)
        checks.append(Check(tool, path is not None, detail, fix, True))
    git_path, git_detail = _version_of("git", env)
    checks.append(Check("git", git_path is not None, git_detail, None if git_path else "install git", False))
    return checks


def probe_project(project: Path, repl_binary: Path | None = None) -> list[Check]:
    project = Path(project).expanduser()
    setup_fix = f"prover setup --lean-project {project}"
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
            None if repl_ok else f"cd {project} && lake build repl",
            True,
            "project",
        )
    )
    return checks


def _package_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "installed"


def probe_torch_gpu() -> Check:
    """torch's CUDA view of the machine (imports torch, which takes a second or two)."""
    if importlib.util.find_spec("torch") is None:
        return Check("torch / GPU", False, "torch is not installed", "pip install torch", False, "python")
    try:
        import torch

        version = str(torch.__version__)
        if torch.cuda.is_available():
            names = sorted({torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())})
            return Check(
                "torch / GPU",
                True,
                f"torch {version}, {torch.cuda.device_count()} GPU(s): {', '.join(names)}",
                group="python",
            )
    except Exception as exc:  # a broken CUDA install must not crash the doctor
        return Check(
            "torch / GPU", False, f"torch failed to load: {exc}", "pip install --force-reinstall torch", False, "python"
        )
    return Check(
        "torch / GPU",
        False,
        f"torch {version}: no CUDA GPU (generation runs on CPU)",
        "pip install torch --index-url https://download.pytorch.org/whl/cu124  (on a machine with an NVIDIA GPU)",
        False,
        "python",
    )


def probe_module(name: str, module: str, dist: str, fix: str) -> Check:
    if importlib.util.find_spec(module) is None:
        return Check(name, False, "not installed", fix, False, "python")
    return Check(name, True, f"{dist} {_package_version(dist)}", group="python")


def probe_python() -> list[Check]:
    from lean_env.dojo import probe_lean_dojo

    return [
        probe_torch_gpu(),
        probe_module("flash-attn", "flash_attn", "flash-attn", "pip install flash-attn --no-build-isolation"),
        probe_module("vllm", "vllm", "vllm", "pip install vllm"),
        probe_module("Ray", "ray", "ray", "pip install 'ray[default]'"),
        probe_lean_dojo(),  # helper B: imports it in a fresh interpreter, naming import-time failures
    ]


def run_doctor(
    project: Path,
    repl_binary: Path | None = None,
    env: Mapping[str, str] | None = None,
    include_python: bool = True,
) -> DoctorReport:
    project = Path(project).expanduser()
    checks: list[Check] = []
    checks += probe_toolchain(env, project if project.is_dir() else None)
    checks += probe_project(project, repl_binary)
    if include_python:
        checks += probe_python()
    return DoctorReport(project, tuple(checks))
