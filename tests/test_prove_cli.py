"""`prover prove` end to end: replay backend (recorded real Lean), fixed-tactic generator, every error path."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from timeouts import SUBPROCESS_TIMEOUT_S

from tests.cli_support import DEMO, EXAMPLES, run_cli
from tests.cli_support import DEMO_CASSETTE as CASSETTE

UNPROVABLE = "mathd_algebra_141"  # no proof recorded in the demo cassette


def run(*args: str) -> tuple[int, str]:
    result = run_cli(list(args))
    return result.exit_code, result.output


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    target = tmp_path / "demo.lean"
    shutil.copy(DEMO, target)
    return target


def replay_args(path: Path, *extra: str) -> list[str]:
    return ["prove", str(path), "--backend", "replay", "--cassette", str(CASSETTE), "--generator", "fixed", *extra]


def test_proves_recorded_theorems_and_writes_them_back(demo: Path, tmp_path: Path) -> None:
    original = demo.read_text(encoding="utf-8")
    report_path = tmp_path / "report.json"
    code, out = run(*replay_args(demo, "--write", "--report", str(report_path)))
    assert code == 1, out  # one theorem has no recorded proof
    report = json.loads(report_path.read_text(encoding="utf-8"))
    statuses = {t["name"]: t["status"] for t in report["theorems"]}
    assert statuses.pop(UNPROVABLE) != "proved"
    assert set(statuses.values()) == {"proved"} and len(statuses) == 4
    assert all(t["checker"] == "replay" for t in report["theorems"] if t["status"] == "proved")
    assert report["written"] and report["file_verified"]

    from lean_env.source.declarations import parse_lean_file

    new_file = parse_lean_file(demo)
    by_name = {d.name: d for d in new_file.theorems}
    assert by_name[UNPROVABLE].has_sorry, "an unproved theorem must be left untouched"
    for name in statuses:
        assert not by_name[name].has_sorry
    old_by_name = {d.name: d for d in parse_lean_file(DEMO).theorems}
    for name, decl in by_name.items():  # statements are byte-identical
        assert decl.statement == old_by_name[name].statement
    # The backup holds the original.
    backup = Path(report["backup"])
    assert backup.read_text(encoding="utf-8") == original
    # Every proved theorem's proof in the file re-verifies independently.
    from lean_env.backends.replay import ReplayVerifier
    from lean_env.checks.verdict import Verified
    from prover.prove import proof_body

    verifier = ReplayVerifier(CASSETTE)
    for name in statuses:
        decl = by_name[name]
        assert isinstance(verifier.verify(decl.to_theorem(), proof_body(decl.proof)), Verified)


def test_without_write_the_file_is_untouched_and_a_diff_is_shown(demo: Path) -> None:
    before = demo.read_text(encoding="utf-8")
    code, out = run(*replay_args(demo))
    assert code == 1
    assert demo.read_text(encoding="utf-8") == before
    assert "+  ring" in out or "+  norm_num" in out or "+  linarith" in out


def test_single_theorem_exit_zero_when_proved(demo: Path) -> None:
    code, out = run(*replay_args(demo, "--theorem", "mathd_algebra_190", "--write"))
    assert code == 0, out
    text = demo.read_text(encoding="utf-8")
    assert "mathd_algebra_190 : ((3 : ℝ) / 8 + 7 / 8) / (4 / 5) = 25 / 16 := by\n  norm_num" in text


def test_unprovable_theorem_left_untouched_and_exit_one(demo: Path) -> None:
    before = demo.read_text(encoding="utf-8")
    code, _ = run(*replay_args(demo, "--theorem", UNPROVABLE, "--write"))
    assert code == 1
    assert demo.read_text(encoding="utf-8") == before


def test_nothing_to_prove_exits_zero(tmp_path: Path) -> None:
    path = tmp_path / "done.lean"
    path.write_text("theorem t : True := trivial\n", encoding="utf-8")
    code, out = run(*replay_args(path))
    assert code == 0 and "nothing to prove" in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["prove", "no/such/file.lean"], "no such file"),
        (
            ["prove", str(DEMO), "--theorem", "no_such_theorem", "--backend", "replay", "--cassette", str(CASSETTE)],
            "no theorem named",
        ),
        (["prove", str(DEMO), "--backend", "replay", "--generator", "fixed"], "needs a cassette"),
        (
            ["prove", str(DEMO), "--backend", "replay", "--cassette", "missing.jsonl", "--generator", "fixed"],
            "cassette not found",
        ),
        (["prove", str(DEMO), "--backend", "bogus"], "invalid config"),
        (["prove", str(DEMO), "--num-tactics", "0"], "num_tactics"),
    ],
)
def test_bad_input_is_one_line_error_exit_two(args: list[str], needle: str) -> None:
    code, out = run(*args)
    assert code == 2, out
    assert needle in out


def test_malformed_lean_reports_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.lean"
    path.write_text(
        "theorem ok : True := by\n  sorry\n\n/- unclosed comment\ntheorem t : True := by sorry\n", encoding="utf-8"
    )
    code, out = run(*replay_args(path))
    assert code == 2
    assert "bad.lean:4:" in out


def test_unknown_config_key_is_rejected(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[search]\nnum_tactic = 8\n", encoding="utf-8")
    code, out = run("prove", str(DEMO), "--config", str(cfg))
    assert code == 2 and "search.num_tactic" in out


def test_config_file_values_apply(tmp_path: Path, demo: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'[lean]\nbackend = "replay"\ncassette = "{CASSETTE}"\n[generator]\nkind = "fixed"\n[search]\nmax_expansions = 1\n',
        encoding="utf-8",
    )
    report = tmp_path / "r.json"
    code, _ = run("prove", str(demo), "--config", str(cfg), "--report", str(report), "--theorem", "mathd_algebra_182")
    assert code == 0
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["theorems"][0]["stats"]["expansions"] <= 1


def test_lean_not_installed_names_the_setup_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `lake` anywhere
    code, out = run("prove", str(DEMO), "--generator", "fixed", "--lean-project", str(tmp_path / "nope"))
    assert code == 2
    assert "to set it up run:" in out


def test_verifier_rejection_is_never_reported_as_proved(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lean_env.checks.verdict import Rejected
    from prover import backends

    class RejectAll:
        def verify(self, theorem: object, proof: str) -> Rejected:
            return Rejected("refused for the test", "test")

    monkeypatch.setattr(backends, "make_verifier", lambda cfg, infotree=None: RejectAll())
    before = demo.read_text(encoding="utf-8")
    report = tmp_path / "r.json"
    code, _ = run(*replay_args(demo, "--write", "--report", str(report)))
    assert code == 1
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["proved"] == 0
    assert {t["status"] for t in data["theorems"]} <= {"rejected", "exhausted"}
    assert demo.read_text(encoding="utf-8") == before


def test_real_process_exit_codes(demo: Path) -> None:
    """The installed entry point behaves the same in a real process (exit code, one-line error)."""
    proc = subprocess.run(
        [sys.executable, "-m", "prover.cli", "prove", str(demo) + ".missing"],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no such file" in proc.stderr


def _planned_file(tmp_path: Path, source: str) -> tuple[Path, Any, list[Any], list[Any], Any]:
    """`source` written to e.lean, parsed and planned as `prover prove` does: (path, file, plans, targets, report)."""
    from lean_env.source.declarations import parse_lean_source
    from prover.prove import FileReport, plan_targets

    path = tmp_path / "e.lean"
    path.write_text(source, encoding="utf-8")
    lean_file = parse_lean_source(source, str(path))
    plans, targets = plan_targets(lean_file, lean_file.theorems)
    return path, lean_file, plans, targets, FileReport(file=str(path), backend="test", generator="test", model=None)


class _AcceptAll:
    def verify(self, theorem: object, proof: str) -> Any:
        from lean_env.checks.verdict import Verified

        return Verified(checker="test")


def test_examples_below_a_longer_proof_are_written_in_one_pass(tmp_path: Path) -> None:
    """Examples are named after their line; filling one above must not lose the one below (one parse, span edits)."""
    from prover.engine import Status
    from prover.prove import TheoremReport, finalize_file

    source = "example : 1 = 1 := by\n  sorry\n\nexample : 2 = 2 := by\n  sorry\n"
    path, lean_file, plans, targets, report = _planned_file(tmp_path, source)
    report.theorems = [
        TheoremReport(t.name, Status.PROVED, proof=p) for t, p in zip(targets, ["skip\nrfl", "rfl"], strict=True)
    ]
    proofs = {t.name: p for t, p in zip(targets, ["skip\nrfl", "rfl"], strict=True)}
    out, _ = finalize_file(path, lean_file, plans, proofs, _AcceptAll(), report, write=True)
    assert out == "example : 1 = 1 := by\n  skip\n  rfl\n\nexample : 2 = 2 := by\n  rfl\n"
    assert path.read_text(encoding="utf-8") == out and report.file_verified


def test_a_declaration_the_verifier_says_nothing_about_is_not_written(tmp_path: Path) -> None:
    """A whole-file verifier that omits a changed declaration from its answer has not verified it: the change is
    dropped, the file is left as it was, and nothing is reported proved (Definition of done: nothing unverified)."""
    from prover.engine import Status
    from prover.prove import TheoremReport, finalize_file

    class SaysNothing:
        def verify(self, theorem: object, proof: str) -> object:
            raise AssertionError("the whole-file path is used")

        def verify_file(self, original: str, new: str, names: list[str]) -> dict[str, object]:
            return {}

    source = "theorem t : 1 = 1 := by\n  sorry\n"
    path, lean_file, plans, targets, report = _planned_file(tmp_path, source)
    report.theorems = [TheoremReport(t.name, Status.FOUND, proof="rfl") for t in targets]
    proofs = {t.name: "rfl" for t in targets}
    out, _ = finalize_file(path, lean_file, plans, proofs, SaysNothing(), report, write=True)  # type: ignore[arg-type]
    assert out == source and path.read_text(encoding="utf-8") == source and not report.written
    assert [t.status for t in report.theorems] == ["rejected"]


def test_a_compfiles_problem_is_filled_and_its_determine_is_not(tmp_path: Path) -> None:
    """compfiles' `problem` is a `theorem` (ProblemExtraction.lean): `prover prove` plans and writes its holes; the
    `sorry` of a `determine` (an answer a human judges) is no target and stays."""
    from lean_env.checks.verdict import Verified
    from prover.engine import Status
    from prover.prove import TheoremReport, finalize_file

    asked: list[list[str]] = []

    class WholeFile:
        def verify(self, theorem: object, proof: str) -> object:
            raise AssertionError("the whole-file path is used")

        def verify_file(self, original: str, new: str, names: list[str]) -> dict[str, object]:
            asked.append(names)
            return {n: Verified(checker="test") for n in names}

    source = "determine answer : ℕ := sorry\n\nproblem p : 1 = 1 := by\n  constructor\n  sorry\n"
    path, lean_file, plans, targets, report = _planned_file(tmp_path, source)
    assert [t.name for t in targets] == ["p#1"]  # hole 1 of p, numbered from 1
    report.theorems = [TheoremReport(t.name, Status.FOUND, proof="rfl") for t in targets]
    out, _ = finalize_file(path, lean_file, plans, {"p#1": "rfl"}, WholeFile(), report, write=True)  # type: ignore[arg-type]
    assert asked == [["p"]]
    assert out == "determine answer : ℕ := sorry\n\nproblem p : 1 = 1 := by\n  constructor\n  rfl\n"
    assert path.read_text(encoding="utf-8") == out and report.file_verified


def test_tree_export_is_json_and_dot(demo: Path, tmp_path: Path) -> None:
    trees = tmp_path / "trees"
    code, _ = run(*replay_args(demo, "--theorem", "mathd_algebra_141", "--tree-dir", str(trees)))
    assert code == 1
    data = json.loads((trees / "mathd_algebra_141.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)  # one JSON document, not a JSON-encoded string
    assert (trees / "mathd_algebra_141.dot").read_text(encoding="utf-8").lstrip().startswith("digraph")


# -- filling each `sorry` where it stands ------------------------------------------------------------------

SKELETON = EXAMPLES / "skeleton.lean"
SKELETON_CASSETTE = EXAMPLES / "skeleton.cassette.jsonl"
SKELETON_CONFIG = EXAMPLES / "skeleton.toml"


def skeleton_args(path: Path, *extra: str) -> list[str]:
    return ["prove", str(path), "--config", str(SKELETON_CONFIG), "--cassette", str(SKELETON_CASSETTE), *extra]


def test_skeleton_holes_are_filled_in_place_written_and_reverified(tmp_path: Path) -> None:
    path = tmp_path / "skeleton.lean"
    shutil.copy(SKELETON, path)
    original = path.read_text(encoding="utf-8")
    report_path = tmp_path / "r.json"
    code, out = run(*skeleton_args(path, "--write", "--report", str(report_path)))
    assert code == 0, out
    expected = original.replace("  · sorry\n  · sorry\n", "  · exact mul_pos had hbd\n  · exact one_div_pos.2 hgcd\n")
    assert expected != original and path.read_text(encoding="utf-8") == expected
    report = json.loads(report_path.read_text(encoding="utf-8"))
    rows = {t["name"]: (t["status"], t["proof"], t["checker"]) for t in report["theorems"]}
    assert rows == {
        "CancelDenoms.cancel_factors_le#1": ("proved", "exact mul_pos had hbd", "replay"),
        "CancelDenoms.cancel_factors_le#2": ("proved", "exact one_div_pos.2 hgcd", "replay"),
    }
    assert report["file_verified"] and report["written"]


def test_a_declaration_with_an_unfilled_hole_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "skeleton.lean"
    shutil.copy(SKELETON, path)
    config = tmp_path / "c.toml"
    config.write_text(
        SKELETON_CONFIG.read_text(encoding="utf-8").replace('"exact one_div_pos.2 hgcd" = -2.7', '"simp" = -2.7'),
        encoding="utf-8",
    )
    report_path = tmp_path / "r.json"
    args = ["prove", str(path), "--config", str(config), "--cassette", str(SKELETON_CASSETTE)]
    code, out = run(*args, "--write", "--report", str(report_path))
    assert code == 1, out
    assert path.read_text(encoding="utf-8") == SKELETON.read_text(encoding="utf-8")
    first, second = json.loads(report_path.read_text(encoding="utf-8"))["theorems"]
    assert first["status"] == "found" and "#2 was not filled" in first["message"]
    assert second["status"] != "proved"


def test_from_statement_searches_the_whole_proof_instead(tmp_path: Path) -> None:
    path = tmp_path / "skeleton.lean"
    shutil.copy(SKELETON, path)
    report_path = tmp_path / "r.json"
    code, _ = run(*skeleton_args(path, "--from-statement", "--report", str(report_path)))
    assert code == 1  # the recording's first step (`rw [...]`) is not among the fixed tactics
    (row,) = json.loads(report_path.read_text(encoding="utf-8"))["theorems"]
    assert row["name"] == "CancelDenoms.cancel_factors_le" and row["status"] != "proved"


def test_a_multi_step_script_is_indented_for_its_hole(tmp_path: Path, shared: Path) -> None:
    # Lean core's Nat.Linear.Poly.denote_eq_cancel: `simp`, `apply denote_eq_cancelAux`, `simp [h]` (LeanDojo).
    cassette = tmp_path / "c.jsonl"
    rows = str(shared / "data" / "proofsteps" / "leandojo_benchmark4_random_test_sample100.jsonl")
    name = "Nat.Linear.Poly.denote_eq_cancel"
    path = tmp_path / "t.lean"
    path.write_text(
        "namespace Nat.Linear.Poly\n\n"
        "theorem denote_eq_cancel {ctx : Context} {p q : Poly} (h : denote_eq_cancel_cert p q) : "
        "denote_eq ctx (p, q) = denote_eq ctx (cancel p q) := by\n"
        "  simp\n"
        "  sorry\n\nend Nat.Linear.Poly\n",
        encoding="utf-8",
    )
    # The trace has no statement: the file states the traced declaration.
    assert run("cassette", "build", str(cassette), rows, "--theorems", name, "--statements", str(path))[0] == 0
    config = tmp_path / "c.toml"
    config.write_text(
        '[generator]\nkind = "fixed"\nfixed_tactics = { "apply denote_eq_cancelAux" = -1.0, "simp [h]" = -1.5 }\n',
        encoding="utf-8",
    )
    code, out = run(
        "prove", str(path), "--config", str(config), "--backend", "replay", "--cassette", str(cassette), "-w"
    )
    assert code == 0, out
    assert "  simp\n  apply denote_eq_cancelAux\n  simp [h]\n\nend Nat.Linear.Poly\n" in path.read_text(
        encoding="utf-8"
    )


def test_bom_crlf_and_file_mode_survive_write(demo: Path) -> None:
    import os
    import stat

    text = demo.read_text(encoding="utf-8").replace("\n", "\r\n")
    demo.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    os.chmod(demo, 0o640)
    code, out = run(*replay_args(demo, "--theorem", "mathd_algebra_190", "--write"))
    assert code == 0, out
    data = demo.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\n" not in data.replace(b"\r\n", b"")
    expected = text.replace("25 / 16 := by\r\n  sorry\r\n", "25 / 16 := by\r\n  norm_num\r\n")
    assert data[3:].decode("utf-8") == expected and expected != text
    assert stat.S_IMODE(os.stat(demo).st_mode) == 0o640


def test_commands_after_a_sorry_theorem_survive_write(tmp_path: Path) -> None:
    header = DEMO.read_text(encoding="utf-8").split("/-!")[0]
    path = tmp_path / "alias.lean"
    path.write_text(
        header + "theorem mathd_algebra_182 (y : ℂ) : 7 * (3 * y + 2) = 21 * y + 14 := by\n  sorry\n\n"
        "alias mathd_algebra_182_alias := mathd_algebra_182\n\nproof_wanted w (y : ℂ) : y = y\n",
        encoding="utf-8",
    )
    code, out = run(*replay_args(path, "--write"))
    assert code == 0, out
    text = path.read_text(encoding="utf-8")
    assert (
        ":= by\n  ring\n\nalias mathd_algebra_182_alias := mathd_algebra_182\n\nproof_wanted w (y : ℂ) : y = y\n"
        in text
    )


@pytest.mark.parametrize(
    ("body", "name"),
    [
        (  # stacked `… in` prefixes, one per line (today: 0 theorems, exit 0, sorry left)
            "set_option autoImplicit true in\nopen Finset in\nopen Classical in\n"
            "attribute [local instance] Classical.dec in\n"
            "lemma card_filter_ne_le (S : Finset ℕ) : (S.filter (fun v => v ≠ 0)).card ≤ S.card := by sorry\n",
            "card_filter_ne_le",
        ),
        (  # `:=` inside the statement's type
            "theorem odd_cubic (x : ℝ) : let f := fun y : ℝ => y ^ 3 - y\n  f (-x) = -f x := by sorry\n",
            "odd_cubic",
        ),
    ],
)
def test_quoted_inputs_are_targets_not_skipped(tmp_path: Path, body: str, name: str) -> None:
    path = tmp_path / "q.lean"
    path.write_text("import Mathlib\n\n" + body, encoding="utf-8")
    report = tmp_path / "r.json"
    code, out = run(*replay_args(path, "--report", str(report)))
    assert code == 1, out  # not in the demo cassette: searched and reported unproved, never "nothing to prove"
    (row,) = json.loads(report.read_text(encoding="utf-8"))["theorems"]
    assert row["name"] == name and row["status"] == "failed_start"
    assert path.read_text(encoding="utf-8") == "import Mathlib\n\n" + body


def test_plan_targets_one_per_hole_with_the_steps_before_top_level_holes() -> None:
    from lean_env.source.declarations import parse_lean_source
    from prover.prove import plan_targets

    source = (
        "theorem a (p : Prop) (hp : p) : p ∧ p := by\n  constructor\n  · sorry\n  · sorry\n\n"
        "theorem b : True := by\n  skip\n  -- the rest is left to the prover\n  sorry\n\n"
        "theorem c : True := by\n  sorry\n\n"
        "theorem d : True := trivial\n"
    )
    lean_file = parse_lean_source(source)
    plans, targets = plan_targets(lean_file, lean_file.theorems)
    assert [t.name for t in targets] == ["a#1", "a#2", "b#1", "c", "d"]
    holes = [t.hole for t in targets]
    assert holes[0] is not None and holes[0].skeleton == "by\n  constructor\n  · sorry\n  · sorry"
    assert holes[0].tactic_prefix is None  # inside `·`: LeanDojo cannot reach it
    assert holes[2] is not None and holes[2].tactic_prefix == ("skip",)
    assert holes[3] is None and holes[4] is None  # just `sorry`, and a finished proof: whole-proof targets
    assert [p.targets for p in plans] == [("a#1", "a#2"), ("b#1",), ("c",), ("d",)]
    _, whole = plan_targets(lean_file, lean_file.theorems, from_statement=True)
    assert [t.name for t in whole] == ["a", "b", "c", "d"] and all(t.hole is None for t in whole)
