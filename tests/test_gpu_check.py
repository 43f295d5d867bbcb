"""benchmarks/gpu_check.py --tiny runs on CPU, without the packages the GPU machine lacks, and reports every figure."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from timeouts import SUBPROCESS_TIMEOUT_S

pytest.importorskip("torch")
pytest.importorskip("transformers")

ROOT = Path(__file__).resolve().parents[1]

# The GPU machine has torch, transformers, peft and accelerate but not the project's other dependencies;
# the check must run with those absent (imports of them fail here the way they would there).
ABSENT = ["pydantic", "typer", "rich", "ray", "fastapi", "uvicorn", "networkx", "lean_dojo", "datasets", "psutil"]
RUNNER = textwrap.dedent(
    """
    import runpy, sys

    # A None entry makes `import NAME` raise ImportError and importlib.util.find_spec(NAME) return None,
    # which is how a missing package looks to the script and to transformers' optional-package probes.
    for name in sys.argv[1].split(","):
        sys.modules[name] = None
    sys.argv = [sys.argv[2], *sys.argv[3:]]
    runpy.run_path(sys.argv[0], run_name="__main__")
    """
)


def test_tiny_gpu_check_runs_on_cpu_without_the_missing_packages(tmp_path: Path) -> None:
    report_file = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, ",".join(ABSENT), str(ROOT / "benchmarks" / "gpu_check.py"), "--tiny",
         "--json", str(report_file)],
        capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    report = json.loads(lines[-1])
    assert report == json.loads(report_file.read_text())
    assert report["device"] == "cpu" and [row["beams"] for row in report["generation"]] == [2, 4]
    for row in report["generation"]:
        assert row["batched_s"] > 0 and row["one_at_a_time_s"] > 0 and row["speedup"] > 0
    memory = report["memory"]
    # The sizing rule's prediction: states x beams x (prompt + new) x layers x kv_heads x head_dim x 2 x 4 bytes.
    per_token = 2 * 2 * (64 // 4) * 2 * 4
    assert memory["kv_bytes_per_token"] == per_token
    assert memory["predicted_cache_bytes"] == 4 * 4 * (memory["longest_prompt_tokens"] + 8) * per_token
    assert memory["measured_peak_bytes"] is None  # no GPU: nothing is claimed
    whole = report["whole_proof"]
    # pass@32 of one prompt under a budget of about a third of its rows: several calls, each within budget.
    assert whole["generate_calls"] >= 2 and sum(whole["rows_per_call"]) == whole["returned"] == 32
    assert whole["largest_call_cache_bytes"] <= whole["cache_budget_bytes"] and whole["ok"]
    isolation = report["isolation"]
    assert isolation["foreign_processors"] == [] and isolation["max_abs_score_error"] < 1e-3 and isolation["ok"]
    assert report["lora"]["tokens_per_s"] > 0 and report["lora"]["trainable_params"] > 0
    assert any(line.startswith("batched speedup at 4 states") for line in lines)
    assert "applies to the GPU run" in proc.stdout
    # transformers 5.24's "`is_gradient_checkpointing` is deprecated" FutureWarning (read by peft).
    assert "Warning" not in proc.stderr, proc.stderr[-3000:]


def test_lora_wrapping_raises_no_deprecation_warning() -> None:
    """get_peft_model read the deprecated `is_gradient_checkpointing` (peft PeftModel.__init__); the
    trainer and gpu_check wrap through train.peft_compat, which feature-detects the new name."""
    import warnings

    pytest.importorskip("peft")
    from peft import LoraConfig
    from transformers import LlamaConfig, LlamaForCausalLM

    from train.peft_compat import get_lora_model

    config = LlamaConfig(
        vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1,
    )  # fmt: skip
    model = LlamaForCausalLM(config)
    model.config.use_cache = False
    lora = LoraConfig(task_type="CAUSAL_LM", r=2, target_modules=["q_proj"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wrapped = get_lora_model(model, lora)
    assert any("lora_" in name for name, _ in wrapped.named_parameters())


def test_full_size_refuses_without_cuda(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py")],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["gpu_check: no CUDA device; use --tiny for the CPU run"]
