"""A `sorry` in the rest of a declaration after its proof (a `where` clause, `termination_by`/`decreasing_by`)
leaves the declaration unproved: Lean elaborates that rest as part of the same declaration and warns
"declaration uses 'sorry'" for it, so no verifier may answer "proved" and `prove` never reports it so."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from lean_env.backends.repl import ReplSettings
from lean_env.backends.replay import ReplayVerifier
from lean_env.checks.static import static_check
from lean_env.checks.verdict import Rejected, Verified
from lean_env.checks.verifier import ReplVerifier
from lean_env.source.declarations import parse_lean_source
from tests.cli_support import run_cli
from tests.print_axioms_model import printed_name

HEADER = "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 0\n\nopen BigOperators Real Nat Topology Rat\n\n"
STATEMENT = "theorem mathd_algebra_182 (y : ℂ) : 7 * (3 * y + 2) = 21 * y + 14 := by\n"
SUFFIXES = {
    "where": "where foo : False := sorry\n",
    "termination_by": "termination_by sorry\n",
    "decreasing_by": "decreasing_by\n  sorry\n",
}
RELEASES = ["v4.19.0", "v4.24.0", "v4.27.0", "v4.28.0", "v4.32.0", "repl"]


def _source(proof: str, suffix: str) -> str:
    return HEADER + STATEMENT + f"  {proof}\n" + suffix


def _recorded_sorry_warning(shared: Path, release: str) -> dict[str, Any]:
    """The sorry warning the REPL printed at `release` for `tactic_sorry` (its wording differs by release)."""
    root = shared / "lean_fixtures"
    folder = root / "repl" if release == "repl" else root / "repl_versions" / release
    text = (folder / "tactic_sorry.expected.out").read_text(encoding="utf-8")
    for block in re.split(r"\n[ \t]*\n", text):
        if not block.strip():
            continue
        for message in json.loads(block, strict=False).get("messages", []):
            if message.get("severity") == "warning" and "sorry" in message.get("data", ""):
                return dict(message)
    raise AssertionError(f"no sorry warning recorded at {release}")


class _AnsweringEnv:
    """Answers a compile with clean `#print axioms` listings plus `extra` messages (positions given)."""

    def __init__(self, extra: list[dict[str, Any]], sorries: list[dict[str, Any]] | None = None) -> None:
        self.settings = ReplSettings(command=("unused",))
        self.extra, self.sorries = extra, sorries or []
        self.sent: list[str] = []

    def run_command(self, cmd: str, env: int | None = None, timeout: float | None = None) -> dict[str, Any]:
        self.sent.append(cmd)
        messages = list(self.extra)
        for number, line in enumerate(cmd.split("\n"), start=1):
            if line.startswith("#print axioms "):
                name = printed_name(line.removeprefix("#print axioms "))
                messages.append(
                    {
                        "severity": "info",
                        "pos": {"line": number, "column": 0},
                        "data": f"'{name}' depends on axioms: [propext, Classical.choice, Quot.sound]",
                    }
                )
        return {"env": 0, "messages": messages, "sorries": self.sorries}

    def close(self) -> None:
        pass


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize("kind", list(SUFFIXES))
def test_a_sorry_warning_after_the_proof_is_the_declarations_own(shared: Path, release: str, kind: str) -> None:
    """The whole-file judge reads the declaration's whole span: the release's recorded sorry warning, positioned
    on the suffix's line (where Lean puts it for a `where` clause's own `sorry`), rejects the declaration."""
    source = _source("ring", SUFFIXES[kind])
    decl = parse_lean_source(source, "<t>").get("mathd_algebra_182")
    line = source.split("\n").index(SUFFIXES[kind].split("\n")[0]) + 1
    warning = {**_recorded_sorry_warning(shared, release), "pos": {"line": line, "column": 0}}
    warning["endPos"] = {"line": line, "column": 5}
    verifier = ReplVerifier(env=_AnsweringEnv([warning]))  # type: ignore[arg-type]
    verdict = verifier._judge_file(source, parse_lean_source(source, "<t>"), {decl.name: decl})[decl.name]
    assert isinstance(verdict, Rejected) and "sorry" in verdict.reason
    # The REPL's own `sorries` listing on that line rejects by itself too.
    listed = {"pos": {"line": line, "column": 0}, "goal": "⊢ False", "proofState": 0}
    verifier = ReplVerifier(env=_AnsweringEnv([], [listed]))  # type: ignore[arg-type]
    verdict = verifier._judge_file(source, parse_lean_source(source, "<t>"), {decl.name: decl})[decl.name]
    assert isinstance(verdict, Rejected) and "sorry" in verdict.reason


@pytest.mark.parametrize("kind", list(SUFFIXES))
def test_every_verifier_refuses_a_declaration_whose_suffix_keeps_a_sorry(repo_root: Path, kind: str) -> None:
    theorem = parse_lean_source(_source("sorry", SUFFIXES[kind]), "<t>").get("mathd_algebra_182").to_theorem()
    assert static_check(theorem, "ring") is not None
    env = _AnsweringEnv([])
    verdict = ReplVerifier(env=env).verify(theorem, "ring")  # type: ignore[arg-type]
    assert isinstance(verdict, Rejected) and "sorry" in verdict.reason and not env.sent
    replay = ReplayVerifier(repo_root / "examples" / "demo.cassette.jsonl")
    verdict = replay.verify(theorem, "ring")
    assert isinstance(verdict, Rejected) and f"`{kind}`" in verdict.reason
    # The same declaration with no `sorry` after its proof replays as before.
    clean = parse_lean_source(_source("sorry", "where foo : True := trivial\n"), "<t>").get("mathd_algebra_182")
    assert static_check(clean.to_theorem(), "ring") is None
    assert isinstance(replay.verify(clean.to_theorem(), "ring"), Verified)


def test_prove_never_reports_proved_and_writes_nothing(repo_root: Path, tmp_path: Path) -> None:

    cassette = str(repo_root / "examples" / "demo.cassette.jsonl")
    args = ["--backend", "replay", "--cassette", cassette, "--generator", "fixed", "--write"]
    whole = tmp_path / "c5.lean"
    whole.write_text(_source("sorry", SUFFIXES["where"]), encoding="utf-8")
    skeleton = tmp_path / "c6.lean"
    skeleton.write_text(
        "import Mathlib\n\ntheorem t (a b : Nat) : a = a ∧ b = b := by\n  constructor\n  · sorry\n  · sorry\n"
        "where foo : False := sorry\n",
        encoding="utf-8",
    )
    for path in (whole, skeleton):
        before = path.read_bytes()
        result = run_cli(["prove", str(path), *args, "--report", str(tmp_path / "r.json")])
        assert result.exit_code == 1, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert path.read_bytes() == before
        report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
        assert report["theorems"] and not any(t["status"] == "proved" for t in report["theorems"])
        if path is whole:
            assert any("`where` part" in (t.get("message") or "") for t in report["theorems"]), report


def test_parse_text_counts_the_suffix_sorry_like_json(tmp_path: Path) -> None:

    path = tmp_path / "c5.lean"
    path.write_text(_source("sorry", SUFFIXES["where"]), encoding="utf-8")
    text = run_cli(["parse", str(path)])
    data = json.loads(run_cli(["parse", str(path), "--json"]).output)
    (theorem,) = data["theorems"] if "theorems" in data else data["declarations"]
    count = len(theorem["sorries"])
    assert count == 2 and f"{count} sorries at 9:3, 10:22" in text.output
