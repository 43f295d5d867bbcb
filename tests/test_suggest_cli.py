"""`prover suggest` (non-interactive) through the CLI, checked through the replay backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from suggest_fixtures import APPLY, EXACT, RW, write_add_abs_project, write_fixed_config

from tests.cli_support import run_cli


@pytest.fixture
def project(tmp_path: Path, shared: Path) -> tuple[Path, Path, Path]:
    lean, cassette = write_add_abs_project(tmp_path, shared)
    config = write_fixed_config(tmp_path / "fixed.toml", {EXACT: -0.2, "simp": -0.5, APPLY: -0.9, RW: -1.2})
    return lean, cassette, config


@pytest.fixture
def demo(repo_root: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    config = write_fixed_config(tmp_path / "demo.toml", {"norm_num": -0.3, "sorry": -0.4, "linarith": -0.6})
    return repo_root / "examples" / "demo.lean", repo_root / "examples" / "demo.cassette.jsonl", config


def invoke(*args: str | Path, stdin: str | None = None) -> tuple[int, str, str]:
    result = run_cli(["suggest", *map(str, args)], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_file_and_theorem_checked_by_replay(demo: tuple[Path, Path, Path]) -> None:
    lean, cassette, config = demo
    code, out, err = invoke(
        lean, "-t", "mathd_algebra_455", "-c", config, "--backend", "replay", "--cassette", cassette, "--json"
    )
    assert code == 0, err
    payload = json.loads(out)
    assert payload["checked"] is True
    assert payload["goal"] == "x : ℝ\nh₀ : 2 * (2 * (2 * (2 * x))) = 48\n⊢ x = 3"
    results = [(s["tactic"], s["result"]) for s in payload["suggestions"]]
    assert results == [("linarith", "finished"), ("norm_num", "error"), ("sorry", "refused")]
    assert payload["suggestions"][0]["score"] == -0.6
    assert payload["suggestions"][1]["message"].startswith("unrecorded")


def test_table_output_marks_each_tactic(demo: tuple[Path, Path, Path]) -> None:
    lean, cassette, config = demo
    code, out, err = invoke(
        lean, "-t", "mathd_algebra_455", "-c", config, "--backend", "replay", "--cassette", cassette
    )
    assert code == 0, err
    assert "⊢ x = 3" in out
    assert "closes the goals" in out and "refused" in out and "linarith" in out


def test_apply_prefix_then_suggest_shows_remaining_goals(project: tuple[Path, Path, Path]) -> None:
    lean, cassette, config = project
    code, out, err = invoke(
        lean, "-t", "add_abs_nonneg", "-a", RW, "-c", config, "--backend", "replay", "--cassette", cassette, "--json"
    )
    assert code == 0, err
    payload = json.loads(out)
    assert payload["goal"].endswith("⊢ a + -a ≤ a + abs a")
    first = payload["suggestions"][0]
    assert (first["tactic"], first["result"]) == (APPLY, "state")
    assert first["goals"][0].startswith("case bc") and first["goals"][0].endswith("⊢ -a ≤ abs a")
    assert {s["result"] for s in payload["suggestions"][1:]} == {"error"}


def test_lean_copilot_prefix_filters_suggestions(project: tuple[Path, Path, Path]) -> None:
    lean, cassette, config = project
    code, out, err = invoke(
        lean,
        "-t",
        "add_abs_nonneg",
        "--prefix",
        "rw",
        "-c",
        config,
        "--backend",
        "replay",
        "--cassette",
        cassette,
        "--json",
    )
    assert code == 0, err
    assert [s["tactic"] for s in json.loads(out)["suggestions"]] == [RW]


def test_goal_on_stdin_is_looked_up_in_the_cassette(demo: tuple[Path, Path, Path]) -> None:
    _, cassette, config = demo
    goal = "x : ℝ\nh₀ : 2 * (2 * (2 * (2 * x))) = 48\n⊢ x = 3\n"
    code, out, err = invoke("-c", config, "--backend", "replay", "--cassette", cassette, "--json", stdin=goal)
    assert code == 0, err
    payload = json.loads(out)
    assert payload["checked"] and payload["suggestions"][0] == {"tactic": "linarith", "score": -0.6, "result": "finished"}
    assert "not a recorded state" not in err
    code, out, err = invoke("x : ℝ\n⊢ x = 4", "-c", config, "--backend", "replay", "--cassette", cassette, "--json")
    assert code == 0 and "not a recorded state" in err
    assert {s.get("result") for s in json.loads(out)["suggestions"]} == {"error", "refused"}


def test_goal_with_repl_backend_is_unchecked_and_says_why(demo: tuple[Path, Path, Path]) -> None:
    _, _, config = demo
    code, out, err = invoke("x : ℝ\n⊢ x = x", "-c", config, "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["checked"] is False
    assert [s["tactic"] for s in payload["suggestions"]] == ["norm_num", "sorry", "linarith"]
    assert all("result" not in s for s in payload["suggestions"])
    note = [line for line in err.splitlines() if "unchecked" in line]
    assert len(note) == 1 and "FILE --theorem" in note[0]


def test_no_check_skips_lean(demo: tuple[Path, Path, Path]) -> None:
    lean, cassette, config = demo
    code, out, err = invoke(
        lean,
        "-t",
        "mathd_algebra_455",
        "-c",
        config,
        "--backend",
        "replay",
        "--cassette",
        cassette,
        "--no-check",
        "-k",
        "2",
        "--json",
    )
    assert code == 0, err
    payload = json.loads(out)
    assert payload["checked"] is False and len(payload["suggestions"]) == 2


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["{lean}", "-t", "no_such_theorem"], "no_such_theorem"),
        (["{tmp}/missing.lean", "-t", "x"], "no such file"),
        (["{lean}", "-t", "add_abs_nonneg", "-a", "simp"], "--apply tactic 1"),
        (["{lean}", "-t", "add_abs_nonneg", "-a", "sorry"], "refused"),
        (["   "], "empty"),
        (["{lean}"], "--theorem"),
        (["{lean}", "-t", "add_abs_nonneg", "-k", "0"], "--num-tactics"),
        (["-i", "⊢ True"], "--interactive needs"),
        (["{lean}", "-t", "add_abs_nonneg", "--write"], "--write is for the interactive session"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    project: tuple[Path, Path, Path], tmp_path: Path, args: list[str], fragment: str
) -> None:
    lean, cassette, config = project
    filled = [a.format(lean=lean, tmp=tmp_path) for a in args]
    code, out, err = invoke(*filled, "-c", config, "--backend", "replay", "--cassette", cassette)
    assert code == 2, (out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0], err


def test_bad_config_and_missing_cassette(project: tuple[Path, Path, Path], tmp_path: Path) -> None:
    lean, _, _ = project
    bad = tmp_path / "bad.toml"
    bad.write_text("[generator]\nkindd = 'fixed'\n", encoding="utf-8")
    code, _, err = invoke(lean, "-t", "add_abs_nonneg", "-c", bad)
    assert code == 2 and "kindd" in err
    good = write_fixed_config(tmp_path / "ok.toml", {"simp": -1.0})
    code, _, err = invoke(
        lean, "-t", "add_abs_nonneg", "-c", good, "--backend", "replay", "--cassette", tmp_path / "none.jsonl"
    )
    assert code == 2 and "none.jsonl" in err


def test_without_lean_file_suggestions_are_unchecked_unless_check_is_asked(
    project: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    lean, _, config = project
    no_lean = ["--lean-project", str(tmp_path / "no-lean-project")]
    code, out, err = invoke(lean, "-t", "add_abs_nonneg", "-c", config, *no_lean, "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["checked"] is False and payload["suggestions"][0]["tactic"] == EXACT
    assert "unchecked" in err and "to set it up run" in err
    for extra in (["--check"], ["-i"]):
        code, _, err = invoke(lean, "-t", "add_abs_nonneg", "-c", config, *no_lean, *extra)
        assert code == 2 and "to set it up run" in err, err


@pytest.mark.parametrize("where", [["{lean}", "-t", "add_abs_nonneg"], ["⊢ True"]])
def test_a_failing_model_is_one_line_and_exit_2(
    project: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch, where: list[str]
) -> None:
    import prover.generators

    def broken(requests: object, k: int) -> list[list[object]]:
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(prover.generators, "make_generator", lambda cfg: broken)
    lean, cassette, config = project
    args = [a.format(lean=lean) for a in where]
    code, _, err = invoke(*args, "-c", config, "--backend", "replay", "--cassette", cassette)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("note:")]
    assert lines == ["error: the generator failed: RuntimeError: CUDA out of memory"]


@pytest.mark.lean
def test_live_lean_checks_suggestions(tmp_path: Path) -> None:
    from conftest import live_lean_project

    project = live_lean_project()
    assert project is not None
    lean = tmp_path / "Live.lean"
    lean.write_text("theorem live_add_zero (n : Nat) : n + 0 = n := by\n  sorry\n", encoding="utf-8")
    config = write_fixed_config(tmp_path / "live.toml", {"simp": -0.1, "exact no_such_lemma_xyz": -0.5})
    code, out, err = invoke(lean, "-t", "live_add_zero", "-c", config, "--lean-project", project, "--json")
    assert code == 0, err
    results = {s["tactic"]: s for s in json.loads(out)["suggestions"]}
    assert results["simp"]["result"] == "finished"
    assert results["exact no_such_lemma_xyz"]["result"] == "error"
    assert "no_such_lemma_xyz" in results["exact no_such_lemma_xyz"]["message"]
