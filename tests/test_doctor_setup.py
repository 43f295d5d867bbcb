"""`prover setup` and `prover doctor` against stand-in `elan`/`lean`/`lake`/`git` executables.

The stand-ins are shell scripts put first on PATH: they record their argv and create the files the
real tools would (Mathlib's toolchain, its build cache, the REPL package and binary). No real Lean is
involved, and nothing here can be mistaken for it: every stand-in prints `STAND-IN`.

What they model, from upstream:
- `lean --version` answers for the toolchain named by `lean-toolchain` in the working directory, as elan's
  `lean` proxy does (elan resolves the toolchain from the directory's `lean-toolchain`), else elan's default.
  The format is Lean's `--version` line, `Lean (version 4.19.0, <platform>, commit <sha>, Release)`.
- `lake update REPL` fetches the REPL at the lakefile's `rev`; its `lean-toolchain` is the Lean that tag is
  built for: `leanprover/lean4:<tag>` for an upstream tag, `leanprover/lean4:<v>` for a fork tag
  `..._lean-toolchain-<v>` (true of every tag in leanprover-community/repl@8948401a and every v1.3.18 tag of
  augustepoiroux/repl@c38a0199).
- `git ls-remote --tags --refs URL` lists the real tag lists of ../shared/lean_fixtures/repl_versions/.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import stat
import tomllib
from pathlib import Path

import pytest
from rich.console import Console

from lean_env.errors import SetupError
from lean_env.project.lake_project import (
    DEFAULT_MATHLIB_REV,
    DEFAULT_REPL_RELPATH,
    ELAN_INSTALL,
    MATHLIB_BUILD_RELPATH,
    default_repl_binary,
    plan_setup,
    run_setup,
)
from lean_env.project.probes import find_validator, probe_project, probe_toolchain, run_doctor
from lean_env.project.repl_versions import REPL_FORK_GIT, REPL_GIT, ReplTags, lean_version_key, plan_repl
from tests.cli_support import run_cli

LAKE = r"""#!/bin/sh
echo "lake $*" >> "$STANDIN_LOG"
[ "$1" = env ] || echo "STAND-IN lake $*"  # `lake env CMD` prints only what CMD prints
case "$1" in
  --version) echo "Lake version 5.0.0-STAND-IN (Lean version 4.19.0)"; exit 0 ;;
  update)
    if [ "$2" = "REPL" ]; then
      rev=$(sed -n '/name = "REPL"/,$ s/^rev = "\(.*\)"$/\1/p' lakefile.toml)
      git=$(sed -n '/name = "REPL"/,$ s/^git = "\(.*\)"$/\1/p' lakefile.toml)
      echo "$git @ $rev" >> "$STANDIN_LOG"
      mkdir -p .lake/packages/REPL/REPL
      # The checkout's REPL/Snapshots.lean as that tag has it (tests/fixtures/repl_snapshots/TAGS.tsv; a rev
      # with no row, such as a commit, gets upstream's newest). A checkout replaces local edits.
      file=$(awk -F '\t' -v g="$git" -v r="$rev" '$1 == g && $2 == r {print $4}' "$STANDIN_REPL_SOURCES/TAGS.tsv")
      cp "$STANDIN_REPL_SOURCES/${file:-$STANDIN_REPL_NEWEST}" .lake/packages/REPL/REPL/Snapshots.lean
      built_for=${rev##*_lean-toolchain-}
      echo "${STANDIN_REPL_TOOLCHAIN:-leanprover/lean4:$built_for}" > .lake/packages/REPL/lean-toolchain
      exit 0
    fi
    grep -q 'name = "REPL"' lakefile.toml && echo "lakefile requires the REPL before Mathlib resolved" >> "$STANDIN_LOG"
    mkdir -p .lake/packages/mathlib
    echo "${STANDIN_MATHLIB_TOOLCHAIN:-$(cat lean-toolchain)}" > .lake/packages/mathlib/lean-toolchain
    exit "${STANDIN_FAIL_UPDATE:-0}" ;;
  exe)
    [ -n "$STANDIN_FAIL_CACHE" ] && { echo "cache: network down" >&2; exit "$STANDIN_FAIL_CACHE"; }
    mkdir -p .lake/packages/mathlib/.lake/build/lib && touch .lake/packages/mathlib/.lake/build/lib/Mathlib.olean
    exit 0 ;;
  build)
    grep -q "Lean.Core.getMaxHeartbeats p.coreContext.options" .lake/packages/REPL/REPL/Snapshots.lean \
      && echo "build: REPL/Snapshots.lean patched" >> "$STANDIN_LOG"
    [ -n "$STANDIN_NO_BINARY" ] && exit 0
    mkdir -p .lake/packages/REPL/.lake/build/bin
    cp "$STANDIN_REPL" .lake/packages/REPL/.lake/build/bin/repl
    chmod +x .lake/packages/REPL/.lake/build/bin/repl
    exit 0 ;;
  env) shift; "$@"; exit $? ;;  # Lake's `env` spawns CMD as its child and waits (src/lake/Lake/CLI/Actions.lean)
esac
exit 9
"""

# The REPL's loop (leanprover-community/repl REPL/Main.lean@9bd82d50: `getLines` reads up to a blank line,
# each answer is a JSON object and a blank line, end of input ends the loop). A STAND-IN: answers every
# command with a fresh environment; `$STANDIN_REPL_CRASH` makes it die at start like a REPL built for
# another Lean.
REPL = r"""#!/bin/sh
echo "repl $* (in $PWD)" >> "$STANDIN_LOG"
if [ -n "$STANDIN_REPL_CRASH" ]; then echo "$STANDIN_REPL_CRASH" >&2; exit 134; fi
[ -n "$STANDIN_REPL_HANG" ] && { echo $$ > "$STANDIN_REPL_HANG"; exec sleep 30; }
env=0; query=""
while IFS= read -r line; do
  if [ -z "$line" ]; then
    [ -n "$query" ] && { printf '{"env": %d}\n\n' "$env"; env=$((env + 1)); query=""; }
  else
    query="$query$line"
  fi
done
"""

LEAN = r"""#!/bin/sh
echo "lean $* (in $PWD)" >> "$STANDIN_LOG"
version=4.19.0
[ -f lean-toolchain ] && version=$(sed 's|^leanprover/lean4:v||' lean-toolchain)
echo "Lean (version $version, x86_64-unknown-linux-gnu, commit STAND-IN, Release)"
"""

GIT = r"""#!/bin/sh
echo "git $*" >> "$STANDIN_LOG"
if [ "$1" = "ls-remote" ]; then
  case "$4" in
    */augustepoiroux/repl) list="$STANDIN_TAGS_DIR/TAGS-lean-interact-fork.txt" ;;
    */leanprover-community/repl) list="$STANDIN_TAGS_DIR/TAGS.txt" ;;
    *) exit 2 ;;
  esac
  while read -r tag; do printf '0000000000000000000000000000000000000000\trefs/tags/%s\n' "$tag"; done < "$list"
  exit 0
fi
echo "git version 2.0.0-STAND-IN"
"""

SIMPLE = {
    "elan": 'echo "elan $*" >> "$STANDIN_LOG"; echo "elan 4.0.0 (STAND-IN)"',
}


def _make_bin(tmp_path: Path, tools: tuple[str, ...] = ("elan", "lean", "lake", "git")) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    scripts = {"lake": LAKE, "lean": LEAN, "git": GIT, "repl": REPL}
    for tool in tools:
        script = scripts.get(tool) or f"#!/bin/sh\n{SIMPLE[tool]}\n"
        path = bin_dir / tool
        path.write_text(script, encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return bin_dir


def _tags_dir() -> Path:
    from prover.paths import shared_dir

    return shared_dir() / "lean_fixtures" / "repl_versions"


def _env(tmp_path: Path, bin_dir: Path, **extra: str) -> dict[str, str]:
    # Only the stand-ins and the basic system tools (sh, mkdir, sed, ...) are reachable.
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "STANDIN_LOG": str(tmp_path / "argv.log"),
        "STANDIN_TAGS_DIR": str(_tags_dir()),
        "HOME": str(tmp_path),
        "STANDIN_REPL": str(_repl_standin(tmp_path)),
        "STANDIN_REPL_SOURCES": str(REPL_SOURCES),
        "STANDIN_REPL_NEWEST": _newest_upstream_snapshots(),
    }
    env.update(extra)
    return env


REPL_SOURCES = Path(__file__).parent / "fixtures" / "repl_snapshots"


def _newest_upstream_snapshots() -> str:
    rows = [line.split("\t") for line in (REPL_SOURCES / "TAGS.tsv").read_text().splitlines() if line[:1] != "#"]
    return next(name for repo, tag, _, name in rows if repo == REPL_GIT and tag == "v4.33.0-rc2")


def _repl_standin(tmp_path: Path) -> Path:
    path = tmp_path / "standin-repl"
    if not path.exists():
        path.write_text(REPL, encoding="utf-8")
        path.chmod(0o755)
    return path


def _argv_log(tmp_path: Path) -> list[str]:
    log = tmp_path / "argv.log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.fixture(scope="module")
def tags() -> ReplTags:
    return ReplTags.from_dir(_tags_dir())


@pytest.fixture(autouse=True)
def _no_real_lean_on_system_path() -> None:
    for directory in ("/usr/bin", "/bin"):
        for tool in ("lake", "elan", "lean"):
            if Path(directory, tool).exists():
                pytest.skip(f"a real {tool} in {directory} would shadow the missing-tool cases")


# -- the REPL revision planner against the real tag lists --------------------------

PLANNED_VERSIONS = [
    "v4.8.0",
    "v4.9.1",
    "v4.15.0",
    "v4.19.0",
    "v4.20.0",
    "v4.20.1",
    "v4.20.0-rc5",
    "v4.23.0",
    "v4.25.2",
    "v4.29.0-rc8",
    "v4.32.0",
    "v4.33.0-rc1",
    "v4.33.0-rc2",
    "v4.3.0",
    "v4.7.0",
    "v4.7.0-rc2",
    "v4.34.0",
    "v5.0.0",
    "v4.2.0",
]


def _check_plan(lean: str, tags: ReplTags) -> str:
    """Plan for `lean` and check the plan names an existing tag built for exactly that Lean (or refuses)."""
    try:
        pin = plan_repl(f"leanprover/lean4:{lean}", tags)
    except SetupError as exc:
        message = str(exc)
        assert "\n" not in message and f"Lean {lean}" in message and "nearest" in message
        assert not any(t.endswith(f"_lean-toolchain-{lean}") for t in tags.fork) and lean not in tags.upstream
        return "refused"
    assert pin.lean == lean
    if pin.git == REPL_FORK_GIT:
        assert pin.rev in tags.fork and pin.rev.endswith(f"_lean-toolchain-{lean}")
        # The newest fork release that has this Lean.
        releases = [t.partition("_lean-toolchain-")[0] for t in tags.fork if t.endswith(f"_lean-toolchain-{lean}")]
        assert pin.rev.partition("_lean-toolchain-")[0] == max(
            releases, key=lambda r: tuple(int(x) for x in r[1:].split("-")[0].split("."))
        )
        return "fork"
    assert pin.git == REPL_GIT and pin.rev == lean and pin.rev in tags.upstream
    assert not any(t.endswith(f"_lean-toolchain-{lean}") for t in tags.fork), "the fork comes first"
    return "upstream"


@pytest.mark.parametrize("lean", PLANNED_VERSIONS)
def test_every_plan_names_an_existing_tag_built_for_the_projects_lean(tags: ReplTags, lean: str) -> None:
    _check_plan(lean, tags)


def test_planner_over_every_version_either_list_knows(tags: ReplTags) -> None:
    versions = {t.partition("_lean-toolchain-")[2] for t in tags.fork if "_lean-toolchain-" in t}
    versions |= {t for t in tags.upstream if lean_version_key(t) is not None}
    outcomes = {lean: _check_plan(lean, tags) for lean in versions}
    assert set(outcomes.values()) == {"fork", "upstream"}


def test_planner_picks_the_fork_for_releases_upstream_never_tagged(tags: ReplTags) -> None:
    # Upstream has no v4.20.0, v4.20.1, v4.23.0 (TAGS.txt); lean-interact's fork v1.3.18 has them all.
    for lean in ("v4.20.0", "v4.20.1", "v4.23.0", "v4.8.0", "v4.33.0-rc1"):
        assert lean in tags.upstream or lean in ("v4.20.0", "v4.20.1", "v4.23.0")
        pin = plan_repl(lean, tags)
        assert (pin.git, pin.rev) == (REPL_FORK_GIT, f"v1.3.18_lean-toolchain-{lean}")
    # Newer than the fork's newest: upstream's own tag.
    assert plan_repl("v4.33.0-rc2", tags) == plan_repl("leanprover/lean4:v4.33.0-rc2", tags)
    assert plan_repl("v4.33.0-rc2", tags).git == REPL_GIT
    # The fork repository is the one lean-interact builds (DEFAULT_REPL_GIT_URL in src/lean_interact/utils.py).
    assert REPL_FORK_GIT == "https://github.com/augustepoiroux/repl"


def test_planner_refuses_in_one_line_naming_the_nearest_versions(tags: ReplTags) -> None:
    with pytest.raises(SetupError) as info:
        plan_repl("v4.34.0", tags)
    assert "Lean v4.34.0" in str(info.value) and "v4.33.0-rc2" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(SetupError, match=r"v4\.20\.0-rc5 and v4\.20\.0\b"):
        plan_repl("v4.20.0-rc6", tags)
    with pytest.raises(SetupError, match="not a Lean release"):
        plan_repl("leanprover/lean4:nightly-2025-01-01", tags)


def test_default_pin_is_the_repls_own_mathlib_test_pin(tags: ReplTags) -> None:
    """The REPL's own `test/Mathlib/lakefile.toml` at its v4.32.0 tag pins Mathlib v4.32.0."""
    lakefile = _tags_dir() / "v4.32.0" / "Mathlib" / "lakefile.toml"
    pinned = {r["name"]: r["rev"] for r in tomllib.loads(lakefile.read_text())["require"]}
    assert DEFAULT_MATHLIB_REV == pinned["mathlib"] == "v4.32.0"
    # It is the newest release (not an rc) upstream tags, and a REPL is planned for it.
    releases = [t for t in tags.upstream if lean_version_key(t) is not None and "-rc" not in t]
    assert max(releases, key=lambda t: lean_version_key(t) or (0,)) == DEFAULT_MATHLIB_REV
    assert plan_setup(Path("p"), tags=tags).repl is not None


def test_plan_resolves_mathlib_first_then_pins_the_repl(tmp_path: Path, tags: ReplTags) -> None:
    plan = plan_setup(tmp_path / "proj", "v4.20.0", tags=tags)
    files = dict(plan.files)
    # Phase 1 only requires Mathlib: the REPL is pinned once the project's Lean is known.
    assert 'rev = "v4.20.0"' in files["lakefile.toml"] and "REPL" not in files["lakefile.toml"]
    assert files["lean-toolchain"] == "leanprover/lean4:v4.20.0\n"
    # Upstream has no v4.20.0 tag: the old plan (`REPL @ v4.20.0`) could not exist.
    assert "v4.20.0" not in tags.upstream
    assert plan.repl is not None and (plan.repl.git, plan.repl.rev) == (REPL_FORK_GIT, "v1.3.18_lean-toolchain-v4.20.0")
    assert [s.argv for s in plan.steps] == [
        ("lake", "update"),
        ("lake", "update", "REPL"),
        ("lake", "exe", "cache", "get"),
        ("lake", "build", "repl"),
    ]
    with pytest.raises(SetupError, match="--lean-toolchain"):
        plan_setup(tmp_path / "proj", "0123abcd")
    explicit = plan_setup(tmp_path / "proj", "0123abcd", None, "leanprover/lean4:v4.15.0", tags=tags)
    assert dict(explicit.files)["lean-toolchain"] == "leanprover/lean4:v4.15.0\n"
    # A Mathlib tag whose Lean has no REPL is refused before anything is downloaded.
    with pytest.raises(SetupError, match="nearest"):
        plan_setup(tmp_path / "proj", "v4.34.0", tags=tags)


def test_run_setup_pins_the_repl_for_mathlibs_actual_toolchain(tmp_path: Path, tags: ReplTags) -> None:
    bin_dir = _make_bin(tmp_path)
    # Mathlib's tag says v4.20.0, its own lean-toolchain says v4.20.0-rc5: the REPL must be built for rc5.
    env = _env(tmp_path, bin_dir, STANDIN_MATHLIB_TOOLCHAIN="leanprover/lean4:v4.20.0-rc5")
    project = tmp_path / "proj"
    seen: list[str] = []
    plan = plan_setup(project, "v4.20.0", tags=tags)
    result = run_setup(plan, env=env, on_step=lambda i, s: seen.append(s.display), tags=tags)
    assert seen == ["lake update", "lake update REPL", "lake exe cache get", "lake build repl"]
    log = _argv_log(tmp_path)
    assert "lakefile requires the REPL before Mathlib resolved" not in log
    assert f"{REPL_FORK_GIT} @ v1.3.18_lean-toolchain-v4.20.0-rc5" in log
    assert result.repl is not None and result.repl.rev == "v1.3.18_lean-toolchain-v4.20.0-rc5"
    assert result.repl_binary == project.resolve() / DEFAULT_REPL_RELPATH
    assert result.repl_binary.is_file()
    assert (project / "lean-toolchain").read_text().strip() == "leanprover/lean4:v4.20.0-rc5"
    assert result.toolchain == "leanprover/lean4:v4.20.0-rc5"
    lakefile = tomllib.loads((project / "lakefile.toml").read_text())
    assert {r["name"]: (r["git"], r["rev"]) for r in lakefile["require"]} == {
        "mathlib": ("https://github.com/leanprover-community/mathlib4", "v4.20.0"),
        "REPL": (REPL_FORK_GIT, "v1.3.18_lean-toolchain-v4.20.0-rc5"),
    }
    assert "STAND-IN lake exe cache get" in result.log_path.read_text()
    # The doctor now finds everything a real proving run needs.
    report = run_doctor(project, env=env)
    assert report.ready, [c for c in report.probes if not c.ok]


def test_run_setup_lists_tags_with_git_when_not_given(tmp_path: Path) -> None:
    env = _env(tmp_path, _make_bin(tmp_path))
    result = run_setup(plan_setup(tmp_path / "proj", "v4.19.0"), env=env)
    assert result.repl is not None and result.repl.rev == "v1.3.18_lean-toolchain-v4.19.0"
    log = _argv_log(tmp_path)
    assert f"git ls-remote --tags --refs {REPL_GIT}" in log and f"git ls-remote --tags --refs {REPL_FORK_GIT}" in log


def test_run_setup_refuses_a_toolchain_no_repl_is_built_for(tmp_path: Path, tags: ReplTags) -> None:
    env = _env(tmp_path, _make_bin(tmp_path), STANDIN_MATHLIB_TOOLCHAIN="leanprover/lean4:v4.34.0")
    with pytest.raises(SetupError) as info:
        run_setup(plan_setup(tmp_path / "proj", "v4.32.0", tags=tags), env=env, tags=tags)
    assert "Lean v4.34.0" in str(info.value) and "v4.33.0-rc2" in str(info.value) and "\n" not in str(info.value)
    assert [line for line in _argv_log(tmp_path) if line.startswith("lake")] == ["lake update"]


def test_run_setup_never_builds_a_repl_for_another_lean(tmp_path: Path, tags: ReplTags) -> None:
    # A hand-picked revision for another Lean is refused before fetching ...
    env = _env(tmp_path, _make_bin(tmp_path))
    with pytest.raises(SetupError, match="built for Lean v4.19.0, but the project uses Lean v4.20.0"):
        run_setup(plan_setup(tmp_path / "a", "v4.20.0", "v1.3.18_lean-toolchain-v4.19.0", tags=tags), env=env)
    # ... and a fetched REPL whose lean-toolchain is not the project's is refused before building.
    env = _env(tmp_path, _make_bin(tmp_path), STANDIN_REPL_TOOLCHAIN="leanprover/lean4:v4.18.0")
    with pytest.raises(SetupError, match="written for Lean v4.18.0, but the project uses Lean v4.19.0"):
        run_setup(plan_setup(tmp_path / "b", "v4.19.0", "abc123", tags=tags), env=env, tags=tags)
    assert "lake build repl" not in _argv_log(tmp_path)


def test_run_setup_names_failing_step(tmp_path: Path, tags: ReplTags) -> None:
    bin_dir = _make_bin(tmp_path)
    env = _env(tmp_path, bin_dir, STANDIN_FAIL_CACHE="3")
    with pytest.raises(SetupError) as info:
        run_setup(plan_setup(tmp_path / "proj", "v4.19.0"), env=env, tags=tags)
    assert info.value.step == "lake exe cache get" and info.value.exit_code == 3
    assert "`lake exe cache get`" in str(info.value) and "exit code 3" in str(info.value)
    assert "\n" not in str(info.value)
    assert "lake build repl" not in _argv_log(tmp_path)  # stops at the first failure
    assert "network down" in (tmp_path / "proj" / ".prover-setup.log").read_text()


def test_run_setup_without_binary_is_an_error(tmp_path: Path, tags: ReplTags) -> None:
    env = _env(tmp_path, _make_bin(tmp_path), STANDIN_NO_BINARY="1")
    with pytest.raises(SetupError, match="does not exist"):
        run_setup(plan_setup(tmp_path / "proj", "v4.19.0"), env=env, tags=tags)


def test_run_setup_without_lake_names_elan(tmp_path: Path, tags: ReplTags) -> None:
    env = _env(tmp_path, _make_bin(tmp_path, ("elan", "git")))
    with pytest.raises(SetupError, match="elan-init.sh"):
        run_setup(plan_setup(tmp_path / "proj", "v4.19.0"), env=env, tags=tags)
    assert not (tmp_path / "proj").exists()
    # lake without elan (a system Lean) is enough to set up.
    env = _env(tmp_path, _make_bin(tmp_path, ("lake", "git", "lean")))
    assert run_setup(plan_setup(tmp_path / "proj", "v4.19.0"), env=env, tags=tags).repl_binary.is_file()


def test_setup_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = _make_bin(tmp_path)
    for key, value in _env(tmp_path, bin_dir).items():
        monkeypatch.setenv(key, value)
    project = tmp_path / "cli-proj"
    result = run_cli(["setup", "--lean-project", str(project), "--mathlib-rev", "v4.23.0"])
    assert result.exit_code == 0, result.output
    assert "Lean project ready" in result.output and "v1.3.18_lean-toolchain-v4.23.0" in result.output
    assert 'rev = "v4.23.0"' in (project / "lakefile.toml").read_text()
    assert default_repl_binary(project).is_file()

    # Offline tag lists, and a Mathlib newer than any REPL: one line, exit 2, nothing run.
    before = len(_argv_log(tmp_path))
    result = run_cli(
        ["setup", "--lean-project", str(tmp_path / "p3"), "--mathlib-rev", "v4.34.0", "--repl-tags", str(_tags_dir())],
    )
    assert result.exit_code == 2 and "nearest" in result.output and "v4.33.0-rc2" in result.output
    assert not [line for line in _argv_log(tmp_path)[before:] if line.startswith("lake")]

    monkeypatch.setenv("STANDIN_FAIL_UPDATE", "4")
    result = run_cli(["setup", "--lean-project", str(tmp_path / "p2")])
    assert result.exit_code == 2
    assert "error: step `lake update`" in result.output and "exit code 4" in result.output


def test_setup_cli_without_lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = _make_bin(tmp_path, ("elan", "git"))
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    result = run_cli(["setup", "--lean-project", str(tmp_path / "p")])
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


def _set_up(tmp_path: Path, tags: ReplTags, rev: str = "v4.32.0", **extra: str) -> tuple[Path, dict[str, str]]:
    env = _env(tmp_path, _make_bin(tmp_path), **extra)
    project = tmp_path / "proj"
    run_setup(plan_setup(project, rev, tags=tags), env=env, tags=tags)
    # Mathlib's real manifest for v4.32.0 (the REPL's own Mathlib test project), as `lake update` writes it.
    manifest = _tags_dir() / "v4.32.0" / "Mathlib" / "lake-manifest.json"
    (project / "lake-manifest.json").write_text(manifest.read_text())
    return project, env


def test_doctor_runs_lean_and_lake_in_the_project(tmp_path: Path, tags: ReplTags) -> None:
    """elan's `lean` answers for the toolchain of the directory it runs in."""
    project, env = _set_up(tmp_path, tags)
    outside = {c.name: c for c in probe_toolchain(env)}
    assert "version 4.19.0" in outside["lean"].detail  # elan's default toolchain
    inside = {c.name: c for c in probe_toolchain(env, project)}
    assert "version 4.32.0" in inside["lean"].detail and str(project) in inside["lean"].detail
    assert any(line.startswith("lean --version (in ") and str(project) in line for line in _argv_log(tmp_path))
    versions = {c.name: c for c in run_doctor(project, env=env).probes}["Lean versions"]
    assert versions.ok, versions
    assert versions.detail.count("v4.32.0") == 5 and "Mathlib rev v4.32.0" in versions.detail


def test_doctor_does_not_demand_elan_when_lake_is_on_path(tmp_path: Path, tags: ReplTags) -> None:
    project, _ = _set_up(tmp_path, tags)
    env = _env(tmp_path, _make_bin(tmp_path / "no-elan", ("lake", "lean", "git")))
    report = run_doctor(project, env=env)
    elan = {c.name: c for c in report.probes}["elan"]
    assert not elan.ok and not elan.required and "not needed" in elan.detail
    assert report.ready, report.missing_required
    # Without lake, elan is how to get it.
    env = _env(tmp_path, _make_bin(tmp_path / "nothing", ("git",)))
    checks = {c.name: c for c in run_doctor(project, env=env).probes}
    assert checks["elan"].required and checks["lake"].fix is not None and "elan-init.sh" in checks["lake"].fix


def test_doctor_reports_a_repl_built_for_another_lean_with_the_fix(tmp_path: Path, tags: ReplTags) -> None:
    project, env = _set_up(tmp_path, tags)
    (project / ".lake/packages/REPL/lean-toolchain").write_text("leanprover/lean4:v4.31.0\n")
    report = run_doctor(project, env=env)
    versions = {c.name: c for c in report.probes}["Lean versions"]
    assert not versions.ok and versions.required and not report.ready
    assert "REPL v4.31.0" in versions.detail and "lean-toolchain v4.32.0" in versions.detail
    assert (
        versions.fix
        == f"rebuild the REPL for Lean v4.32.0: prover setup --lean-project {project} --mathlib-rev v4.32.0"
    )


def test_doctor_reports_mathlib_on_another_toolchain(tmp_path: Path, tags: ReplTags) -> None:
    project, env = _set_up(tmp_path, tags)
    (project / ".lake/packages/mathlib/lean-toolchain").write_text("leanprover/lean4:v4.32.0-rc1\n")
    versions = {c.name: c for c in run_doctor(project, env=env).probes}["Lean versions"]
    assert not versions.ok and "Mathlib v4.32.0-rc1" in versions.detail
    assert versions.fix is not None and versions.fix.startswith(f"cp {project}/.lake/packages/mathlib/lean-toolchain")


def test_doctor_validator_rows(tmp_path: Path, tags: ReplTags) -> None:
    """Each row's fix is one a user can follow for the project's Lean. At the default pin (v4.32.0) lean4checker
    has no tag (its last is v4.29.0-rc8, lean_env/data/lean4checker_tags.txt) and none is needed: the toolchain
    ships `leanchecker` from v4.28.0-rc1 (lean4#11887)."""
    project, env = _set_up(tmp_path, tags)
    checks = {c.name: c for c in run_doctor(project, env=env).probes}
    assert checks["lean4checker"].ok and "leanchecker" in checks["lean4checker"].detail
    assert not checks["comparator"].ok and not checks["comparator"].required
    fix = checks["comparator"].fix
    assert fix is not None and "github.com/leanprover/comparator" in fix and "--validator comparator" in fix
    (project / "lean-toolchain").write_text("leanprover/lean4:v4.20.0\n")
    older = {c.name: c for c in run_doctor(project, env=env).probes}["lean4checker"]
    assert not older.ok and older.fix is not None
    assert older.fix.startswith("git clone --branch v4.20.0 https://github.com/leanprover/lean4checker")
    built = project / ".lake" / "build" / "bin" / "lean4checker"
    built.parent.mkdir(parents=True)
    built.write_text("#!/bin/sh\nexit 0\n")
    built.chmod(0o755)
    assert find_validator("lean4checker", project, env) == built
    assert find_validator("comparator", project, env) is None
    assert {c.name: c for c in run_doctor(project, env=env).probes}["lean4checker"].ok


def test_setup_with_comparator_declares_the_lib_comparator_builds(tmp_path: Path, tags: ReplTags) -> None:
    """comparator builds the challenge and solution modules with `lake` (README@04398414: each in a
    `[[lean_lib]]`); `prover setup --validator comparator` declares `ProverValidate` and its submodules, and
    doctor's comparator row sees it."""
    env = _env(tmp_path, _make_bin(tmp_path))
    project = tmp_path / "proj"
    run_setup(plan_setup(project, "v4.32.0", tags=tags, validator="comparator"), env=env, tags=tags)
    lakefile = tomllib.loads((project / "lakefile.toml").read_text())
    assert lakefile["lean_lib"] == [{"name": "ProverValidate", "globs": ["ProverValidate.+"]}]
    assert {r["name"] for r in lakefile["require"]} == {"mathlib", "REPL"}
    comparator = tmp_path / "bin" / "comparator"
    comparator.write_text("#!/bin/sh\nexit 0\n")
    comparator.chmod(0o755)
    assert {c.name: c for c in run_doctor(project, env=env).probes}["comparator"].ok
    plain = tmp_path / "plain"
    run_setup(plan_setup(plain, "v4.32.0", tags=tags), env=env, tags=tags)
    row = {c.name: c for c in run_doctor(plain, env=env).probes}["comparator"]
    assert not row.ok and row.fix == f"prover setup --lean-project {plain} --validator comparator"
    with pytest.raises(SetupError, match="unknown --validator"):
        plan_setup(tmp_path / "x", "v4.32.0", tags=tags, validator="nanoda")


def test_doctor_table_reads_well_in_80_columns(tmp_path: Path) -> None:
    from prover.commands.doctor import render_report

    env = _env(tmp_path, _make_bin(tmp_path, ("git",)))
    report = run_doctor(tmp_path / "a-rather-long-project-directory-name" / "nested" / "deeper", env=env)
    buffer = io.StringIO()
    render_report(report, Console(width=80, file=buffer, force_terminal=False, color_system=None))
    text = buffer.getvalue()
    lines = text.splitlines()
    # Every fix is printed whole on one line, URLs intact (today's fix column wrapped them a character a line).
    assert ELAN_INSTALL in lines or any(line.endswith(ELAN_INSTALL) for line in lines)
    assert any("https://github.com/leanprover/lean4checker" in line for line in lines)
    table = lines[: lines.index("How to fix:")]
    assert all(len(line) <= 80 for line in table), max(table, key=len)
    cells = [cell.strip() for line in table for cell in line.split("│")[1:-1]]
    assert not [c for c in cells if len(c) == 1 and c not in "-"], "a column one character wide"


def test_doctor_cli_json_and_strict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = _make_bin(tmp_path)
    for key, value in _env(tmp_path, bin_dir).items():
        monkeypatch.setenv(key, value)
    missing = tmp_path / "nowhere"
    result = run_cli(["doctor", "--lean-project", str(missing), "--json", "--no-python"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ready"] is False
    by_name = {c["name"]: c for c in data["checks"]}
    assert by_name["lake"]["ok"] and "STAND-IN" in by_name["lake"]["detail"]
    assert by_name["Lean project"]["fix"] == f"prover setup --lean-project {missing}"

    result = run_cli(["doctor", "--lean-project", str(missing), "--strict", "--no-python"])
    assert result.exit_code == 1
    assert "Not ready" in result.output

    run_setup(plan_setup(tmp_path / "ok", "v4.19.0"), env=dict(os.environ))
    result = run_cli(["doctor", "--lean-project", str(tmp_path / "ok"), "--strict", "--no-python"])
    assert result.exit_code == 0, result.output
    assert "Ready for real proving" in result.output


def test_doctor_python_checks_do_not_crash() -> None:
    from prover.doctor import probe_python

    report = run_doctor(Path("/nonexistent-project"), env={"PATH": "/nonexistent"}, extra=probe_python())
    names = [c.name for c in report.probes]
    assert {"torch / GPU", "flash-attn", "vllm", "Ray"} <= set(names)
    assert all(c.ok or c.fix for c in report.probes)  # every missing piece names its fix


# -- found by trying set-up and doctor as a new user ----------------------------------------


def test_setup_refuses_a_lakefile_toml_it_did_not_write(tmp_path: Path, tags: ReplTags) -> None:
    """`prover setup --lean-project ~/my-project` must not overwrite the user's own `lakefile.toml`
    (nor its `lean-toolchain`); re-running set-up on a project it made stays allowed."""
    env = _env(tmp_path, _make_bin(tmp_path))
    mine = tmp_path / "mine"
    mine.mkdir()
    own = 'name = "my_math"\n\n[[require]]\nname = "mathlib"\ngit = "https://example.org/mathlib4"\n'
    (mine / "lakefile.toml").write_text(own)
    (mine / "lean-toolchain").write_text("leanprover/lean4:v4.20.0\n")
    with pytest.raises(SetupError, match="lakefile.toml that `prover setup` did not write") as info:
        plan_setup(mine, "v4.32.0", tags=tags)
    assert "\n" not in str(info.value)
    with pytest.raises(SetupError, match="did not write"):  # a plan made before the file appeared
        run_setup(dataclasses.replace(plan_setup(tmp_path / "other", "v4.32.0", tags=tags), project=mine), env=env)
    assert (mine / "lakefile.toml").read_text() == own
    assert (mine / "lean-toolchain").read_text() == "leanprover/lean4:v4.20.0\n"
    assert not [line for line in _argv_log(tmp_path) if line.startswith("lake")]
    # Its own project: set-up runs again (the doctor's fixes say to).
    project = tmp_path / "proj"
    run_setup(plan_setup(project, "v4.32.0", tags=tags), env=env, tags=tags)
    assert run_setup(plan_setup(project, "v4.32.0", tags=tags), env=env, tags=tags).repl_binary.is_file()


def test_setup_cli_checks_its_arguments_before_running_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wrong arguments are refused before the banner and before `lake update` (minutes of downloads):
    a `--repl-rev` built for another Lean than the Mathlib tag's, an empty `--mathlib-rev`, a file as project."""
    bin_dir = _make_bin(tmp_path)
    for key, value in _env(tmp_path, bin_dir).items():
        monkeypatch.setenv(key, value)
    tags_dir = str(_tags_dir())
    cases = {
        "is built for Lean v4.19.0, but the project uses Lean v4.32.0": ["--repl-rev", "v4.19.0"],
        "--mathlib-rev must not be empty": ["--mathlib-rev", ""],
        "is built for Lean v4.31.0": ["--repl-rev", "v1.3.18_lean-toolchain-v4.31.0"],
    }
    for expected, extra in cases.items():
        result = run_cli(["setup", "--lean-project", str(tmp_path / "p"), "--repl-tags", tags_dir, *extra])
        assert result.exit_code == 2, (extra, result.output)
        assert expected in result.output and "Setting up" not in result.output, (extra, result.output)
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    result = run_cli(["setup", "--lean-project", str(a_file), "--repl-tags", tags_dir])
    assert result.exit_code == 2 and "is not a directory" in result.output and "Setting up" not in result.output
    assert not [line for line in _argv_log(tmp_path) if line.startswith("lake")]
    # A --repl-rev that fits is what the banner names (not "pinned after Mathlib resolves").
    result = run_cli(
        ["setup", "--lean-project", str(tmp_path / "forced"), "--repl-tags", tags_dir, "--repl-rev", "v4.32.0"]
    )
    assert result.exit_code == 0 and "REPL v4.32.0 (--repl-rev)" in result.output, result.output
    assert not (tmp_path / "p").exists()


def test_offline_tag_listing_names_the_offline_option(tmp_path: Path) -> None:
    """Without network `git ls-remote` fails; the one line says how to set up offline (`--repl-tags`)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").write_text("#!/bin/sh\necho 'fatal: unable to access' >&2\nexit 128\n")
    (bin_dir / "git").chmod(0o755)
    from lean_env.project.repl_versions import fetch_repl_tags

    with pytest.raises(SetupError) as info:
        fetch_repl_tags({"PATH": f"{bin_dir}:/usr/bin:/bin"})
    assert "--repl-tags" in str(info.value) and "TAGS.txt" in str(info.value)


def test_elan_fix_configures_the_current_shell() -> None:
    """elan's installer only edits the shell profiles; the running shell gets `lake` from
    `source $ELAN_HOME/env` (leanprover/elan src/elan-cli/self_update.rs@00967322: `install` writes
    `$ELAN_HOME/env`, and `post_install_msg_unix` says "To configure your current shell run
    `source {elan_home}/env`"). A fix chained with `&& prover setup` must therefore source it first."""
    assert ELAN_INSTALL.startswith("curl https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh")
    assert ELAN_INSTALL.endswith('&& . "$HOME/.elan/env"')


def _render(report: object, width: int = 80) -> list[str]:
    from prover.commands.doctor import render_report

    buffer = io.StringIO()
    render_report(report, Console(width=width, file=buffer, force_terminal=False, color_system=None))  # type: ignore[arg-type]
    return buffer.getvalue().splitlines()


def test_doctor_table_names_mismatches_and_separates_optional_fixes(tmp_path: Path, tags: ReplTags) -> None:
    """A version mismatch is not "missing"; the same fix (elan for lean, lake and elan) is printed once;
    fixes for optional pieces are apart from the ones real proving needs; paths inside the project are
    shown relative to it so they do not fold a character onto the next line in 80 columns."""
    project, env = _set_up(tmp_path, tags)
    (project / ".lake/packages/REPL/lean-toolchain").write_text("leanprover/lean4:v4.31.0\n")
    lines = _render(run_doctor(project, env=env))
    versions = next(line for line in lines if line.startswith("│ Lean versions"))
    assert "mismatch" in versions.split("│")[2], versions
    table = lines[: lines.index("How to fix:")]
    assert any("│ .lake/packages/REPL/.lake/build/bin/repl" in line for line in table), "\n".join(table)
    cells = [cell.strip() for line in table for cell in line.split("│")[1:-1]]
    assert not [c for c in cells if len(c) == 1 and c not in "-"], "a path folded one character a line"
    optional = lines.index("Optional (not needed for proving):")
    assert lines.index("How to fix:") < optional
    assert any("Lean versions:" in line for line in lines[lines.index("How to fix:") : optional])
    assert any("comparator:" in line for line in lines[optional:])

    nothing = _env(tmp_path, _make_bin(tmp_path / "nothing", ("git",)))
    lines = _render(run_doctor(project, env=nothing))
    elan_lines = [line for line in lines if ELAN_INSTALL in line]
    assert len(elan_lines) == 1 and elan_lines[0].strip().startswith("lean, lake, elan:"), elan_lines


def test_doctor_torch_fix_reinstalls_a_cpu_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a CPU build of torch installed, `pip install torch --index-url …` is a no-op ("Requirement already
    satisfied"): the fix must force the reinstall. A CUDA build that sees no GPU needs no reinstall."""
    torch = pytest.importorskip("torch")
    from prover.doctor import probe_torch_gpu

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", None)
    check = probe_torch_gpu()
    assert not check.ok and "CPU-only build" in check.detail
    assert check.fix is not None and "--force-reinstall" in check.fix and "cu124" not in check.fix
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    check = probe_torch_gpu()
    assert not check.ok and "CUDA 12.8" in check.detail
    assert check.fix is not None and "pip" not in check.fix and "nvidia-smi" in check.fix


def test_doctor_fixes_for_a_users_own_project_never_say_prover_setup(tmp_path: Path, tags: ReplTags) -> None:
    """A Mathlib project of the user's (its own lakefile) without the REPL: `lake build repl` has no such target
    there and `prover setup` refuses the directory, so the fix says how to require the REPL built for the
    project's Lean; a Lean-version mismatch there is fixed in its own lakefile too."""
    env = _env(tmp_path, _make_bin(tmp_path))
    project = tmp_path / "mine"
    (project / MATHLIB_BUILD_RELPATH / "lib").mkdir(parents=True)
    (project / ".lake/packages/mathlib/lean-toolchain").write_text("leanprover/lean4:v4.20.0\n")
    (project / "lean-toolchain").write_text("leanprover/lean4:v4.20.0\n")
    (project / "lakefile.lean").write_text('import Lake\nopen Lake DSL\npackage mine\nrequire mathlib from git "x"\n')
    checks = {c.name: c for c in run_doctor(project, env=env).probes}
    fix = checks["REPL binary"].fix or ""
    assert not checks["REPL binary"].ok and "prover setup" not in fix and "lake build repl" in fix
    assert 'require REPL from git "https://github.com/augustepoiroux/repl" @ "' in fix
    assert "_lean-toolchain-v4.20.0" in fix and "git ls-remote --tags" in fix
    from lean_env.project.lake_project import repl_binary_fix  # the same fix for the REPL backend's own start error

    assert repl_binary_fix(project) == fix
    with pytest.raises(SetupError):  # what the fix must not send the user to
        plan_setup(project, "v4.20.0", tags=tags)

    (project / "lakefile.lean").unlink()
    (project / "lakefile.toml").write_text('name = "mine"\n')
    fix = {c.name: c for c in run_doctor(project, env=env).probes}["REPL binary"].fix or ""
    assert '[[require]]\\nname = "REPL"' not in fix and 'name = "REPL"' in fix and "prover setup" not in fix

    # The REPL is required and fetched but not built: building it is the fix.
    (project / ".lake/packages/REPL").mkdir(parents=True)
    (project / ".lake/packages/REPL/lean-toolchain").write_text("leanprover/lean4:v4.19.0\n")
    checks = {c.name: c for c in run_doctor(project, env=env).probes}
    assert checks["REPL binary"].fix == f"cd {project} && lake build repl"
    versions = checks["Lean versions"]
    assert not versions.ok and "REPL v4.19.0" in versions.detail
    assert versions.fix is not None and "prover setup" not in versions.fix and "_lean-toolchain-v4.20.0" in versions.fix


def test_doctor_starts_the_repl_as_the_backend_does(tmp_path: Path, tags: ReplTags) -> None:
    """Files can agree while the binary cannot start (built against other .oleans, a broken toolchain): the
    doctor runs `lake env <repl>` in the project, sends one command without imports and reads the answer."""
    project, env = _set_up(tmp_path, tags)
    report = run_doctor(project, env=env)
    starts = {c.name: c for c in report.probes}["REPL starts"]
    assert starts.ok and "env" in starts.detail and report.ready, starts
    assert any(line.startswith(f"repl  (in {project})") for line in _argv_log(tmp_path))

    crash = {**env, "STANDIN_REPL_CRASH": "libc++abi: terminating: incompatible .olean version"}
    report = run_doctor(project, env=crash)
    starts = {c.name: c for c in report.probes}["REPL starts"]
    assert not starts.ok and starts.required and not report.ready
    assert "exited with code 134" in starts.detail and "incompatible .olean version" in starts.detail
    assert starts.fix is not None and f"cd {project} && lake build repl" in starts.fix
    lines = _render(report)
    assert any(line.startswith("│ REPL starts") and "missing" not in line for line in lines)

    # Nothing to start (no lake, no binary): the other rows already say so; no second row about it.
    nothing = _env(tmp_path, _make_bin(tmp_path / "nothing", ("git",)))
    assert "REPL starts" not in {c.name for c in run_doctor(project, env=nothing).probes}


def test_doctor_repl_probe_that_hangs_is_a_failed_row(
    tmp_path: Path, tags: ReplTags, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lean_env.project.probes as probes_module

    project, env = _set_up(tmp_path, tags)
    monkeypatch.setattr(probes_module, "REPL_PROBE_TIMEOUT_S", 1.0)
    from tests.process_checks import gone, pid_from

    pidfile = tmp_path / "repl.pid"
    starts = {c.name: c for c in run_doctor(project, env={**env, "STANDIN_REPL_HANG": str(pidfile)}).probes}
    assert not starts["REPL starts"].ok and "no answer within 1 s" in starts["REPL starts"].detail
    # `lake env <repl>` runs the REPL as lake's child: the timeout kills it too, not just `lake`.
    assert gone(pid_from(pidfile)), "the REPL that `lake env` started outlived the probe's timeout"


def test_setup_cli_interrupted_says_how_to_finish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C during a long step (`lake update` downloads Mathlib): exit 130 and one line saying that running the
    same command again finishes (the project's lakefile is set-up's own, so set-up accepts it again)."""
    import lean_env.project.lake_project as setup_module

    for key, value in _env(tmp_path, _make_bin(tmp_path)).items():
        monkeypatch.setenv(key, value)
    real_run_setup = setup_module.run_setup

    def interrupted(plan: object, **kwargs: object) -> object:
        def runner(step: object, *args: object) -> int:
            raise KeyboardInterrupt

        return real_run_setup(plan, **{**kwargs, "runner": runner})  # type: ignore[arg-type]

    monkeypatch.setattr(setup_module, "run_setup", interrupted)
    project = tmp_path / "p"
    args = ["setup", "--lean-project", str(project), "--repl-tags", str(_tags_dir())]
    result = run_cli(args)
    assert result.exit_code == 130, result.output
    assert "interrupted" in result.output and "run the same command again" in result.output
    monkeypatch.setattr(setup_module, "run_setup", real_run_setup)
    assert run_cli(args).exit_code == 0 and default_repl_binary(project).is_file()


def test_doctor_on_a_file_as_project_does_not_say_it_is_missing(tmp_path: Path) -> None:
    """`prover doctor --lean-project FILE`: not "does not exist", and not a `prover setup` set-up refuses."""
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    check = {c.name: c for c in probe_project(a_file)}["Lean project"]
    assert not check.ok and "is a file, not a directory" in check.detail
    assert check.fix is not None and f"--lean-project {a_file}" not in check.fix
    with pytest.raises(SetupError, match="not a directory"):
        plan_setup(a_file, "v4.32.0")


def test_probes_share_one_capture_that_never_reads_the_terminal() -> None:
    """`git ls-remote`, `--version` and the REPL probe run through one `capture`: stdin is the probe's request or
    nothing (a probe that reads stdin gets EOF at once instead of waiting on the user's terminal)."""
    import sys

    from lean_env.project.tools import capture

    echo = [sys.executable, "-c", "import sys; print(repr(sys.stdin.read()))"]
    assert capture(echo, 30, None).stdout.strip() == "''"
    assert capture(echo, 30, None, stdin_text='{"cmd": "def x := 1"}\n\n').stdout.strip() == repr(
        '{"cmd": "def x := 1"}\n\n'
    )


def test_setup_patches_the_repl_before_building_it(tmp_path: Path, tags: ReplTags) -> None:
    """`lake update REPL` checks out the pinned tag's source (the stand-in copies that tag's REPL/Snapshots.lean);
    set-up applies lean_env/data/repl_patches/ before `lake build repl`, and doctor says so. Running set-up again
    finds it applied; a checkout without it is a row with the fix."""
    env = _env(tmp_path, _make_bin(tmp_path))
    project = tmp_path / "proj"
    result = run_setup(plan_setup(project, "v4.32.0", tags=tags), env=env, tags=tags)
    assert result.patches == ("snapshots-maxheartbeats",)
    log = _argv_log(tmp_path)
    assert "build: REPL/Snapshots.lean patched" in log  # what `lake build repl` found in the checkout
    assert "snapshots-maxheartbeats" in (project / ".prover-setup.log").read_text()
    rows = {c.name: c for c in run_doctor(project, env=env).probes}
    assert rows["REPL patches"].ok
    again = run_setup(plan_setup(project, "v4.32.0", tags=tags), env=env, tags=tags)
    assert again.patches == ("snapshots-maxheartbeats",)  # `lake update REPL` checked the source out again
    snapshots = project / ".lake/packages/REPL/REPL/Snapshots.lean"
    snapshots.write_text((REPL_SOURCES / _newest_upstream_snapshots()).read_text())
    row = {c.name: c for c in run_doctor(project, env=env).probes}["REPL patches"]
    assert not row.ok and not row.required and row.fix == f"prover setup --lean-project {project}"


def test_setup_refuses_a_repl_the_patch_does_not_fit(tmp_path: Path, tags: ReplTags) -> None:
    env = _env(tmp_path, _make_bin(tmp_path))
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "TAGS.tsv").write_text("")
    (odd / "moved.lean").write_text("def runCoreM := 1\n")
    env = {**env, "STANDIN_REPL_SOURCES": str(odd), "STANDIN_REPL_NEWEST": "moved.lean"}
    with pytest.raises(SetupError, match="hunk 1 .* does not match REPL/Snapshots.lean; the REPL at .* differs"):
        run_setup(plan_setup(tmp_path / "proj", "v4.32.0", tags=tags), env=env, tags=tags)
    assert not any(line.startswith("lake build") for line in _argv_log(tmp_path))


def test_a_folder_without_lakefile_is_sent_to_prover_setup(tmp_path: Path) -> None:
    """doctor listed lakefile fixes for a folder that has no lakefile; its one fix is `prover setup`."""
    from lean_env.project.lake_project import repl_binary_fix

    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "Scratch.lean").write_text("theorem t : True := trivial\n")
    fix = repl_binary_fix(folder)
    assert fix.startswith(f"{folder} has no lakefile") and f"prover setup --lean-project {folder}" in fix
    assert "require" not in fix and "ls-remote" not in fix


def test_the_tag_hint_greps_a_pattern_that_matches_a_fork_tag(tmp_path: Path) -> None:
    """The hint grepped `lean-toolchain-$` when the Lean version was unknown: no tag ends that way."""
    import re
    import shlex

    from lean_env.project.lake_project import require_repl_fix

    project = tmp_path / "mine"
    project.mkdir()
    (project / "lakefile.lean").write_text("import Lake\n")
    # `git ls-remote --tags` lines of the fork, an annotated tag listed twice (the second peeled).
    listing = [
        "0123\trefs/tags/v1.3.18_lean-toolchain-v4.20.0",
        "4567\trefs/tags/v1.3.18_lean-toolchain-v4.20.0^{}",
        "89ab\trefs/tags/v1.3.18_lean-toolchain-v4.19.0",
    ]
    for lean, expected in ((None, 3), ("v4.20.0", 1)):
        fix = require_repl_fix(project, lean)
        grep = re.search(r"\| grep ([^`]+)`", fix)
        assert grep is not None, fix
        pattern = shlex.split(grep.group(1))[0]
        assert len([line for line in listing if re.search(pattern, line)]) == expected, (pattern, fix)
