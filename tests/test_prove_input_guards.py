"""`prover prove` and the config loader on bad input, each case from a reproduction a user ran: bad input is one
line and exit 2, before any search; nothing is lost."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from prover.config import ConfigError, load_config
from tests.cli_support import DEMO, EXAMPLES, run_cli
from tests.cli_support import DEMO_CASSETTE as CASSETTE


def run(*args: str) -> tuple[int, str]:
    result = run_cli(list(args))
    return result.exit_code, result.output


def replay_args(path: Path | str, *extra: str) -> list[str]:
    return ["prove", str(path), "--backend", "replay", "--cassette", str(CASSETTE), "--generator", "fixed", *extra]


def one_error_line(out: str) -> str:
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), out
    return lines[0]


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    target = tmp_path / "demo.lean"
    shutil.copy(DEMO, target)
    return target


# a config path naming a directory is one line, for every command that takes --config.
@pytest.mark.parametrize("command", [["prove", str(DEMO)], ["suggest", str(DEMO)], ["doctor"], ["serve"]])
def test_config_directory_is_one_line_rc2(command: list[str], tmp_path: Path) -> None:
    code, out = run(*command, "--config", str(tmp_path))
    assert code == 2, out
    assert "is a directory" in one_error_line(out)


# a flag's bad value is the command line's, not "(defaults)".
@pytest.mark.parametrize(
    ("flags", "key"),
    [
        (["--backend", "bogus", "-g", "fixed"], "lean.backend"),
        (["-g", "bogus"], "generator.kind"),
        (["-k", "0"], "search.num_tactics"),
        (["--time-limit", "-1"], "search.time_s"),
        (["--max-expansions", "0"], "search.max_expansions"),
    ],
)
def test_flag_value_error_names_the_command_line(flags: list[str], key: str) -> None:
    code, out = run("prove", str(DEMO), *flags)
    assert code == 2, out
    line = one_error_line(out)
    assert "(command line)" in line and key in line and "(defaults)" not in line


def test_config_file_value_error_still_names_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[lean]\nbackend = "bogus"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"c\.toml: lean\.backend"):
        load_config(cfg, {"lean": {"cassette": "x"}})


# relative paths in a config file are relative to the file's folder, not the current directory.
def test_config_relative_paths_resolve_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(EXAMPLES / "skeleton.toml")
    assert cfg.lean.cassette == str(EXAMPLES / "skeleton.cassette.jsonl")
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "c.toml").write_text(
        '[lean]\ncassette = "sub/c.jsonl"\nproject = "~/p"\nrepl_binary = "/abs/repl"\n'
        '[generator]\nmodel = "org/name"\n',
        encoding="utf-8",
    )
    cfg = load_config(folder / "c.toml", {"lean": {"project": "flag/relative"}})
    assert cfg.lean.cassette == str(folder / "sub/c.jsonl")
    assert cfg.lean.project == "flag/relative"  # a flag stays relative to the current directory
    assert cfg.lean.repl_binary == "/abs/repl"
    assert cfg.generator.model == "org/name"  # a hub id, not a path there


def test_skeleton_config_runs_from_another_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "skeleton.lean"
    shutil.copy(EXAMPLES / "skeleton.lean", target)
    monkeypatch.chdir(tmp_path)
    code, out = run("prove", str(target), "--config", str(EXAMPLES / "skeleton.toml"))
    assert code == 0, out


# a theorem whose statement differs from the cassette's is a failed start, before any search.
def test_replay_start_refuses_a_theorem_with_another_statement(tmp_path: Path) -> None:
    import json

    path = tmp_path / "f.lean"
    path.write_text(
        "import Mathlib\n\ntheorem mathd_algebra_182 (y : ℂ) : 7 * (3 * y + 2) = 21 * y + 15 := by\n  sorry\n",
        encoding="utf-8",
    )
    report = tmp_path / "r.json"
    code, _ = run(*replay_args(path, "-r", str(report)))
    assert code == 1
    (entry,) = json.loads(report.read_text(encoding="utf-8"))["theorems"]
    assert entry["status"] == "failed_start" and "another statement" in entry["message"]
    assert entry["stats"].get("expansions", 0) == 0 and entry["proof"] is None


# output paths are checked before any search, one line, rc 2.
@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--tree-dir", "/proc/nope"], "--tree-dir /proc/nope: cannot create or write there"),
        (["-r", "/proc/r.json"], "--report /proc/r.json: cannot write in /proc"),
        (["-r", "/tmp"], "--report /tmp is a directory"),
    ],
)
def test_unwritable_outputs_are_refused_before_the_search(
    flags: list[str], needle: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import prover.prove

    def no_search(*args: object, **kwargs: object) -> None:
        raise AssertionError("searched before checking the output paths")

    monkeypatch.setattr(prover.prove, "prove_file", no_search)
    code, out = run(*replay_args(DEMO, *flags))
    assert code == 2, out
    assert needle in one_error_line(out)


# a directory given as FILE.
def test_a_directory_as_file_says_so(tmp_path: Path) -> None:
    code, out = run(*replay_args(tmp_path))
    assert code == 2 and "is a directory" in one_error_line(out)


# an unknown --template is refused whatever the generator.
def test_unknown_template_is_refused_with_the_fixed_generator() -> None:
    code, out = run(*replay_args(DEMO, "--template", "bogus"))
    assert code == 2 and "unknown template 'bogus'" in one_error_line(out)


# a local model path that does not exist is one clean line (no HFValidationError traceback).
@pytest.mark.parametrize("model", ["/nonexistent", "./nonexistent", "runs/cpu-tiny"])
def test_missing_local_model_is_one_line(model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prover.offline import model_unreachable

    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()  # README's `-m runs/cpu-tiny` before `prover train` wrote the checkpoint
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert model_unreachable("hf", model) == f"no such local checkpoint {model}" + (
        " (and no hub model of that name is cached)" if model == "runs/cpu-tiny" else ""
    )
    code, out = run(*replay_args(DEMO, "-g", "hf", "-m", model))
    assert code == 2 and "no such local checkpoint" in one_error_line(out)


# `--strict` help shows `[lean]` (rich took it for markup and printed "sets  strict").
def test_prove_option_help_shows_its_brackets() -> None:
    result = run_cli(["prove", "--help"], env={"COLUMNS": "1000"})
    shown = " ".join(result.output.split())
    assert "sets [lean] strict." in shown and "sets [lean] pool_size" in shown


# long names leave the summary readable: notes below the table, whole, not a 4-character column.
@pytest.mark.parametrize("width", [80, 100])
def test_summary_notes_readable_with_long_names(width: int, tmp_path: Path, shared: Path) -> None:
    source = shared / "lean_corpus" / "formal-conjectures" / "FormalConjectures" / "Paper" / "CasasAlvero.lean"
    target = tmp_path / "c.lean"
    shutil.copy(source, target)
    # One theorem the cassette records, so the others are per-theorem notes (a file with none recorded at all
    # is one error line instead).
    with target.open("a", encoding="utf-8") as handle:
        handle.write("\ntheorem mathd_algebra_182 (y : ℂ) : 7 * (3 * y + 2) = 21 * y + 14 := by\n  sorry\n")
    result = run_cli(replay_args(target), env={"COLUMNS": str(width)})
    assert result.exit_code == 1
    flat = " ".join(result.stdout.split())
    assert "is not in the replay cassette" in flat  # the whole note, not "the…"
    assert all(len(line) <= width for line in result.stdout.splitlines())
    assert "checker" in result.stdout  # the header is not cut to "che…"


# sorries in declarations prove does not target are named, and exit is not 0.
def test_untargeted_sorries_are_named_and_not_success(tmp_path: Path) -> None:
    path = tmp_path / "o.lean"
    path.write_text(
        "def f (n : Nat) : Nat := n\ndecreasing_by sorry\n\ninstance : Inhabited Nat := by sorry\n\n"
        "/-- not a `sorry` token: sorry -/\ntheorem t : True := trivial\n",
        encoding="utf-8",
    )
    code, out = run(*replay_args(path))
    assert code == 1, out
    assert "2 `sorry` in declarations prove does not search: def f (line 1), instance (anonymous) (line 4)" in out
    assert "nothing to prove" not in out


def test_compfiles_determine_sorry_is_named(tmp_path: Path) -> None:
    path = tmp_path / "d.lean"
    path.write_text("determine solution : Nat := sorry\n\nproblem p : solution = 1 := by\n  sorry\n", encoding="utf-8")
    code, out = run(*replay_args(path))
    assert "determine solution (line 1)" in out
    assert code != 0


# a name declared twice is refused like Lean (lean4 src/Lean/Elab/DeclModifiers.lean, checkNotAlreadyDeclared:
# "`name` has already been declared", at the second one's name), before any search.
def test_duplicate_declaration_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.lean"
    head = "".join(DEMO.read_text(encoding="utf-8").splitlines(keepends=True)[:8])
    again = "\ntheorem mathd_algebra_182 (y : ℂ) : 7 * (3 * y + 2) = 21 * y + 14 := by\n  sorry\n"
    path.write_text(head + again + again, encoding="utf-8")
    code, out = run(*replay_args(path, "-w"))
    assert code == 2
    line = one_error_line(out)
    assert line.endswith("dup.lean:13:9: `mathd_algebra_182` has already been declared"), line
    assert path.read_text(encoding="utf-8") == head + again + again


# edits the user made while the search ran are never overwritten.
def test_write_refuses_when_the_file_changed_during_the_search(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import prover.prove

    real = prover.prove.prove_file

    def search_then_user_edits(*args: object, **kwargs: object) -> object:
        proofs = real(*args, **kwargs)  # type: ignore[arg-type]
        with demo.open("a", encoding="utf-8") as fh:
            fh.write("\n-- the user's edit during the search\n")
        return proofs

    monkeypatch.setattr(prover.prove, "prove_file", search_then_user_edits)
    code, out = run(*replay_args(demo, "-w", "-t", "mathd_algebra_182"))
    edited_before = demo.read_text(encoding="utf-8")
    assert code != 0
    assert "-- the user's edit during the search" in edited_before and "  sorry" in edited_before
    assert "changed while the search ran: not written" in out
    assert "-  sorry\n+  ring\n" in out  # the verified proof, as a diff against the text searched
    assert not list(demo.parent.glob("*.bak"))


# two writes in the same second get two backups.
def test_backup_names_are_unique_within_a_second(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from prover.files import claim_backup as _claim_backup

    monkeypatch.setattr(time, "strftime", lambda fmt, *a: "20261130-190000")
    path = tmp_path / "f.lean"
    path.write_text("x", encoding="utf-8")
    first, second = _claim_backup(path), _claim_backup(path)
    assert first != second and first.exists() and second.exists()
    assert first.name == "f.lean.20261130-190000.bak" and second.name == "f.lean.20261130-190000.1.bak"


# a missing REPL binary in a user's own project names a fix that works there (set-up refuses such a
# project: it never rewrites a user's lakefile), via lean_env.project.lake_project.repl_binary_fix.
def test_missing_repl_in_a_users_own_project_names_the_require_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lean_env.backends.repl import ReplSettings
    from lean_env.errors import LeanNotFoundError
    from lean_env.project.lake_project import PROJECT_NAME, REPL_PACKAGE_RELPATH

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "lake").write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    (bin_dir / "lake").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    own = tmp_path / "mine"
    own.mkdir()
    (own / "lakefile.lean").write_text("import Lake\nopen Lake DSL\npackage mine\n", encoding="utf-8")
    (own / "lean-toolchain").write_text("leanprover/lean4:v4.19.0\n", encoding="utf-8")
    with pytest.raises(LeanNotFoundError) as err:
        ReplSettings(project=own).resolve_argv()
    message = str(err.value)
    assert "prover setup" not in message and "require REPL from git" in message and "v4.19.0" in message
    (own / REPL_PACKAGE_RELPATH).mkdir(parents=True)  # the REPL package is fetched, not built
    with pytest.raises(LeanNotFoundError, match="lake build repl"):
        ReplSettings(project=own).resolve_argv()
    made = tmp_path / "made"
    made.mkdir()
    (made / "lakefile.toml").write_text(f'name = "{PROJECT_NAME}"\n', encoding="utf-8")
    with pytest.raises(LeanNotFoundError, match=f"prover setup --lean-project {made}"):
        ReplSettings(project=made).resolve_argv()


# a REPL that dies at start for every theorem (built for another Lean) stops prove with one line
# naming the cause and `prover doctor`, exit 2, instead of a failed_start row per theorem. The real
# subprocess path runs: only the argv is a stand-in (ReplSettings.command), a script that dies as such a
# REPL does (libc++abi's abort on an .olean version mismatch: SIGABRT, exit 134).
def test_a_repl_that_cannot_start_is_one_line_rc2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    import prover.backends

    script = tmp_path / "repl"
    script.write_text(
        '#!/bin/sh\necho "libc++abi: terminating: incompatible .olean version" >&2\nexit 134\n', encoding="utf-8"
    )
    script.chmod(0o755)
    real = prover.backends.repl_settings

    def crashing(cfg: object, *args: object, **kwargs: object) -> object:
        return dataclasses.replace(real(cfg, *args, **kwargs), command=(str(script),))  # type: ignore[arg-type]

    monkeypatch.setattr(prover.backends, "repl_settings", crashing)
    report = tmp_path / "r.json"
    code, out = run("prove", str(DEMO), "-g", "fixed", "--lean-project", str(tmp_path), "-j", "1", "-r", str(report))
    assert code == 2, out
    line = one_error_line(out)
    assert line.startswith("error: the repl backend cannot start (") and "run `prover doctor`" in line
    assert "incompatible .olean version" in line or "LeanCrashError" in line or "LeanStartError" in line
    assert report.exists()  # the rows are kept for the record


# a LeanDojo repository that cannot be opened (offline, not a repository) is the backend's failure.
def test_an_unavailable_dojo_repository_is_one_line_rc2(monkeypatch: pytest.MonkeyPatch) -> None:
    import prover.backends
    from lean_env.backends.replay import ReplayEnv
    from lean_env.errors import RepositoryUnavailableError

    class NoRepository(ReplayEnv):
        # lean_env.backends.dojo.DojoEnv._enter's own exception and wording for a repository LeanGitRepo cannot open.
        def start(self, theorem: object) -> object:  # type: ignore[override]
            raise RepositoryUnavailableError(
                "cannot open the LeanDojo repository for x (demo.lean in /work/main@abc): "
                "<urlopen error [Errno -2] Name or service not known>"
            )

    starts: list[object] = []

    class Counted(NoRepository):
        def start(self, theorem: object) -> object:  # type: ignore[override]
            starts.append(theorem)
            return super().start(theorem)

    monkeypatch.setattr(prover.backends, "make_env", lambda cfg: Counted(CASSETTE))
    code, out = run(*replay_args(DEMO, "-j", "1"))
    assert code == 2, out
    line = one_error_line(out)
    assert "cannot open the LeanDojo repository" in line and "prover doctor" in line
    assert len(starts) == 1  # stopped at the first: every theorem of the file is in that repository


def test_a_per_theorem_start_failure_stays_a_row(tmp_path: Path) -> None:
    """A theorem the cassette does not hold is that theorem's failed start, a row, exit 1 (not the backend)."""
    path = tmp_path / "other.lean"
    path.write_text(
        "import Mathlib\n\ntheorem mathd_algebra_182 (y : ℂ) : 7 * (3 * y + 2) = 21 * y + 14 := by\n  sorry\n\n"
        "theorem not_recorded : 1 + 1 = 2 := by\n  sorry\n",
        encoding="utf-8",
    )
    code, out = run(*replay_args(path))
    assert code == 1, out
    assert "failed_start" in out and "prover doctor" not in out


# the sweep's flags too are the command line's, not "(defaults)".
@pytest.mark.parametrize(
    ("flags", "key"),
    [
        (["--split", "bogus"], "sweep.split"),
        (["--task", "bogus"], "sweep.task"),
        (["--actors", "0"], "sweep.prover_actors"),
    ],
)
def test_sweep_flag_value_error_names_the_command_line(flags: list[str], key: str) -> None:
    code, out = run("sweep", "--plan", "--backend", "replay", "--cassette", str(CASSETTE), "-g", "fixed", *flags)
    assert code == 2, out
    line = one_error_line(out)
    assert f"invalid config (command line): {key}:" in line
