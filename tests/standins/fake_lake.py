"""A stand-in for `lake env CMD ...` in a Lean project, for the validation ladder's tests. NOT Lake.

`lake env CMD ARGS` runs CMD with the project's search path set (Lake's `env` command). This script
does that for the stand-in tools, and plays `lean -o OLEAN FILE` by copying FILE's text to OLEAN (a
real `.olean` cannot be built here; the stand-in checkers read this copy). Any other `lean` use fails.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "env":
        print(f"fake lake: expected `lake env CMD ...`, got {argv}", file=sys.stderr)
        return 2
    command = argv[1:]
    if command[0] == "lean":
        if len(command) != 4 or command[1] != "-o":
            print(f"fake lake: only `lean -o OLEAN FILE` is modelled, got {command}", file=sys.stderr)
            return 2
        source = Path(command[3]).read_text(encoding="utf-8")
        if "standin_compile_error" in source:
            print(f"{command[3]}:1:0: error: unknown identifier 'standin_compile_error'")
            return 1
        Path(command[2]).write_text(source, encoding="utf-8")
        return 0
    os.environ["LEAN_PATH"] = str(Path.cwd() / ".lake" / "build" / "lib" / "lean")
    os.execvp(command[0], command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
