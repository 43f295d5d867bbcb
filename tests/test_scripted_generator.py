"""The scripted generator plays back model outputs from a JSONL: published outputs by theorem and sample index,
this project's recorded runs by theorem, round and prompt hash; each output is verified like any other (here by
the replay of recorded real-Lean results, examples/demo.cassette.jsonl). The outputs are written for the test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from prover.engine import ProofTarget
from prover.engine.correction import ChatTurn
from prover.generators.scripted import ScriptedOutputError, ScriptedOutputs, ScriptedSampler, prompt_hash
from tests.cli_support import EXAMPLES, run_cli

DEMO_PROOFS = {  # the one-tactic proofs the demo cassette recorded, and a wrong one for the last theorem
    "mathd_algebra_182": ("(y : ℂ) : 7 * (3 * y + 2) = 21 * y + 14", "ring"),
    "mathd_algebra_455": ("(x : ℝ) (h₀ : 2 * (2 * (2 * (2 * x))) = 48) : x = 3", "linarith"),
    "mathd_algebra_190": (": ((3 : ℝ) / 8 + 7 / 8) / (4 / 5) = 25 / 16", "norm_num"),
    "mathd_algebra_119": ("(d e : ℝ) (h₀ : 2 * d = 17 * e - 8) (h₁ : 2 * e = d - 9) : e = 2", "linarith"),
    "mathd_algebra_141": ("(a b : ℝ) (h₁ : a * b = 180) (h₂ : 2 * (a + b) = 54) : a ^ 2 + b ^ 2 = 369", "nlinarith"),
}


def published(path: Path) -> Path:
    """Outputs as a chat prover publishes them: reasoning, then the whole theorem in a lean4 block."""
    rows = [
        {
            "theorem": name,
            "sample": 0,
            "output": f"The goal follows directly.\n```lean4\ntheorem {name} {statement} := by\n  {tactic}\n```",
            "tokens": 20,
        }
        for name, (statement, tactic) in DEMO_PROOFS.items()
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_prove_re_verifies_published_outputs(tmp_path: Path) -> None:
    demo = tmp_path / "demo.lean"
    shutil.copy(EXAMPLES / "demo.lean", demo)
    outputs, report = published(tmp_path / "outputs.jsonl"), tmp_path / "r.json"
    args = ["prove", str(demo), "--backend", "replay", "--cassette", str(EXAMPLES / "demo.cassette.jsonl")]
    args += ["--generator", "scripted", "--outputs", str(outputs), "--num-proofs", "1", "--report", str(report)]
    result = run_cli(args)
    assert result.exit_code == 1, result.output  # the published nlinarith proof does not verify
    data = json.loads(report.read_text(encoding="utf-8"))
    statuses = {t["name"]: t["status"] for t in data["theorems"]}
    assert statuses.pop("mathd_algebra_141") == "rejected" and set(statuses.values()) == {"proved"}
    entry = data["theorems"][0]
    assert entry["strategy"] == "whole" and entry["costs"][0]["generated_tokens"] == 20
    assert entry["costs"][0]["compiles"] == 1 and entry["attempts"][0]["proof"] == "ring"


def test_a_missing_sample_or_an_unrecorded_prompt_is_an_error_never_a_guess(tmp_path: Path) -> None:
    from lean_env.types import Theorem

    outputs = ScriptedOutputs.load(published(tmp_path / "o.jsonl"))
    theorem = Theorem("mathd_algebra_182", "theorem mathd_algebra_182 (y : ℂ) : 7 * (3 * y + 2) = 21 * y + 14")
    sampler = ScriptedSampler(outputs)
    target = ProofTarget(theorem.name, theorem)
    assert "ring" in sampler(target, 1)[0].text
    with pytest.raises(ScriptedOutputError, match="no sample 1 of mathd_algebra_182"):
        sampler(target, 2)
    turns = [ChatTurn("user", "prove it")]
    with pytest.raises(ScriptedOutputError, match="round 1 with this prompt"):
        sampler.chat(target, turns, 1, 1)
    recorded = tmp_path / "recorded.jsonl"
    line = {"theorem": theorem.name, "round": 1, "prompt_sha256": prompt_hash(turns), "output": "fixed", "tokens": 3}
    recorded.write_text(json.dumps(line) + "\n", encoding="utf-8")
    replay = ScriptedSampler(ScriptedOutputs.load(recorded))
    assert [s.text for s in replay.chat(target, turns, 1, 1)] == ["fixed"]
    with pytest.raises(ScriptedOutputError):
        replay.chat(target, [ChatTurn("user", "prove it!")], 1, 1)  # one character differs: not recorded


def test_a_bad_outputs_line_is_one_line_with_its_number(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"theorem": "a", "sample": 0, "output": "x"}\n{"theorem": "b"}\n', encoding="utf-8")
    with pytest.raises(ScriptedOutputError, match=r"bad.jsonl:2: not a scripted output line"):
        ScriptedOutputs.load(bad)


def test_sweep_re_verifies_published_outputs_by_sample_index(tmp_path: Path, repo_root: Path) -> None:
    pytest.importorskip("ray")
    outputs = published(tmp_path / "outputs.jsonl")
    with outputs.open("a", encoding="utf-8") as handle:  # a second sample of one problem, wrong
        handle.write(json.dumps({"theorem": "mathd_algebra_182", "sample": 1, "output": "```lean4\nnope\n```"}) + "\n")
    results = tmp_path / "out" / "results.jsonl"
    args = ["sweep", "--backend", "replay", "--cassette", str(EXAMPLES / "demo.cassette.jsonl")]
    args += ["--generator", "scripted", "--outputs", str(outputs), "--split", "all", "--attempts", "2"]
    args += ["--names", "mathd_algebra_182,mathd_algebra_141", "--actors", "1", "--output", str(results)]
    result = run_cli([*args, "--no-progress", "--no-report"])
    assert result.exit_code == 0, result.output
    rows = {(r["problem"], r["attempt"]): r for r in map(json.loads, results.read_text(encoding="utf-8").splitlines())}
    assert rows[("mathd_algebra_182", 0)]["proved"] and rows[("mathd_algebra_182", 0)]["proof"] == "ring"
    assert rows[("mathd_algebra_182", 1)]["status"] == "exhausted"  # no proof in that output
    assert rows[("mathd_algebra_141", 0)]["status"] == "rejected"
    # sample 1 of mathd_algebra_141 was never published: an error of that attempt, never a guess
    missing = rows[("mathd_algebra_141", 1)]
    assert missing["status"] == "crashed" and "no sample 1 of mathd_algebra_141" in missing["error"]
    assert {r["mode"] for r in rows.values()} == {"whole"} and {r["model"] for r in rows.values()} == {
        "scripted:outputs.jsonl"
    }


def _correct_outputs(path: Path) -> Path:
    """examples/correct.outputs.jsonl's two outputs (round 0 rejected with the recorded compile's error, round 1
    verified), the round-1 reply keyed by the conversation the sweep sends: its prompt (no few-shot examples),
    the failed output and Goedel's correction turn on the replay verifier's rejection."""
    from benchmarks.minif2f import load_problems
    from benchmarks.sweep.attempt import whole_proof_request
    from lean_env.backends.replay import ReplayVerifier
    from lean_env.cassette.store import Cassette
    from lean_env.checks.verdict import Rejected
    from prover.engine.correction import correction_chat, error_report
    from prover.paths import shared_dir

    benchmark = shared_dir() / "data" / "minif2f" / "minif2f.jsonl"
    [problem] = load_problems(benchmark, "all", names=["mathd_algebra_455"])
    rows = [json.loads(line) for line in (EXAMPLES / "correct.outputs.jsonl").read_text(encoding="utf-8").splitlines()]
    first, fixed = rows[0]["output"], rows[1]
    verdict = ReplayVerifier(Cassette.load(EXAMPLES / "correct.cassette.jsonl")).verify(
        problem.theorem, "ring_nf at h₀"
    )
    assert isinstance(verdict, Rejected) and verdict.messages
    opening = [ChatTurn("user", whole_proof_request(problem, "f2f", [], 0))]
    turns = correction_chat(opening, first, error_report(verdict.source, verdict.messages), 1)
    fixed["prompt_sha256"] = prompt_hash(turns)
    path.write_text(json.dumps(rows[0], ensure_ascii=False) + "\n" + json.dumps(fixed, ensure_ascii=False) + "\n")
    return path


def test_sweep_corrects_a_rejected_sample_in_round_1_and_records_both_rounds(tmp_path: Path) -> None:
    """`sweep --strategy correct --correction-rounds 1` on local Ray with the scripted generator: the prover actor
    continues the chat with Lean's error, the corrected proof verifies, the results line keeps both rounds; a
    resume with the same settings finds the attempt done."""
    pytest.importorskip("ray")
    outputs = _correct_outputs(tmp_path / "outputs.jsonl")
    results = tmp_path / "out" / "results.jsonl"
    args = ["sweep", "--backend", "replay", "--cassette", str(EXAMPLES / "correct.cassette.jsonl")]
    args += ["--generator", "scripted", "--outputs", str(outputs), "--split", "all", "--num-few-shot", "0"]
    args += ["--strategy", "correct", "--correction-rounds", "1", "--names", "mathd_algebra_455"]
    args += ["--actors", "1", "--output", str(results), "--no-progress", "--no-report"]
    result = run_cli(args)
    assert result.exit_code == 0, result.output
    [row] = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    assert row["proved"] and row["proof"] == "linarith" and row["status"] == "proved"
    assert row["mode"] == "correct" and row["strategy"] == "correct"
    assert [(a["round"], a["parent"], a["status"]) for a in row["attempts"]] == [
        (0, None, "rejected"),
        (1, 0, "proved"),
    ]
    assert [c["round"] for c in row["costs"]] == [0, 1]
    again = run_cli([*args, "--resume"])
    assert again.exit_code == 0, again.output
    assert len(results.read_text(encoding="utf-8").splitlines()) == 1  # nothing left to run
