#!/usr/bin/env bash
# The generator and training tests in a second, small venv holding the LOWEST declared versions of
# transformers, peft, accelerate and datasets (.ci/lowest-versions.txt). Called by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# The lowest-versions venv: clean (no system site-packages), torch pinned to the CPU build by
# constraints.txt, only what the generator and training tests import. pip's cache is reused between runs.
LOW="${LOWEST_VENV:-${TMPDIR:-/tmp}/lean-prover-lowest-venv}"
python -m venv --clear "$LOW"
"$LOW/bin/pip" install -q -c constraints.txt -r .ci/lowest-versions.txt \
    torch pydantic networkx typer rich psutil pytest pytest-timeout hypothesis
"$LOW/bin/pip" install -q --no-deps -e .
# Nothing may have pulled a CUDA build: no nvidia-* wheels, and torch is the +cpu build on disk.
if "$LOW/bin/pip" list 2>/dev/null | grep -qi '^nvidia-'; then
    echo "lowest-versions venv pulled CUDA wheels" >&2
    exit 1
fi
"$LOW/bin/python" - <<'PY'
import importlib.metadata as md
import sys

import torch

pins = dict(
    line.split("==") for line in open(".ci/lowest-versions.txt") if "==" in line and not line.startswith("#")
)
found = {name: md.version(name) for name in pins}
wrong = {name: (found[name], want.strip()) for name, want in pins.items() if found[name] != want.strip()}
if wrong or torch.version.cuda is not None:
    sys.exit(f"lowest-versions venv is not what it should be: {wrong or ''} torch cuda={torch.version.cuda}")
print("lowest versions:", ", ".join(f"{k} {v}" for k, v in found.items()), f"torch {torch.__version__}")
PY
"$LOW/bin/python" -m pytest -q -p no:cacheprovider tests/test_generators.py tests/test_generators_fixed.py \
    tests/test_train_*.py tests/test_gpu_check.py tests/test_seq2seq.py tests/test_remote_code.py \
    tests/test_lora_targets.py tests/test_preset_prompts.py
