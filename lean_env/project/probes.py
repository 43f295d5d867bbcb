"""The Lean side of `prover doctor`: the toolchain, the project, its Lean versions, whether the REPL starts, its
patches and the optional kernel-replay validators. Each probe returns `Probe` rows saying what was found and the
command that fixes what is missing; the Python stack's rows live in `prover.doctor` (lean_env never imports
torch), and `prover doctor` only collects both and prints them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lean_env.project.lake_project import (
    ELAN_INSTALL,
    MATHLIB_BUILD_RELPATH,
    MATHLIB_TOOLCHAIN_RELPATH,
    REPL_PACKAGE_RELPATH,
    default_repl_binary,
    made_by_setup,
    repl_binary_fix,
    require_repl_fix,
)
from lean_env.project.repl_patch import PATCH_DIR, patches_missing
from lean_env.project.repl_versions import lean_version_of_output, toolchain_file_version
from lean_env.project.tools import capture, which

PROBE_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Probe:
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
    probes: tuple[Probe, ...] = field(default=())

    @property
    def missing_required(self) -> tuple[Probe, ...]:
        return tuple(c for c in self.probes if c.required and not c.ok)

    @property
    def ready(self) -> bool:
        return not self.missing_required


def _version_of(program: str, env: Mapping[str, str] | None, cwd: Path | None = None) -> tuple[str | None, str]:
    """(path, first line of `program --version`, run in `cwd`) or (None, reason)."""
    path = which(program, env)
    if path is None:
        return None, "not on PATH"
    try:
        proc = capture([path, "--version"], PROBE_TIMEOUT_S, env, cwd)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"`{program} --version` failed: {exc}"
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    if proc.returncode != 0:
        return None, f"`{program} --version` exited with {proc.returncode}"
    return path, lines[0] if lines else "(no version output)"


def probe_toolchain(env: Mapping[str, str] | None = None, project: Path | None = None) -> list[Probe]:
    """`lake`, `lean`, `elan`, `git`. `lean --version` and `lake --version` run IN the project: elan's proxies
    pick the toolchain named by the `lean-toolchain` of the directory they run in, so outside the project
    they would report elan's default toolchain instead of the project's. elan is only demanded when there
    is no `lake` (a Lean installed another way works as long as its version is the project's)."""
    probes: list[Probe] = []
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
        probes.append(Probe(program, path is not None, detail + (in_project if path else ""), fix, True))
    if elan_path is None and lake_path is not None:
        elan_detail = "not on PATH (not needed: lake is on PATH; elan switches Lean versions per project)"
    probes.append(
        Probe("elan", elan_path is not None, elan_detail, None if elan_path else ELAN_INSTALL, lake_path is None)
    )
    git_path, git_detail = _version_of("git", env)
    probes.append(Probe("git", git_path is not None, git_detail, None if git_path else "install git", False))
    return probes


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


def probe_versions(project: Path, repl_binary: Path | None = None, env: Mapping[str, str] | None = None) -> list[Probe]:
    """Does one Lean version run everything? The project's Lean (`lean --version` run in the project),
    its `lean-toolchain`, the Lean the REPL binary was built for (its checkout's `lean-toolchain`) and
    Mathlib's (`.lake/packages/mathlib/lean-toolchain`, at the `lake-manifest.json` revision)."""
    project = Path(project).expanduser()
    if not project.is_dir():
        return []
    declared = toolchain_file_version(project / "lean-toolchain")
    path, line = _version_of("lean", env, project)
    running = lean_version_of_output(line) if path is not None else None
    binary = (repl_binary or default_repl_binary(project)).expanduser()
    binary = binary if binary.is_absolute() else project / binary
    repl_dir = _repl_source_dir(binary)
    repl = toolchain_file_version(repl_dir / "lean-toolchain") if repl_dir is not None else None
    mathlib = toolchain_file_version(project / MATHLIB_TOOLCHAIN_RELPATH)
    mathlib_rev = _mathlib_manifest_rev(project)
    found = {"lean in project": running, "lean-toolchain": declared, "REPL": repl, "Mathlib": mathlib}
    known = {k: v for k, v in found.items() if v is not None}
    detail = ", ".join(f"{k} {v}" for k, v in known.items()) or "no Lean version found"
    if mathlib_rev:
        detail += f" (Mathlib rev {mathlib_rev})"
    versions = set(known.values())
    if len(versions) <= 1:
        return [
            Probe(
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
    return [Probe("Lean versions", False, "mismatch: " + detail, fix, True, "project", problem="mismatch")]


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


def probe_validators(project: Path, env: Mapping[str, str] | None = None) -> list[Probe]:
    """The kernel-replay tools `prove --strict` can use (optional): present, or how to get them for the project's
    Lean (lean4checker's tag for it; from v4.28.0-rc1 the toolchain's own `leanchecker`, nothing to install)."""
    from lean_env.checks.validate import INSTALL_HINTS, MODULE_DIR, TOOLCHAIN_CHECKER, lean4checker_hint, project_lean

    project = Path(project).expanduser()
    probes = []
    for name in ("lean4checker", "comparator"):
        path = find_validator(name, project, env)
        if path is None:
            fix = lean4checker_hint(project_lean(project)) if name == "lean4checker" else INSTALL_HINTS[name]
            probes.append(Probe(name, False, "not found (only needed for --strict)", fix, False, "validators"))
        elif path == Path(TOOLCHAIN_CHECKER):
            detail = f"the toolchain's `{TOOLCHAIN_CHECKER}` (Lean {project_lean(project)} ships it)"
            probes.append(Probe(name, True, detail, group="validators"))
        elif name == "comparator" and project.is_dir() and not _declares_validate_lib(project):
            detail = f"{path}, but the project's lakefile has no lean_lib {MODULE_DIR} (comparator builds with it)"
            fix = (
                f"prover setup --lean-project {project} --validator comparator"
                if made_by_setup(project)
                else f'add to {project}\'s lakefile: [[lean_lib]] with name = "{MODULE_DIR}"'
            )
            probes.append(Probe(name, False, detail, fix, False, "validators", problem="mismatch"))
        else:
            probes.append(Probe(name, True, str(path), group="validators"))
    return probes


def probe_project(project: Path, repl_binary: Path | None = None) -> list[Probe]:
    project = Path(project).expanduser()
    setup_fix = f"prover setup --lean-project {project}"
    if project.exists() and not project.is_dir():
        fix = "prover setup --lean-project DIR with a new directory, and use --lean-project DIR (or [lean] project)"
        return [Probe("Lean project", False, f"{project} is a file, not a directory", fix, True, "project")]
    if not project.is_dir():
        return [Probe("Lean project", False, f"{project} does not exist", setup_fix, True, "project")]
    lakefiles = [name for name in ("lakefile.toml", "lakefile.lean") if (project / name).is_file()]
    probes = [
        Probe(
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
    probes.append(
        Probe(
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
    probes.append(
        Probe(
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
    probes.append(
        Probe(
            "REPL binary",
            repl_ok,
            str(binary) if repl_ok else f"{binary} is missing" + (" or not executable" if binary.exists() else ""),
            None if repl_ok else repl_binary_fix(project),
            True,
            "project",
        )
    )
    return probes


def probe_repl_patches(project: Path, repl_binary: Path | None = None) -> list[Probe]:
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
        return [Probe("REPL patches", True, f"applied in {repl_dir}", group="project")]
    if made_by_setup(project) and repl_dir == project / REPL_PACKAGE_RELPATH:
        fix = f"prover setup --lean-project {project}"
    else:
        applies = " && ".join(f"git apply {PATCH_DIR / name}.patch" for name in missing)
        fix = f"cd {repl_dir} && {applies} && lake build repl"
    detail = (
        f"not applied in {repl_dir}: {', '.join(missing)} (tactics run at 200000 heartbeats whatever the header sets)"
    )
    return [Probe("REPL patches", False, detail, fix, False, "project")]


# (leanprover-community/repl `REPL/Main.lean`@9bd82d50ae217694bbca2c54e01505da8716574e) reads a request up to a
# blank line, prints the answer and a blank line, and returns at the end of its input, so closing stdin ends it.
REPL_PROBE_COMMAND = "def f := 37"
REPL_PROBE_TIMEOUT_S = 60.0  # `lake env` may first elaborate a lakefile.lean


def probe_repl_start(
    project: Path, repl_binary: Path | None = None, env: Mapping[str, str] | None = None
) -> list[Probe]:
    """Start the REPL as the REPL backend does (`lake env <repl>` in the project) and send one command.

    Files can agree while the binary cannot run (built against other `.olean`s, a broken toolchain). Nothing
    is probed when `lake`, the project or the binary is missing: their own rows say so.
    """
    project = Path(project).expanduser()
    binary = (repl_binary or default_repl_binary(project)).expanduser()
    binary = binary if binary.is_absolute() else project / binary
    lake = which("lake", env)
    if lake is None or not project.is_dir() or not (binary.is_file() and os.access(binary, os.X_OK)):
        return []
    fix = f"rebuild the REPL for the project's Lean (see the Lean versions row): {repl_binary_fix(project)}"
    request = json.dumps({"cmd": REPL_PROBE_COMMAND}) + "\n\n"
    try:
        proc = capture([lake, "env", str(binary)], REPL_PROBE_TIMEOUT_S, env, project, stdin_text=request)
    except subprocess.TimeoutExpired:
        detail = f"no answer within {REPL_PROBE_TIMEOUT_S:.0f} s to `{REPL_PROBE_COMMAND}` (no imports)"
        return [Probe("REPL starts", False, detail, fix, True, "project", problem="fails")]
    except OSError as exc:
        return [Probe("REPL starts", False, f"`lake env` failed: {exc}", fix, True, "project", problem="fails")]
    try:
        answer, _ = json.JSONDecoder().raw_decode(proc.stdout.strip())
    except ValueError:
        answer = None
    if proc.returncode == 0 and isinstance(answer, dict) and "env" in answer:
        detail = f"`lake env {binary.name}` answers `{REPL_PROBE_COMMAND}` (env {answer['env']})"
        return [Probe("REPL starts", True, detail, group="project")]
    said = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ["no output"])[-1]
    detail = f"`lake env {binary}` exited with code {proc.returncode}: {said[:200]}"
    if proc.returncode == 0:
        detail = f"`lake env {binary}` gave no REPL answer to `{REPL_PROBE_COMMAND}`: {said[:200]}"
    return [Probe("REPL starts", False, detail, fix, True, "project", problem="fails")]


def run_doctor(
    project: Path,
    repl_binary: Path | None = None,
    env: Mapping[str, str] | None = None,
    extra: Sequence[Probe] = (),
) -> DoctorReport:
    """The Lean side of `prover doctor` (toolchain, project, versions, REPL start and patches, validators), then
    `extra` rows from the layers above (the Python stack's, `prover.doctor.probe_python`: lean_env never imports
    torch)."""
    project = Path(project).expanduser()
    probes: list[Probe] = []
    probes += probe_toolchain(env, project if project.is_dir() else None)
    probes += probe_project(project, repl_binary)
    probes += probe_versions(project, repl_binary, env)
    probes += probe_repl_start(project, repl_binary, env)
    probes += probe_repl_patches(project, repl_binary)
    probes += probe_validators(project, env)
    probes += extra
    return DoctorReport(project, tuple(probes))
