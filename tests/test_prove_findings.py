"""New-user findings K1-K28 on `prover prove` and the config loader, each from its reproduction
(/work/brief/FINDINGS.md): bad input is one line and exit 2, before any search; nothing is lost."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prover.cli import app
from prover.config import ConfigError, load_config

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DEMO = EXAMPLES / "demo.lean"
CASSETTE = EXAMPLES / "demo.cassette.jsonl"

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
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


# K3: a config path naming a directory is one line, for every command that takes --config.
@pytest.mark.parametrize("command", [["prove", str(DEMO)], ["suggest", str(DEMO)], ["doctor"], ["serve"]])
def test_config_directory_is_one_line_rc2(command: list[str], tmp_path: Path) -> None:
    code, out = run(*command, "--config", str(tmp_path))
    assert code == 2, out
    assert "is a directory" in one_error_line(out)


# K4 / K26: a flag's bad value is the command line's, not "(defaults)".
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


# K19: relative paths in a config file are relative to the file's folder, not the current directory.
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


# K12: a theorem whose statement differs from the cassette's is a failed start, before any search.
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
