"""`prover prove --mode whole`: N whole proofs per theorem from a whole-proof model, each verified.

The replay backend (recorded real Lean, examples/demo.cassette.jsonl) verifies; the model is a scripted
stand-in (loading a real DeepSeek-Prover / Kimina-Prover needs the hub and a GPU) that answers in Kimina's
documented format: reasoning, then the whole theorem in a ```lean4 block.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from prover.generators import whole_proof
from prover.generators.whole_proof import WholeProofSetup
from prover.templates import get_whole_template
from tests.cli_support import DEMO_CASSETTE as CASSETTE
from tests.cli_support import EXAMPLES, run_cli

TACTICS = ["simp", "norm_num", "linarith", "ring", "nlinarith", "field_simp", "omega", "positivity"]


class KiminaLike:
    """Every sample is a Kimina-style answer with one tactic as the proof; records the prompts it saw."""

    chat_template = "x"

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def apply_chat_template(self, messages: list[dict[str, str]], tokenize: bool, add_generation_prompt: bool) -> str:
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<assistant>"

    def __call__(self, prompts: Sequence[str], n: int) -> list[list[str]]:
        self.prompts.extend(prompts)
        out = []
        for prompt in prompts:
            statement = prompt.split("# Formal statement:\n```lean4\n")[1].split(":= by")[0].strip().split("\n")[-1]
            out.append([f"<think>try {t}</think>\n```lean4\n{statement} := by\n  {t}\n```" for t in TACTICS[:n]])
        return out


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> KiminaLike:
    fake = KiminaLike()

    def load(cfg: object) -> WholeProofSetup:
        return WholeProofSetup(fake, get_whole_template("kimina"), fake)

    monkeypatch.setattr(whole_proof, "load_whole_proof_model", load)
    return fake


def test_prove_mode_whole_samples_verifies_and_writes(tmp_path: Path, model: KiminaLike) -> None:
    demo = tmp_path / "demo.lean"
    shutil.copy(EXAMPLES / "demo.lean", demo)
    report = tmp_path / "report.json"
    args = ["prove", str(demo), "--backend", "replay", "--cassette", str(CASSETTE)]
    # The model's name picks the whole-proof preset: no --mode needed (a local folder: no hub here).
    local = tmp_path / "Kimina-Prover-Distill-8B"
    local.mkdir()
    args += ["--model", str(local), "--num-proofs", "8", "--write", "--report", str(report)]
    result = run_cli(args)
    data = json.loads(report.read_text(encoding="utf-8"))
    statuses = {t["name"]: t["status"] for t in data["theorems"]}
    assert result.exit_code in (0, 1), result.output
    assert statuses["mathd_algebra_141"] != "proved"  # no proof recorded for it: never reported proved
    assert sum(s == "proved" for s in statuses.values()) >= 3
    assert all(t["checker"] == "replay" for t in data["theorems"] if t["status"] == "proved")
    assert data["written"] and data["file_verified"]
    assert model.prompts and all(p.startswith("<system>You are an expert") for p in model.prompts)


def test_prove_mode_whole_with_a_tactic_model_still_runs_whole_and_fixed_is_refused(tmp_path: Path) -> None:
    demo = tmp_path / "demo.lean"
    shutil.copy(EXAMPLES / "demo.lean", demo)
    args = ["prove", str(demo), "--backend", "replay", "--cassette", str(CASSETTE), "--generator", "fixed"]
    result = run_cli([*args, "--strategy", "whole"])
    assert result.exit_code == 2
    assert "--strategy whole needs a model" in result.output
    result = run_cli([*args, "--strategy", "sideways"])
    assert result.exit_code == 2 and "--strategy must be auto, search, whole" in result.output
    # --mode stays an alias for one release, with a one-line note.
    result = run_cli([*args, "--mode", "whole"])
    assert result.exit_code == 2 and "--strategy whole needs a model" in result.output
    assert "note: --mode is deprecated; use --strategy" in result.output
