"""The validation ladder's top rung: kernel replay of a verified proof by `lean4checker` or `comparator`.

Rungs, in order (`lean_env.checks.verdict.RUNGS`): a proof is *compiled* when Lean elaborated it without errors
or a sorry warning; *axioms audited* when its `#print axioms` listing held only allowed axioms (what
`ReplVerifier` checks); *kernel replayed* when an external tool re-checked the compiled declarations
with the kernel from the `.olean`, which catches "environment hacking" that the elaborator let through.

* `lean4checker` (github.com/leanprover/lean4checker, README and `Main.lean` at 10492a53): run as
  `lake env lean4checker <Module>` in the project; it replays every constant of the module's `.olean`
  into the environment of its imports, printing `Replaying thm <name>` lines, exits 0 when the kernel
  accepts all of them; a kernel exception or a missing `.olean` is an uncaught error (exit 1). Its last tag
  is v4.29.0-rc8: from v4.28.0-rc1 Lean ships it as the toolchain's own `leanchecker` (lean4#11887, same
  command line: `src/LeanChecker.lean` `main`), which elan already proxies, so for such a project the
  validator runs `lake env leanchecker <Module>` and needs nothing installed. The module is compiled first
  with `lake env lean -o <olean> <file>` into the build directory `lake env` puts on the search path:
  `.lake/build/lib/lean` from v4.18.0-rc1 (lean4#7001), `.lake/build/lib` before.
* `comparator` (github.com/leanprover/comparator, README at 04398414): run as
  `lake env comparator <config.json>`; the config names `challenge_module` (the statement with
  `sorry`), `solution_module` (the proof), `theorem_names` and `permitted_axioms`; it exits 0 only when
  each theorem proves the same statement as the challenge, uses only permitted axioms and is accepted
  by the kernel. It builds both modules with `lake`, so the project needs a `lean_lib` that covers
  `ProverValidate` (README, Soundness section).

`find_validator(name, project)` locates a tool: `$PROVER_LEAN4CHECKER` / `$PROVER_COMPARATOR`, else (lean4checker)
the toolchain's `leanchecker` where the project's Lean ships it, else `PATH`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from lean_env.backends import processes
from lean_env.checks.verdict import FileVerifier, ProofVerifier, Rejected, Verdict, Verified
from lean_env.errors import LeanEnvError
from lean_env.types import ClosingContext, Theorem

VALIDATORS = ("lean4checker", "comparator")
MODULE_DIR = "ProverValidate"  # where checked sources go inside the Lean project (a module namespace)
STANDARD_AXIOMS = ("propext", "Quot.sound", "Classical.choice")
INSTALL_HINTS = {
    "lean4checker": "git clone https://github.com/leanprover/lean4checker && cd lean4checker && lake build "
    "(use the tag matching your Lean), then put .lake/build/bin on PATH or set PROVER_LEAN4CHECKER",
    "comparator": "git clone https://github.com/leanprover/comparator && cd comparator && lake build comparator "
    "(needs landrun and lean4export on PATH), then set PROVER_COMPARATOR; `prover setup --validator comparator` "
    f"writes the [[lean_lib]] {MODULE_DIR} it builds",
}
# Lake's `.olean`s moved from `.lake/build/lib` to `.lake/build/lib/lean` in lean4#7001, first released in v4.18.0-rc1.
LIB_LEAN_FROM = "v4.18.0-rc1"
# lean4#11887 ships lean4checker with Lean as `leanchecker`, first released in v4.28.0-rc1.
TOOLCHAIN_CHECKER_FROM = "v4.28.0-rc1"
TOOLCHAIN_CHECKER = "leanchecker"
LEAN4CHECKER_GIT = "https://github.com/leanprover/lean4checker"
_TAGS_FILE = Path(__file__).resolve().parents[1] / "data" / "lean4checker_tags.txt"


class ValidatorError(LeanEnvError):
    """A validator was asked for but cannot be used; the message is one line naming the fix."""


def project_lean(project: Path | None) -> str | None:
    """The Lean release of `project` (its `lean-toolchain`), e.g. `v4.32.0`; None for a nightly, a commit or none."""
    from lean_env.project.repl_versions import toolchain_lean_version

    if project is None:
        return None
    try:
        return toolchain_lean_version((Path(project).expanduser() / "lean-toolchain").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None


def _at_least(lean: str | None, first: str) -> bool | None:
    from lean_env.project.repl_versions import lean_version_key

    key = lean_version_key(lean) if lean is not None else None
    bound = lean_version_key(first)
    return None if key is None or bound is None else key >= bound


def olean_root(project: Path) -> Path:
    """Where `lake env` looks for the project's own `.olean`s (its `LEAN_PATH` entry) for the project's Lean.

    A Lean that cannot be told (a nightly) is taken as new."""
    if _at_least(project_lean(project), LIB_LEAN_FROM) is False:
        return Path(project) / ".lake" / "build" / "lib"
    return Path(project) / ".lake" / "build" / "lib" / "lean"


def ships_leanchecker(lean: str | None) -> bool:
    """Whether Lean `lean`'s toolchain has its own `leanchecker` (lean4#11887, from v4.28.0-rc1)."""
    return bool(_at_least(lean, TOOLCHAIN_CHECKER_FROM))


def lean4checker_tags() -> tuple[str, ...]:
    """lean4checker's release tags (lean_env/data/lean4checker_tags.txt, with provenance)."""
    lines = _TAGS_FILE.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def lean4checker_hint(lean: str | None) -> str:
    """How to get a kernel checker for a project on Lean `lean`: nothing (the toolchain's `leanchecker`), the
    lean4checker tag built for it, or, when there is none, the way out."""
    if ships_leanchecker(lean):
        return f"nothing to install: Lean {lean} ships `leanchecker` (run as `lake env leanchecker`)"
    if lean is None:
        return INSTALL_HINTS["lean4checker"]
    tags = lean4checker_tags()
    tag = next((t for t in tags if t in (lean, f"toolchain/{lean}")), None)
    if tag is None:
        return (
            f"lean4checker has no tag for Lean {lean} (its tags: {tags[0].removeprefix('toolchain/')} to {tags[-1]}); "
            f"use --validator comparator, or a Mathlib release on Lean {TOOLCHAIN_CHECKER_FROM} or newer, whose "
            "toolchain ships `leanchecker`"
        )
    return (
        f"git clone --branch {tag} {LEAN4CHECKER_GIT} && cd lean4checker && lake build && "
        "export PROVER_LEAN4CHECKER=$PWD/.lake/build/bin/lean4checker"
    )


def find_validator(name: str, project: Path | None = None, env: Mapping[str, str] | None = None) -> Path | None:
    """The executable of `name` (`lean4checker` or `comparator`) for `project`, as `--strict` and `prover doctor`
    both find it: `$PROVER_<NAME>` if set; for lean4checker, the toolchain's `leanchecker` when the project's Lean
    ships it (a bare name: `lake env` runs it in the project, where elan's proxy picks the project's toolchain);
    else `PATH`; else the project's own build (`.lake/build/bin/<name>`, or a `<name>` package of the project).
    `env` is the environment to read (default: this process's)."""
    if name not in VALIDATORS:
        raise ValueError(f"unknown validator {name!r}; expected one of {', '.join(VALIDATORS)}")
    environ = os.environ if env is None else env
    override = environ.get(f"PROVER_{name.upper()}")
    if override:
        path = Path(override).expanduser()
        return path if path.is_file() and os.access(path, os.X_OK) else None
    if name == "lean4checker" and ships_leanchecker(project_lean(project)):
        return Path(TOOLCHAIN_CHECKER)
    found = shutil.which(name, path=environ.get("PATH", os.defpath))
    if found:
        return Path(found)
    if project is not None:
        root = Path(project).expanduser()
        for candidate in (
            root / ".lake" / "build" / "bin" / name,
            root / ".lake" / "packages" / name / ".lake" / "build" / "bin" / name,
        ):
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
    return None


@dataclass(frozen=True)
class ValidatorConfig:
    """How to run one tool: `project` is the Lean project (its `lake` runs the tool), `lake` the command."""

    tool: str
    executable: Path
    project: Path
    lake: tuple[str, ...] = ("lake",)
    timeout_s: float = 1800.0
    permitted_axioms: tuple[str, ...] = STANDARD_AXIOMS


class KernelValidator(Protocol):
    """Re-checks `solution` (a whole Lean source) with the kernel; `challenge` states the same theorems
    with `sorry` proofs. Returns None when the tool accepts, else a one-line reason."""

    name: str

    def check(self, challenge: str, solution: str, theorem_names: Sequence[str]) -> str | None: ...


class ToolValidator:
    """`lean4checker` or `comparator`, run as their READMEs document (see the module docstring)."""

    def __init__(self, config: ValidatorConfig) -> None:
        if config.tool not in VALIDATORS:
            raise ValueError(f"unknown validator {config.tool!r}")
        self.config = config
        self.name = config.tool

    def check(self, challenge: str, solution: str, theorem_names: Sequence[str]) -> str | None:
        digest = hashlib.sha256(solution.encode("utf-8")).hexdigest()[:16]
        folder = self.config.project / MODULE_DIR
        folder.mkdir(parents=True, exist_ok=True)
        solution_module = f"{MODULE_DIR}.S{digest}"
        (folder / f"S{digest}.lean").write_text(solution, encoding="utf-8")
        if self.name == "lean4checker":
            olean = olean_root(self.config.project) / MODULE_DIR / f"S{digest}.olean"
            olean.parent.mkdir(parents=True, exist_ok=True)
            compiled = self._run(("lean", "-o", str(olean), str(folder / f"S{digest}.lean")))
            if compiled is not None:
                return f"Lean could not compile the proof for lean4checker: {compiled}"
            return self._run((str(self.config.executable), solution_module))
        (folder / f"C{digest}.lean").write_text(challenge, encoding="utf-8")
        config = {
            "challenge_module": f"{MODULE_DIR}.C{digest}",
            "solution_module": solution_module,
            "theorem_names": list(theorem_names),
            "permitted_axioms": list(self.config.permitted_axioms),
            "json_output_path": str(folder / f"report-{digest}.json"),
            "enable_nanoda": False,
        }
        config_path = folder / f"config-{digest}.json"
        config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
        return self._run((str(self.config.executable), str(config_path)))

    def _run(self, argv: tuple[str, ...]) -> str | None:
        command = (*self.config.lake, "env", *argv)
        try:
            # `lake env TOOL` runs TOOL as lake's child: a timeout kills the group, not just `lake`.
            done = processes.run(command, timeout_s=self.config.timeout_s, cwd=self.config.project)
        except OSError as exc:
            return f"cannot run {command[0]}: {exc.strerror}"
        except subprocess.TimeoutExpired:
            return f"{self.name} did not finish within {self.config.timeout_s:g} s"
        if done.returncode == 0:
            return None
        lines = [ln.strip() for ln in (done.stderr + "\n" + done.stdout).splitlines() if ln.strip()]
        detail = next(
            (ln for ln in lines if "error" in ln.lower() or "exception" in ln.lower()), lines[-1] if lines else ""
        )
        return f"{self.name} exited with {done.returncode}: {detail}"[:500]


class LadderVerifier(ClosingContext):
    """A `ProofVerifier` that climbs the last rung: every proof `inner` verifies is kernel-replayed.

    A proof the tool refuses becomes `Rejected`; one it accepts is `Verified` with `kernel` set to the
    tool's name and checker `<inner>+<tool>`, so reports say it was kernel replayed. `verify_file` (when `inner` has it) checks
    the whole rewritten file once.
    """

    def __init__(self, inner: ProofVerifier, validator: KernelValidator) -> None:
        self.inner = inner
        self.validator = validator
        self.checker = getattr(inner, "checker", "")

    def verify(self, theorem: Theorem, proof: str) -> Verdict:
        verdict = self.inner.verify(theorem, proof)
        if not isinstance(verdict, Verified):
            return verdict
        name = _declared_name(theorem)
        solution = theorem.source_with_proof(proof)
        challenge = theorem.source_with_proof("sorry")
        return self._climb(verdict, self.validator.check(challenge, solution, [name]))

    def verify_file(self, original_source: str, new_source: str, names: Sequence[str]) -> dict[str, Verdict]:
        if not isinstance(self.inner, FileVerifier):
            raise TypeError(f"{type(self.inner).__name__} cannot compile a whole file")
        verdicts = self.inner.verify_file(original_source, new_source, names)
        verified = [n for n, v in verdicts.items() if isinstance(v, Verified)]
        if not verified:
            return verdicts
        problem = self.validator.check(original_source, new_source, verified)
        return {n: self._climb(v, problem) if isinstance(v, Verified) else v for n, v in verdicts.items()}

    def _climb(self, verdict: Verified, problem: str | None) -> Verdict:
        if problem is not None:
            return Rejected(f"kernel replay failed: {problem}", checker=f"{verdict.checker}+{self.validator.name}")
        # The checker names both rungs ("lean-repl+lean4checker"), so every report that prints the checker
        # says the proof was kernel replayed; `Verified.rung` reads `kernel`.
        return replace(verdict, checker=f"{verdict.checker}+{self.validator.name}", kernel=self.validator.name)

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


def _declared_name(theorem: Theorem) -> str:
    # `example`s are checked under the name the verifier gives them; theorems under their full name.
    return theorem.name


def require_validator(tool: str | None = None, project: Path | None = None) -> tuple[str, Path]:
    """The tool to use for `project` and its executable: `tool`, or the first of `lean4checker`, `comparator` found.

    Raises `ValidatorError` (one line with the install command for the project's Lean) when none is installed.
    """
    names = (tool,) if tool else VALIDATORS
    for name in names:
        executable = find_validator(name, project)
        if executable is not None:
            return name, executable
    wanted = " or ".join(names)
    lean = project_lean(project)
    hints = "; ".join(f"{n}: {lean4checker_hint(lean) if n == 'lean4checker' else INSTALL_HINTS[n]}" for n in names)
    raise ValidatorError(f"--strict needs {wanted}, which is not installed ({hints})")


def check_strict(backend: str, tool: str | None = None, project: Path | None = None) -> tuple[str, Path]:
    """Preflight for `--strict` with this Lean backend: the tool to use, or `ValidatorError` (one line)."""
    if backend == "replay":
        raise ValidatorError("--strict needs a real Lean backend: the replay backend has no .olean to re-check")
    return require_validator(tool, project)


def strict_verifier(inner: ProofVerifier, project: Path, tool: str | None = None) -> LadderVerifier:
    """`inner` wrapped so that every verified proof is kernel-replayed by an installed tool (`require_validator`)."""
    name, executable = require_validator(tool, project)
    return LadderVerifier(inner, ToolValidator(ValidatorConfig(name, executable, project)))
