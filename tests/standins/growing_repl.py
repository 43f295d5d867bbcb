"""A stand-in Lean REPL whose resident memory is a model, written to a file for the test to read. NOT the REPL.

What it models: the REPL's framing (one JSON request up to a blank line, one JSON answer and a blank line;
leanprover-community/repl `REPL/Main.lean`), a fresh environment id per command, and a `#print axioms` line
answered as Lean does (`'N' depends on axioms: [propext]` at that line, `N` without `_root_.`). Memory: a
Mathlib import leaves the process at `--import-mb` (Lean maps every imported `.olean`), and every command on
top keeps `--check-mb` more (the REPL never frees an environment). Allocating gigabytes is not possible on a
test machine, so after each answer the model's resident MB is written to `--rss-file`; the test reads it
where the verifier measures the process tree's resident memory.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--import-mb", type=float, required=True)
    parser.add_argument("--check-mb", type=float, required=True)
    parser.add_argument("--rss-file", type=Path, required=True)
    args = parser.parse_args()
    resident = 50.0  # a REPL with nothing imported
    env = 0
    lines: list[str] = []
    for raw in sys.stdin:
        line = raw.rstrip("\n")
        if line.strip() or not lines:
            if line.strip():
                lines.append(line)
            continue
        request = json.loads("\n".join(lines))
        lines = []
        cmd = request["cmd"]
        resident += args.import_mb if "env" not in request else args.check_mb
        messages = []
        for number, text in enumerate(cmd.split("\n"), start=1):
            if text.startswith("#print axioms "):
                name = text.removeprefix("#print axioms ").strip().removeprefix("_root_.")
                data = f"'{name}' depends on axioms: [propext]"
                messages.append({"severity": "info", "pos": {"line": number, "column": 0}, "data": data})
        answer = {"env": env, "messages": messages} if messages else {"env": env}
        env += 1
        args.rss_file.write_text(f"{resident}", encoding="utf-8")
        sys.stdout.write(json.dumps(answer) + "\n\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
