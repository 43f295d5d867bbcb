"""train: the end of a distributed run (final save, LoRA merge, evaluation) with 2 CPU processes over gloo.

Under FSDP and DeepSpeed ZeRO-3 the weights are sharded, so gathering the full state dict for the final
save is a collective: transformers' `Trainer.save_model` gathers it on every process and writes on the
main one only (v5.24.0 src/transformers/trainer.py, `save_model`: `accelerator.get_state_dict(self.model)`
under FSDP, `_zero3_consolidated_16bit_state_dict` under ZeRO-3, then `_save`, which returns early when
`not args.should_save`). Calling it on rank 0 alone leaves rank 0 waiting for peers that have finished,
and a forward pass of the sharded model on rank 0 alone (evaluation) does the same. The processes are
launched with `torch.distributed.run` (torchrun), which sets RANK/WORLD_SIZE/MASTER_* the way accelerate
and transformers read them; accelerate picks gloo for multi-process CPU runs.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from timeouts import SUBPROCESS_TIMEOUT_S

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")

WORKER = textwrap.dedent(
    """
    import json, os, sys

    import torch
    import torch.distributed as dist
    from transformers import Trainer

    from train.config import parse_train_config
    from train.trainer import run_training

    if os.environ.get("SHARDED_STAND_IN") == "1":
        # What FSDP / ZeRO-3 add to plain DDP at the end of training, on the CPU build that cannot run them
        # through accelerate: saving gathers the sharded state dict on every rank (a collective), and a
        # forward of the still-sharded training model all-gathers its parameters (a collective too).
        real_save, real_train = Trainer.save_model, Trainer.train

        def save_model(self, *args, **kwargs):
            dist.barrier()
            return real_save(self, *args, **kwargs)

        def train(self, *args, **kwargs):
            result = real_train(self, *args, **kwargs)
            model, real_forward = self.model, self.model.forward

            def forward(*a, **k):
                dist.all_reduce(torch.zeros(1))
                return real_forward(*a, **k)

            model.forward = forward
            return result

        Trainer.save_model, Trainer.train = save_model, train

    cfg = parse_train_config(json.loads(open(sys.argv[1]).read()))
    result = run_training(cfg, log=lambda line: print(f"[rank {os.environ['RANK']}] {line}", flush=True))
    with open(sys.argv[2] + f".rank{os.environ['RANK']}", "w") as f:
        json.dump({"step": result.global_step, "eval": result.eval is not None}, f)
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(out: Path) -> dict[str, object]:
    return {
        "template": "proofsteps",
        "output_dir": str(out),
        "data": {
            "sources": [{"format": "jsonl", "path": "{shared}/data/proofsteps", "max_rows": 300}],
            "max_length": 128,
            "check_minif2f": False,
        },
        "model": {
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 64,
            "max_position_embeddings": 128,
            "vocab_size": 400,
        },
        "training": {"max_steps": 2, "batch_size": 4, "logging_steps": 1, "torch_threads": 1, "save_steps": 2},
        "eval": {"max_examples": 2, "max_new_tokens": 4, "num_beams": 2, "topk": 2, "batch_size": 2},
    }


def _launch(
    tmp_path: Path, extra_env: dict[str, str], timeout: float = SUBPROCESS_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(_config(tmp_path / "out")), encoding="utf-8")
    # ACCELERATE_USE_CPU is what `accelerate launch --cpu` sets; accelerate then runs MULTI_CPU over gloo.
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "ACCELERATE_USE_CPU": "true",
        **extra_env,
    }
    env.pop("CUDA_VISIBLE_DEVICES", None)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}",
        str(script),
        str(cfg),
        str(tmp_path / "done"),
    ]
    # Own session, so a hung run's workers die with their launcher.
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"distributed run hung past {timeout}s (a collective on one rank only?)\n{out[-3000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, "")


def _check_finished(tmp_path: Path, proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    out = tmp_path / "out"
    ranks = [json.loads((tmp_path / f"done.rank{r}").read_text()) for r in (0, 1)]
    assert [r["step"] for r in ranks] == [2, 2]
    assert ranks[0]["eval"] is True and ranks[1]["eval"] is False  # evaluation runs once, on rank 0
    assert (out / "config.json").is_file() and (out / "prover_template.json").is_file()
    assert (out / "eval.json").is_file()
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(out))  # the saved model is whole, not a shard
    assert sum(p.numel() for p in model.parameters()) > 10_000


@pytest.mark.slow  # two torchrun processes, each importing torch and transformers: 25-30 s on 2 busy cores
def test_ddp_run_ends_on_every_rank(tmp_path: Path) -> None:
    _check_finished(tmp_path, _launch(tmp_path, {}))


@pytest.mark.slow  # two torchrun processes, each importing torch and transformers: 25-30 s on 2 busy cores
def test_sharded_run_ends_on_every_rank(tmp_path: Path) -> None:
    """FSDP / ZeRO-3's collectives at the end of training, modelled on DDP (see the worker's stand-in).

    accelerate only builds an FSDP plugin for accelerator runs (accelerate/state.py: `MULTI_CPU` is chosen
    before, and instead of, `FSDP`), so FSDP itself cannot run on this CPU build.
    """
    _check_finished(tmp_path, _launch(tmp_path, {"SHARDED_STAND_IN": "1"}, timeout=SUBPROCESS_TIMEOUT_S))
