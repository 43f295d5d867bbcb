"""A stand-in for `lean4checker <Module>` (github.com/leanprover/lean4checker, Main.lean @10492a53). NOT it.

The real tool finds `<Module>.olean` on the search path (`LEAN_PATH`, set by `lake env`), replays each
constant into the environment of its imports printing `Replaying thm <name>` (or defn/axiom/...), and
returns 0; a kernel exception or a missing object file is an uncaught IO error, which Lean's runtime
prints as `uncaught exception: ...` before exiting with 1. A usage error is also an uncaught error.

The "olean" here is the module's source text (see fake_lake.py). A line containing
`standin_environment_hack` plays a declaration the kernel rejects on replay.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("uncaught exception: Usage: lake exe lean4checker Mathlib.Data.Nat.Basic", file=sys.stderr)
        return 1
    module = argv[0]
    root = Path(os.environ.get("LEAN_PATH", "."))
    olean = root.joinpath(*module.split(".")).with_suffix(".olean")
    if not olean.is_file():
        print(f"uncaught exception: object file '{olean}' of module {module} does not exist", file=sys.stderr)
        return 1
    for line in olean.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\s*(theorem|lemma|def|axiom)\s+(\S+)", line)
        if m:
            kind = {"lemma": "thm", "theorem": "thm"}.get(m.group(1), m.group(1))
            print(f"Replaying {kind} {m.group(2)}")
        if "standin_environment_hack" in line:
            print("uncaught exception: (kernel) declaration type mismatch", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
