"""`prover setup` and `prover doctor` against stand-in `elan`/`lean`/`lake`/`git` executables.

The stand-ins are shell scripts put first on PATH: they record their argv and create the files the
real tools would (Mathlib's toolchain, its build cache, the REPL binary). No real Lean is involved,
and nothing here can be mistaken for it: every stand-in prints `STAND-IN`.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lean_env.setup import (
    DEFAULT_REPL_RELPATH,
    MATHLIB_BUILD_RELPATH,
    SetupError,
    default_repl_binary,
    plan_setup,
    probe_project,
    probe_toolchain,
    run_doctor,
    run_setup,
)
from prover.cli import app

runner = CliRunner()

LAKE = r"""#!/bin/sh
echo "lake $*" >> "$STANDIN_LOG"
echo "STAND-IN lake $*"
case "$1" in
  --version) echo "Lake version 5.0.0-STAND-IN (Lean version 4.19.0)"; exit 0 ;;
  update)
    mkdir -p .lake/packages/mathlib .lake/packages/REPL
    echo "${STANDIN_MATHLIB_TOOLCHAIN:-leanprover/lean4:v4.19.0}" > .lake/packages/mathlib/lean-toolchain
    exit "${STANDIN_FAIL_UPDATE:-0}" ;;
  exe)
    [ -n "$STANDIN_FAIL_CACHE" ] && { echo "cache: network down" >&2; exit "$STANDIN_FAIL_CACHE"; }
    mkdir -p .lake/packages/mathlib/.lake/build/lib && touch .lake/packages/mathlib/.lake/build/lib/Mathlib.olean
    exit 0 ;;
  build)
    [ -n "$STANDIN_NO_BINARY" ] && exit 0
    mkdir -p .lake/packages/REPL/.lake/build/bin
    printf '#!/bin/sh\necho STAND-IN repl\n' > .lake/packages/REPL/.lake/build/bin/repl
    chmod +x .lake/packages/REPL/.lake/build/bin/repl
    exit 0 ;;
esac
exit 9
"""

SIMPLE = {
    "elan": 'echo "elan $*" >> "$STANDIN_LOG"; echo "elan 4.0.0 (STAND-IN)"',
    "lean": 'echo "lean $*" >> "$STANDIN_LOG"; echo "Lean (version 4.19.0, STAND-IN)"',
    "git": 'echo "git $*" >> "$STANDIN_LOG"; echo "git version 2.0.0-STAND-IN"',
}


def _make_bin(tmp_path: Path, tools: tuple[str, ...] = ("elan", "lean", "lake", "git")) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in tools:
        script = LAKE if tool == "lake" else f"#!/bin/sh\n{SIMPLE[tool]}\n"
        path = bin_dir / tool
        path.write_text(script, encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return bin_dir


def _env(tmp_path: Path, bin_dir: Path, **extra: str) -> dict[str, str]:
    # Only the stand-ins and the basic system tools (sh, mkdir, ...) are reachable.
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "STANDIN_LOG": str(tmp_path / "argv.log"),
        "HOME": str(tmp_path),
    }
    env.update(extra)
    return env


def _argv_log(tmp_path: Path) -> list[str]:
    log = tmp_path / "argv.log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.fixture(autouse=True)
def _no_real_lean_on_system_path() -> None:
    for directory in ("/usr/bin", "/bin"):
        for tool in ("lake", "elan", "lean"):
            if Path(directory, tool).exists():
                pytest.skip(f"a real {tool} in {directory} would shadow the missing-tool cases")


def test_plan_pins_mathlib_and_repl(tmp_path: Path) -> None:
    plan = plan_setup(tmp_path / "proj", "v4.15.0")
    files = dict(plan.files)
    assert 'rev = "v4.15.0"' in files["lakefile.toml"]
    assert 'git = "https://github.com/leanprover-community/repl"' in files["lakefile.toml"]
    assert files["lakefile.toml"].count("[[require]]") == 2
    assert files["lean-toolchain"] == "leanprover/lean4:v4.15.0\n"
    assert plan.repl_rev == "v4.15.0"
    assert [s.argv for s in plan.steps] == [
        ("lake", "update"),
        ("lake", "exe", "cache", "get"),
        ("lake", "build", "repl"),
    ]
    with pytest.raises(SetupError, match="--lean-toolchain"):
        plan_setup(tmp_path / "proj", "0123abcd")
    explicit = plan_setup(tmp_path / "proj", "0123abcd", "v4.15.0", "leanprover/lean4:v4.15.0")
    assert dict(explicit.files)["lean-toolchain"] == "leanprover/lean4:v4.15.0\n"


def test_run_setup_with_stand_ins(tmp_path: Path) -> None:
    bin_dir = _make_bin(tmp_path)
    env = _env(tmp_path, bin_dir, STANDIN_MATHLIB_TOOLCHAIN="leanprover/lean4:v4.19.0-rc3")
    project = tmp_path / "proj"
    seen: list[str] = []
    result = run_setup(plan_setup(project, "v4.19.0"), env=env, on_step=lambda i, s: seen.append(s.display))
    assert seen == ["lake update", "lake exe cache get", "lake build repl"]
    assert [line for line in _argv_log(tmp_path) if line.startswith("lake")] == [
        "lake update",
        "lake exe cache get",
        "lake build repl",
    ]
    assert result.repl_binary == project.resolve() / DEFAULT_REPL_RELPATH
    assert result.repl_binary.is_file()
    # Mathlib's own toolchain wins over the one derived from the tag.
    assert (project / "lean-toolchain").read_text().strip() == "leanprover/lean4:v4.19.0-rc3"
    assert result.toolchain == "leanprover/lean4:v4.19.0-rc3"
    assert "STAND-IN lake exe cache get" in result.log_path.read_text()
    # The doctor now finds everything a real proving run needs.
    report = run_doctor(project, env=env, include_python=False)
    assert report.ready, [c for c in report.checks if not c.ok]


def test_run_setup_names_failing_step(tmp_path: Path) -> None:
    bin_dir = _make_bin(tmp_path)
    env = _env(tmp_path, bin_dir, STANDIN_FAIL_CACHE="3")
    with pytest.raises(SetupError) as info:
        run_setup(plan_setup(tmp_path / "proj", "v4.19.0"), env=env)
    assert info.value.step == "lake exe cache get" and info.value.exit_code == 3
    assert "`lake exe cache get`" in str(info.value) and "exit code 3" in str(info.value)
    assert "\n" not in str(info.value)
    assert "lake build repl" not in _argv_log(tmp_path)  # stops at the first failure
    assert "network down" in (tmp_path / "proj" / ".prover-setup.log").read_text()


def test_run_setup_without_binary_is_an_error(tmp_path: Path) -> None:
    env = _env(tmp_path, _make_bin(tmp_path), STANDIN_NO_BINARY="1")
    with pytest.raises(SetupError, match="does not exist"):
        run_setup(plan_setup(tmp_path / "proj", "v4.19.0"), env=env)


def test_run_setup_without_elan(tmp_path: Path) -> None:
    env = _env(tmp_path, _make_bin(tmp_path, ("lake", "git")))
    with pytest.raises(SetupError, match="elan-init.sh"):
        run_setup(plan_setup(tmp_path / "proj", "v4.19.0"), env=env)
    assert not (tmp_path / "proj").exists()


def test_setup_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = _make_bin(tmp_path)
    for key, value in _env(tmp_path, bin_dir).items():
        monkeypatch.setenv(key, value)
    project = tmp_path / "cli-proj"
    result = runner.invoke(app, ["setup", "--lean-project", str(project), "--mathlib-rev", "v4.18.0"])
    assert result.exit_code == 0, result.output
    assert "Lean project ready" in result.output
    assert 'rev = "v4.18.0"' in (project / "lakefile.toml").read_text()
    assert default_repl_binary(project).is_file()

    monkeypatch.setenv("STANDIN_FAIL_UPDATE", "4")
    result = runner.invoke(app, ["setup", "--lean-project", str(tmp_path / "p2")])
    assert result.exit_code == 2
    assert "error: step `lake update`" in result.output and "exit code 4" in result.output


def test_setup_cli_without_lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = _make_bin(tmp_path, ("elan", "git"))
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    result = runner.invoke(app, ["setup", "--lean-project", str(tmp_path / "p")])
    assert result.exit_code == 2
    assert "`lake` is not on PATH" in result.output and "elan-init.sh" in result.output


def test_doctor_probes_report_versions_and_fixes(tmp_path: Path) -> None:
    env = _env(tmp_path, _make_bin(tmp_path, ("elan", "git")))
    checks = {c.name: c for c in probe_toolchain(env)}
    assert checks["elan"].ok and "STAND-IN" in checks["elan"].detail
    assert not checks["lake"].ok and checks["lake"].fix is not None and "elan" in checks["lake"].fix
    assert not checks["lean"].ok

    project = tmp_path / "proj"
    project.mkdir()
    (project / "lakefile.toml").write_text('name = "x"\n')
    (project / "lean-toolchain").write_text("leanprover/lean4:v4.19.0\n")
    found = {c.name: c for c in probe_project(project)}
    assert found["Lean project"].ok and found["lean-toolchain"].detail == "leanprover/lean4:v4.19.0"
    assert not found["Mathlib built"].ok and found["Mathlib built"].fix == f"cd {project} && lake exe cache get"
    assert not found["REPL binary"].ok and "lake build repl" in (found["REPL binary"].fix or "")
    (project / MATHLIB_BUILD_RELPATH / "lib").mkdir(parents=True)
    assert {c.name: c for c in probe_project(project)}["Mathlib built"].ok


def test_doctor_cli_json_and_strict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = _make_bin(tmp_path)
    for key, value in _env(tmp_path, bin_dir).items():
        monkeypatch.setenv(key, value)
    missing = tmp_path / "nowhere"
    result = runner.invoke(app, ["doctor", "--lean-project", str(missing), "--json", "--no-python"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ready"] is False
    by_name = {c["name"]: c for c in data["checks"]}
    assert by_name["lake"]["ok"] and "STAND-IN" in by_name["lake"]["detail"]
    assert by_name["Lean project"]["fix"] == f"prover setup --lean-project {missing}"

    result = runner.invoke(app, ["doctor", "--lean-project", str(missing), "--strict", "--no-python"])
    assert result.exit_code == 1
    assert "Not ready" in result.output

    run_setup(plan_setup(tmp_path / "ok", "v4.19.0"), env=dict(os.environ))
    result = runner.invoke(app, ["doctor", "--lean-project", str(tmp_path / "ok"), "--strict", "--no-python"])
    assert result.exit_code == 0, result.output
    assert "Ready for real proving" in result.output


def test_doctor_python_checks_do_not_crash() -> None:
    report = run_doctor(Path("/nonexistent-project"), env={"PATH": "/nonexistent"})
    names = [c.name for c in report.checks]
    assert {"torch / GPU", "flash-attn", "vllm", "Ray"} <= set(names)
    assert all(c.ok or c.fix for c in report.checks)  # every missing piece names its fix
