"""The validation ladder: `--strict` kernel-replays every verified proof with lean4checker or comparator.

No `.olean` can be built here, so the tools are stand-ins that follow their documented command lines and
exit codes (tests/standins/fake_lean4checker.py, fake_comparator.py, fake_lake.py; sources cited there).
"""

from __future__ import annotations

import stat
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lean_env.checks.validate import (
    LadderVerifier,
    ToolValidator,
    ValidatorConfig,
    ValidatorError,
    find_validator,
    strict_verifier,
)
from lean_env.checks.verdict import RUNG_AXIOMS, RUNG_KERNEL, RUNG_REPLAYED, Rejected, Verdict, Verified
from lean_env.types import Theorem
from tests.cli_support import EXAMPLES, run_cli

STANDINS = Path(__file__).parent / "standins"
THEOREM = Theorem("Foo.bar", "theorem bar (n : Nat) : n + 0 = n", header="import Mathlib\n\nnamespace Foo\n")


def tool(tmp_path: Path, name: str) -> Path:
    """An executable wrapper running the stand-in for `name` (as `lake env` would run the real binary)."""
    wrapper = tmp_path / "bin" / name
    wrapper.parent.mkdir(exist_ok=True)
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STANDINS / f"fake_{name}.py"}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper


class AcceptAll:
    """The inner verifier: Lean compiled the proof and audited its axioms (rung 2)."""

    checker = "lean-repl"

    def __init__(self) -> None:
        self.closed = False

    def verify(self, theorem: Theorem, proof: str) -> Verdict:
        return Rejected("sorry", "lean-repl") if "sorry" in proof else Verified("lean-repl", ("propext",))

    def verify_file(self, original: str, new: str, names: list[str]) -> dict[str, Verdict]:
        return {n: self.verify(THEOREM, new) for n in names}

    def close(self) -> None:
        self.closed = True


def ladder(tmp_path: Path, name: str) -> LadderVerifier:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    config = ValidatorConfig(name, tool(tmp_path, name), project, lake=(sys.executable, str(STANDINS / "fake_lake.py")))
    return LadderVerifier(AcceptAll(), ToolValidator(config))


@pytest.mark.parametrize("name", ["lean4checker", "comparator"])
def test_a_verified_proof_climbs_to_kernel_replayed(tmp_path: Path, name: str) -> None:
    verdict = ladder(tmp_path, name).verify(THEOREM, "simp")
    assert isinstance(verdict, Verified) and verdict.kernel == name and verdict.rung == RUNG_KERNEL
    assert verdict.checker == f"lean-repl+{name}"  # what prove/sweep reports print
    assert verdict.axioms == ("propext",)
    written = list((tmp_path / "project" / "ProverValidate").glob("S*.lean"))
    assert len(written) == 1 and written[0].read_text().endswith("n + 0 = n := by\n  simp\n")
    if name == "lean4checker":  # compiled to the build directory lean4checker finds through `lake env`
        assert list((tmp_path / "project" / ".lake/build/lib/lean/ProverValidate").glob("S*.olean"))


@pytest.mark.parametrize("name", ["lean4checker", "comparator"])
def test_a_kernel_rejection_rejects(tmp_path: Path, name: str) -> None:
    verdict = ladder(tmp_path, name).verify(THEOREM, "simp -- standin_environment_hack")
    assert isinstance(verdict, Rejected) and "kernel replay failed" in verdict.reason
    assert f"{name} exited with 1" in verdict.reason and verdict.checker == f"lean-repl+{name}"


def test_lean4checker_needs_the_module_compiled(tmp_path: Path) -> None:
    verdict = ladder(tmp_path, "lean4checker").verify(THEOREM, "exact standin_compile_error")
    assert isinstance(verdict, Rejected) and "could not compile" in verdict.reason


def test_comparator_compares_statements_with_the_challenge(tmp_path: Path) -> None:
    lad = ladder(tmp_path, "comparator")
    original = "import Mathlib\n\ntheorem t (n : Nat) : n + 0 = n := by\n  sorry\n"
    tampered = original.replace("n + 0 = n", "n = n").replace("sorry", "rfl")
    verdicts = lad.verify_file(original, tampered, ["t"])
    assert isinstance(verdicts["t"], Rejected) and "statement mismatch" in verdicts["t"].reason
    honest = original.replace("sorry", "simp")
    assert isinstance(lad.verify_file(original, honest, ["t"])["t"], Verified)


def test_rejections_below_the_top_rung_are_not_sent_to_the_tool(tmp_path: Path) -> None:
    lad = ladder(tmp_path, "lean4checker")
    assert lad.verify(THEOREM, "sorry") == Rejected("sorry", "lean-repl")
    assert not (tmp_path / "project" / "ProverValidate").exists()
    lad.close()
    assert lad.inner.closed  # type: ignore[attr-defined]


def test_rungs() -> None:
    assert Verified("lean-repl").rung == RUNG_AXIOMS
    assert Verified("replay").rung == RUNG_REPLAYED
    assert Verified("lean-repl", kernel="lean4checker").rung == RUNG_KERNEL


def test_find_validator_and_strict(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("PROVER_LEAN4CHECKER", raising=False)
    monkeypatch.delenv("PROVER_COMPARATOR", raising=False)
    assert find_validator("lean4checker") is None
    with pytest.raises(ValidatorError, match=r"--strict needs lean4checker or comparator.*github.com/leanprover"):
        strict_verifier(AcceptAll(), tmp_path)
    monkeypatch.setenv("PROVER_COMPARATOR", str(tool(tmp_path, "comparator")))
    assert find_validator("comparator") == tmp_path / "bin" / "comparator"
    assert strict_verifier(AcceptAll(), tmp_path).validator.name == "comparator"
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    tool(tmp_path, "lean4checker")
    assert strict_verifier(AcceptAll(), tmp_path).validator.name == "lean4checker"  # the first rung tool wins
    with pytest.raises(ValueError, match="unknown validator"):
        find_validator("nanoda")


# -- the CLI: `--strict` on prove and sweep ------------------------------------------------------------------


def _cli(*args: str) -> tuple[int, str]:

    result = run_cli(list(args))
    try:
        stderr = result.stderr  # click >= 8.2 keeps stderr apart
    except ValueError:
        stderr = ""
    return result.exit_code, result.output + stderr


def _repl_project(tmp_path: Path) -> Path:
    """A Lake project with the REPL binary where `prover setup` puts it (empty stand-in files), `lake` on PATH."""
    from lean_env.backends.repl import default_repl_binary

    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "lakefile.toml").write_text('name = "p"\n')
    binary = default_repl_binary(project)
    binary.parent.mkdir(parents=True, exist_ok=True)
    binary.write_text("")
    fake_lake = tmp_path / "bin" / "lake"
    fake_lake.parent.mkdir(exist_ok=True)
    fake_lake.write_text("#!/bin/sh\nexit 0\n")
    fake_lake.chmod(0o755)
    return project


def test_make_verifier_strict(tmp_path: Path, monkeypatch: Any) -> None:
    from prover.backends import make_verifier
    from prover.config import LeanConfig

    project = _repl_project(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.delenv("PROVER_LEAN4CHECKER", raising=False)
    monkeypatch.delenv("PROVER_COMPARATOR", raising=False)
    with pytest.raises(ValidatorError, match="--strict needs a real Lean backend"):
        make_verifier(LeanConfig(backend="replay", cassette=str(EXAMPLES / "demo.cassette.jsonl"), strict=True))
    with pytest.raises(ValidatorError, match="--strict needs lean4checker or comparator"):
        make_verifier(LeanConfig(project=str(project), strict=True))
    assert not isinstance(make_verifier(LeanConfig(project=str(project))), LadderVerifier)
    tool(tmp_path, "lean4checker")
    strict = make_verifier(LeanConfig(project=str(project), strict=True))
    assert isinstance(strict, LadderVerifier) and strict.validator.name == "lean4checker"
    with pytest.raises(ValidatorError, match="--strict needs comparator"):
        make_verifier(LeanConfig(project=str(project), strict=True, validator="comparator"))


@pytest.mark.parametrize("command", ["prove", "sweep"])
def test_strict_flag_is_offered(command: str) -> None:
    code, out = _cli(command, "--help")
    assert code == 0 and "--strict" in out


def test_sweep_strict_refuses_replay_in_one_line(tmp_path: Path) -> None:
    code, out = _cli(
        "sweep", "--backend", "replay", "--cassette", str(EXAMPLES / "demo.cassette.jsonl"), "--strict",
        "--limit", "1", "--output", str(tmp_path / "r.jsonl"), "--no-progress", "--no-report",
    )  # fmt: skip
    assert code != 0 and "--strict needs a real Lean backend" in out, out
    assert not (tmp_path / "r.jsonl").exists()


def test_ladder_closes_its_inner_verifier(tmp_path: Path) -> None:
    with ladder(tmp_path, "lean4checker") as lad:
        inner = lad.inner
    assert inner.closed  # type: ignore[attr-defined]


def test_a_timeout_kills_the_tool_that_lake_started(tmp_path: Path, monkeypatch: Any) -> None:
    """`lake env lean` runs `lean` as lake's child (fake_lake.py, after Lake's `env`): a timeout that killed only
    `lake` would leave `lean` compiling with parent pid 1."""
    from tests.process_checks import gone, pid_from

    pidfile = tmp_path / "lean.pid"
    monkeypatch.setenv("FAKE_LEAN_SECONDS", "60")
    monkeypatch.setenv("FAKE_LEAN_PIDFILE", str(pidfile))
    project = tmp_path / "project"
    project.mkdir()
    config = ValidatorConfig(
        "lean4checker", tool(tmp_path, "lean4checker"), project, (sys.executable, str(STANDINS / "fake_lake.py")), 1.0
    )
    problem = ToolValidator(config).check("", THEOREM.source_with_proof("by simp"), [THEOREM.name])
    assert problem is not None and "did not finish within 1 s" in problem
    assert gone(pid_from(pidfile)), "the `lean` that `lake env` started outlived the timeout"


@pytest.mark.parametrize(
    ("lean", "build_dir"),
    [
        ("v4.17.0", ".lake/build/lib"),  # before lean4#7001
        ("v4.18.0-rc1", ".lake/build/lib/lean"),  # first release with lib/lean
        ("v4.27.0", ".lake/build/lib/lean"),
    ],
)
def test_the_compiled_module_goes_where_lake_env_finds_it(tmp_path: Path, lean: str, build_dir: str) -> None:
    """`lake env` puts the project's own build directory on `LEAN_PATH`: `.lake/build/lib` until lean4#7001 moved
    `.olean`s to `.lake/build/lib/lean` (v4.18.0-rc1); fake_lake.py sets it by the project's `lean-toolchain`."""
    verifier = ladder(tmp_path, "lean4checker")
    (tmp_path / "project" / "lean-toolchain").write_text(f"leanprover/lean4:{lean}\n")
    verdict = verifier.verify(THEOREM, "by simp")
    assert isinstance(verdict, Verified) and verdict.rung == RUNG_KERNEL, verdict
    assert list((tmp_path / "project" / build_dir / "ProverValidate").glob("S*.olean"))


def _leanchecker_on_path(tmp_path: Path) -> Path:
    """The toolchain's `leanchecker` (lean4#11887; elan proxies it): same command line as lean4checker
    (lean4 `src/LeanChecker.lean` `main`: `leanchecker <Module>`, an uncaught error exits 1)."""
    wrapper = tmp_path / "toolchain" / "leanchecker"
    wrapper.parent.mkdir(exist_ok=True)
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STANDINS / "fake_lean4checker.py"}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper.parent


def test_from_lean_4_28_the_toolchain_s_leanchecker_is_the_checker(tmp_path: Path, monkeypatch: Any) -> None:
    """At the default pin (Lean v4.32.0) lean4checker has no tag (its last is v4.29.0-rc8) and nothing needs
    installing: the toolchain ships `leanchecker`, which `lake env` runs in the project."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "lean-toolchain").write_text("leanprover/lean4:v4.32.0\n")
    monkeypatch.delenv("PROVER_LEAN4CHECKER", raising=False)
    monkeypatch.setenv("PATH", f"{_leanchecker_on_path(tmp_path)}:/usr/bin:/bin")
    verifier = strict_verifier(AcceptAll(), project)
    assert isinstance(verifier.validator, ToolValidator)
    verifier.validator.config = replace(
        verifier.validator.config, lake=(sys.executable, str(STANDINS / "fake_lake.py"))
    )
    verdict = verifier.verify(THEOREM, "by simp")
    assert isinstance(verdict, Verified) and verdict.rung == RUNG_KERNEL, verdict
    hacked = verifier.verify(THEOREM, "by simp -- standin_environment_hack")
    assert isinstance(hacked, Rejected) and "kernel replay failed" in hacked.reason


@pytest.mark.parametrize(
    ("lean", "says"),
    [
        ("v4.20.0", "git clone --branch v4.20.0 https://github.com/leanprover/lean4checker"),
        ("v4.7.0", "git clone --branch toolchain/v4.7.0 "),
        ("v4.19.0-rc1", "lean4checker has no tag for Lean v4.19.0-rc1"),
    ],
)
def test_without_a_checker_the_error_names_the_tag_for_the_project_s_lean(
    tmp_path: Path, monkeypatch: Any, lean: str, says: str
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "lean-toolchain").write_text(f"leanprover/lean4:{lean}\n")
    monkeypatch.delenv("PROVER_LEAN4CHECKER", raising=False)
    monkeypatch.setenv("PATH", f"{_leanchecker_on_path(tmp_path)}:/usr/bin:/bin")  # an elan proxy is not a checker
    with pytest.raises(ValidatorError) as info:
        strict_verifier(AcceptAll(), project, "lean4checker")
    assert says in str(info.value) and "\n" not in str(info.value)
