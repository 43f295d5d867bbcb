"""The validation ladder's top rung: kernel replay of a verified proof by `lean4checker` or `comparator`.

Rungs, in order (`lean_env.checks.verdict.RUNGS`): a proof is *compiled* when Lean elaborated it without errors
or a sorry warning; *axioms audited* when its `#print axioms` listing held only allowed axioms (what
`ReplVerifier` checks); *kernel replayed* when an external tool re-checked the compiled declarations
with the kernel from the `.olean`, which catches "environment hacking" that the elaborator let through.

* `lean4checker` (github.com/leanprover/lean4checker, README and `Main.lean` at 10492a53): run as
  `lake env lean4checker <Module>` in the project; it replays every constant of the module's `.olean`
  into the environment of its imports, printing `Replaying thm <name>` lines, exits 0 when the kernel
  accepts all of them; a kernel exception or a missing `.olean` is an uncaught error (exit 1). The
  module is compiled first with `lake env lean -o <olean> <file>` under the project's build directory.
* `comparator` (github.com/leanprover/comparator, README at 04398414): run as
  `lake env comparator <config.json>`; the config names `challenge_module` (the statement with
  `sorry`), `solution_module` (the proof), `theorem_names` and `permitted_axioms`; it exits 0 only when
  each theorem proves the same statement as the challenge, uses only permitted axioms and is accepted
  by the kernel. It builds both modules with `lake`, so the project needs a `lean_lib` that covers
  `ProverValidate` (README, Soundness section).

`find_validator(name)` locates a tool: `$PROVER_LEAN4CHECKER` / `$PROVER_COMPARATOR`, else `PATH`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from lean_env.backends import processes
from lean_env.checks.verdict import ProofVerifier, Rejected, Verdict, Verified
from lean_env.errors import LeanEnvError
from lean_env.types import ClosingContext, Theorem

VALIDATORS = ("lean4checker", "comparator")
MODULE_DIR = "ProverValidate"  # where checked sources go inside the Lean project (a module namespace)
STANDARD_AXIOMS = ("propext", "Quot.sound", "Classical.choice")
INSTALL_HINTS = {
    "lean4checker": "git clone https://github.com/leanprover/lean4checker && cd lean4checker && lake build "
    "(use the tag matching your Lean), then put .lake/build/bin on PATH or set PROVER_LEAN4CHECKER",
    "comparator": "git clone https://github.com/leanprover/comparator && cd comparator && lake build comparator "
    "(needs landrun and lean4export on PATH), then set PROVER_COMPARATOR",
}


class ValidatorError(LeanEnvError):
    """A validator was asked for but cannot be used; the message is one line naming the fix."""


def find_validator(name: str) -> Path | None:
    """The executable of `name` (`lean4checker` or `comparator`): `$PROVER_<NAME>` if set, else `PATH`."""
    if name not in VALIDATORS:
        raise ValueError(f"unknown validator {name!r}; expected one of {', '.join(VALIDATORS)}")
    override = os.environ.get(f"PROVER_{name.upper()}")
    if override:
        path = Path(override).expanduser()
        return path if path.is_file() and os.access(path, os.X_OK) else None
    found = shutil.which(name)
    return Path(found) if found else None


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
            olean = self.config.project / ".lake" / "build" / "lib" / "lean" / MODULE_DIR / f"S{digest}.olean"
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
        whole = getattr(self.inner, "verify_file", None)
        if whole is None:
            raise AttributeError("verify_file")
        verdicts: dict[str, Verdict] = whole(original_source, new_source, names)
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


def require_validator(tool: str | None = None) -> tuple[str, Path]:
    """The tool to use and its executable: `tool`, or the first of `lean4checker`, `comparator` found.

    Raises `ValidatorError` (one line with the install command) when none is installed.
    """
    names = (tool,) if tool else VALIDATORS
    for name in names:
        executable = find_validator(name)
        if executable is not None:
            return name, executable
    wanted = " or ".join(names)
    hints = "; ".join(f"{n}: {INSTALL_HINTS[n]}" for n in names)
    raise ValidatorError(f"--strict needs {wanted}, which is not installed ({hints})")


def check_strict(backend: str, tool: str | None = None) -> tuple[str, Path]:
    """Preflight for `--strict` with this Lean backend: the tool to use, or `ValidatorError` (one line)."""
    if backend == "replay":
        raise ValidatorError("--strict needs a real Lean backend: the replay backend has no .olean to re-check")
    return require_validator(tool)


def strict_verifier(inner: ProofVerifier, project: Path, tool: str | None = None) -> LadderVerifier:
    """`inner` wrapped so that every verified proof is kernel-replayed by an installed tool (`require_validator`)."""
    name, executable = require_validator(tool)
    return LadderVerifier(inner, ToolValidator(ValidatorConfig(name, executable, project)))
