"""A stand-in for `lake env CMD ...` in a Lean project, for the validation ladder's tests. NOT Lake.

`lake env CMD ARGS` runs CMD *as its child* with the project's search path set, waits for it and exits with
its code (Lake `src/lake/Lake/CLI/Actions.lean` `env`: `IO.Process.spawn {cmd, args, env := ← getAugmentedEnv}
>>= (·.wait)`, the same at every Lake release in lean4): killing `lake` alone leaves CMD running. This script
does the same. The search path it sets is the project's build directory for its Lean version: `.lake/build/lib`
until Lake put `.olean`s in `.lake/build/lib/lean` (lean4#7001, first in v4.18.0-rc1); the version is read from
the project's `lean-toolchain` (a nightly counts as new).

`lean` is played by this script run as the child (`--as-lean`): `lean -o OLEAN FILE` copies FILE's text to
OLEAN (a real `.olean` cannot be built here; the stand-in checkers read this copy); `lean [--threads=N] FILE`
prints nothing. Either one first takes `$FAKE_LEAN_SECONDS` (default 0), and writes its pid to
`$FAKE_LEAN_PIDFILE` when that is set, so tests can see whether it outlived a timeout.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path


def _lean_version(project: Path) -> tuple[int, ...] | None:
    try:
        text = (project / "lean-toolchain").read_text(encoding="utf-8")
    except OSError:
        return None
    m = re.search(r"v(\d+)\.(\d+)\.(\d+)(?:-rc(\d+))?", text)
    if m is None:
        return None
    return int(m[1]), int(m[2]), int(m[3]), int(m[4]) if m[4] else 1 << 30


def search_path(project: Path) -> Path:
    version = _lean_version(project)
    if version is not None and version < (4, 18, 0, 1):
        return project / ".lake" / "build" / "lib"
    return project / ".lake" / "build" / "lib" / "lean"


def as_lean(argv: list[str]) -> int:
    if pidfile := os.environ.get("FAKE_LEAN_PIDFILE"):
        Path(pidfile).write_text(str(os.getpid()), encoding="utf-8")
    time.sleep(float(os.environ.get("FAKE_LEAN_SECONDS", "0")))
    if argv[:1] == ["-o"]:
        if len(argv) != 3:
            print(f"fake lean: only `lean -o OLEAN FILE` is modelled, got {argv}", file=sys.stderr)
            return 2
        source = Path(argv[2]).read_text(encoding="utf-8")
        if "standin_compile_error" in source:
            print(f"{argv[2]}:1:0: error: unknown identifier 'standin_compile_error'")
            return 1
        Path(argv[1]).write_text(source, encoding="utf-8")
        return 0
    return compile_file(Path(argv[-1]))


# A tactic no real proof uses, standing for one that needs more than the default 200000 heartbeats.
HEAVY = "standin_heavy"


def compile_file(path: Path) -> int:
    """`lean FILE`: what it prints for the few things the tests put in FILE.

    - `#print axioms N` prints `'N' depends on axioms: [propext]` for the constant `N` resolves to (`_root_.`
      dropped), as src/Lean/Elab/Print.lean prints it.
    - A proof using `standin_heavy` runs out of heartbeats unless its declaration is preceded by
      `set_option maxHeartbeats 0 in`: Lean reports `(deterministic) timeout at `whnf`, maximum number of
      heartbeats (200000) has been reached` as an error at the tactic (lean4 src/Lean/CoreM.lean
      `throwMaxHeartbeat`; the limit comes from `maxHeartbeats` when the declaration's context is built).
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    code = 0
    for number, line in enumerate(lines, 1):
        if HEAVY in line:
            decl = max(i for i in range(number) if re.match(r"\s*(?:@\[.*\]\s*)?(?:theorem|lemma)\b", lines[i]))
            before = lines[decl - 1].strip() if decl > 0 else ""
            if before != "set_option maxHeartbeats 0 in":
                column = line.index(HEAVY)
                print(
                    f"{path}:{number}:{column}: error: (deterministic) timeout at `whnf`, maximum number of "
                    "heartbeats (200000) has been reached\nUse `set_option maxHeartbeats <num>` to set the limit."
                )
                code = 1
        m = re.match(r"#print axioms (\S+)", line)
        if m:
            print(f"'{m[1].removeprefix('_root_.')}' depends on axioms: [propext]")  # the resolved name
    return code


def main(argv: list[str]) -> int:
    if argv[:1] == ["--as-lean"]:
        return as_lean(argv[1:])
    if len(argv) < 2 or argv[0] != "env":
        print(f"fake lake: expected `lake env CMD ...`, got {argv}", file=sys.stderr)
        return 2
    command = argv[1:]
    if command[0] == "lean":
        command = [sys.executable, __file__, "--as-lean", *command[1:]]
    env = {**os.environ, "LEAN_PATH": str(search_path(Path.cwd()))}
    return subprocess.call(command, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
