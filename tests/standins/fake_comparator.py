"""A stand-in for `comparator <config.json>` (github.com/leanprover/comparator, README @04398414). NOT it.

The real tool reads the JSON config (`challenge_module`, `solution_module`, `theorem_names`,
`permitted_axioms`, optional `json_output_path`), builds both modules, and exits 0 only when every named
theorem in the solution has the challenge's statement, uses only permitted axioms and passes the kernel;
otherwise it reports the failure and exits non-zero. This stand-in reads the modules' sources from the
project (cwd) and checks the statement text and, as the axiom check, that the solution has no `sorry`
and no `axiom`; `standin_environment_hack` plays a kernel rejection.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path


def _statement(source: str, name: str) -> str | None:
    short = name.rsplit(".", 1)[-1]
    m = re.search(rf"(?:theorem|lemma)\s+(?:\S*\.)?{re.escape(short)}\b(.*?):=", source, re.DOTALL)
    return " ".join(m.group(1).split()) if m else None


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: comparator config.json", file=sys.stderr)
        return 2
    config = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    read = lambda module: Path(*module.split(".")).with_suffix(".lean").read_text(encoding="utf-8")  # noqa: E731
    challenge, solution = read(config["challenge_module"]), read(config["solution_module"])
    outcomes = []
    for name in config["theorem_names"]:
        wanted, got = _statement(challenge, name), _statement(solution, name)
        if got is None or got != wanted:
            outcomes.append((name, "statement mismatch"))
        elif re.search(r"\bsorry\b|^\s*axiom\b", solution, re.MULTILINE):
            outcomes.append((name, "uses non-permitted axioms: sorryAx"))
        elif "standin_environment_hack" in solution:
            outcomes.append((name, "kernel rejected the declaration"))
    if config.get("json_output_path"):
        Path(config["json_output_path"]).write_text(json.dumps([{"name": n, "failure": f} for n, f in outcomes]))
    for name, failure in outcomes:
        print(f"error: {name}: {failure}", file=sys.stderr)
    return 1 if outcomes else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
