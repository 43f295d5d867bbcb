"""Verifier throughput: every check re-importing the header (the old way) against the imports' environment
elaborated once per verifier process (the new way), side by side.

Both ways run the real `lean_env.checks.verifier.ReplVerifier` over a real subprocess speaking the REPL's protocol
(`ReplProcess`: JSON requests separated by blank lines). The subprocess is a stand-in REPL (this file with
`--standin`) that charges what Lean charges:

* a command without `env` that imports something costs `--import-s` seconds (default 2 s) and, the first
  time in a process, `--import-mb` MB of resident memory (the imported .olean data, default 256 MB);
* a command on an `env` (a check) costs `--check-s` seconds (default 0.1 s);
* every environment a command creates stays resident (`--env-mb`, default 1 MB): the REPL never frees one.

It answers a check with `#print axioms` info messages on the lines where the source asks for them, in Lean's
format (`'NAME' depends on axioms: [propext]`), so every check is Verified and the verdicts of both ways
agree. The new way restarts its process after `--max-checks` checks (default 100) or above
`--restart-mb` MB (default 512).

    python benchmarks/bench_verify.py [--checks 200] [--old-checks 10] [--import-s 2] [--check-s 0.1]

Target (2 s import, 0.1 s check, restarts after >= 100 checks, <= 512 MB): at most 1 import per 100 checks
and at least 10x the old way's checks/s. The last line reads
`verify throughput: X checks/s, Y imports per 100 checks (Zx the per-check re-import)`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

HEADER = "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 400000\nopen Real Nat\n"


# -- the stand-in REPL ---------------------------------------------------------------------------------


def _requests(stream: TextIO) -> Iterator[str]:
    lines: list[str] = []
    for line in stream:
        if line.strip():
            lines.append(line)
        elif lines:
            yield "".join(lines)
            lines = []


def _resident(mb: int) -> bytearray:
    """`mb` MB that really are resident: one byte written on every page."""
    buf = bytearray(mb << 20)
    buf[::4096] = b"\1" * len(range(0, len(buf), 4096))
    return buf


def standin(import_s: float, import_mb: int, check_s: float, env_mb: int) -> int:
    """Serve REPL requests on stdin/stdout with Lean's costs (see the module docstring)."""
    resident: list[bytearray] = []
    imported = False
    envs = 0
    for block in _requests(sys.stdin):
        request = json.loads(block, strict=False)
        cmd = str(request.get("cmd", ""))
        if "env" not in request and re.search(r"^import ", cmd, re.MULTILINE):
            time.sleep(import_s)
            if not imported:
                resident.append(_resident(import_mb))
                imported = True
        elif "env" in request:
            if not 0 <= int(request["env"]) < envs:
                sys.stdout.write(json.dumps({"message": "Unknown environment."}) + "\n\n")
                sys.stdout.flush()
                continue
            time.sleep(check_s)
        resident.append(_resident(env_mb))
        messages = []
        for number, line in enumerate(cmd.split("\n"), start=1):
            if line.startswith("#print axioms "):
                # Lean prints the resolved full name: the verifier's `_root_.` anchor is not part of it.
                name = line.removeprefix("#print axioms ").strip().removeprefix("_root_.")
                messages.append(
                    {
                        "severity": "info",
                        "pos": {"line": number, "column": 0},
                        "endPos": {"line": number, "column": len(line)},
                        "data": f"'{name}' depends on axioms: [propext]",
                    }
                )
        answer: dict[str, object] = {"env": envs}
        if messages:
            answer["messages"] = messages
        envs += 1
        sys.stdout.write(json.dumps(answer) + "\n\n")
        sys.stdout.flush()
    return 0


# -- the benchmark ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Costs:
    import_s: float
    import_mb: int
    check_s: float
    env_mb: int

    def argv(self) -> tuple[str, ...]:
        return (
            sys.executable,
            str(Path(__file__).resolve()),
            "--standin",
            "--import-s",
            str(self.import_s),
            "--import-mb",
            str(self.import_mb),
            "--check-s",
            str(self.check_s),
            "--env-mb",
            str(self.env_mb),
        )


@dataclass(frozen=True)
class Run:
    way: str
    checks: int
    seconds: float
    imports: int
    recycles: int
    verified: int

    @property
    def rate(self) -> float:
        return self.checks / self.seconds

    @property
    def imports_per_100(self) -> float:
        return 100.0 * self.imports / self.checks


def run_way(way: str, checks: int, costs: Costs, max_checks: int | None, restart_mb: int | None) -> Run:
    from lean_env.backends.repl import ReplSettings
    from lean_env.checks.verdict import Verified
    from lean_env.checks.verifier import ReplVerifier, VerifierPolicy
    from lean_env.types import Theorem

    policy = VerifierPolicy(share_imports=way == "new", max_checks=max_checks, restart_memory_mb=restart_mb)
    settings = ReplSettings(command=costs.argv(), memory_limit_mb=None, command_timeout_s=60, start_timeout_s=60)
    verified = 0
    with ReplVerifier(settings, policy=policy) as verifier:
        t0 = time.perf_counter()
        for i in range(checks):
            theorem = Theorem(f"t{i}", f"theorem t{i} (n : ℕ) (h : 0 < n) : {i} * n + n = ({i} + 1) * n", HEADER)
            verdict = verifier.verify(theorem, "ring")
            verified += isinstance(verdict, Verified)
        seconds = time.perf_counter() - t0
        return Run(way, checks, seconds, verifier.imports_elaborated, verifier.recycles, verified)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--checks", type=int, default=200, help="checks the new way runs (default 200)")
    parser.add_argument("--old-checks", type=int, default=10, help="checks the old way runs (default 10)")
    parser.add_argument("--import-s", type=float, default=2.0)
    parser.add_argument("--import-mb", type=int, default=256)
    parser.add_argument("--check-s", type=float, default=0.1)
    parser.add_argument("--env-mb", type=int, default=1)
    parser.add_argument("--max-checks", type=int, default=100, help="new way: fresh process after N checks")
    parser.add_argument("--restart-mb", type=int, default=512, help="new way: fresh process above this RSS")
    parser.add_argument("--standin", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.standin:
        return standin(args.import_s, args.import_mb, args.check_s, args.env_mb)

    costs = Costs(args.import_s, args.import_mb, args.check_s, args.env_mb)
    print(
        f"stand-in REPL: import {costs.import_s:g} s (+{costs.import_mb} MB once per process), "
        f"check {costs.check_s:g} s, {costs.env_mb} MB kept per environment; new way restarts after "
        f"{args.max_checks} checks or above {args.restart_mb} MB",
        flush=True,
    )
    old = run_way("old", args.old_checks, costs, None, None)
    new = run_way("new", args.checks, costs, args.max_checks, args.restart_mb)
    print(f"{'way':<34} {'checks':>6} {'seconds':>8} {'checks/s':>9} {'imports/100':>12} {'restarts':>9}")
    for run, label in ((old, "old: every check re-imports"), (new, "new: imports once per process")):
        print(
            f"{label:<34} {run.checks:>6} {run.seconds:>8.2f} {run.rate:>9.2f} "
            f"{run.imports_per_100:>12.1f} {run.recycles:>9}"
        )
        if run.verified != run.checks:
            print(f"error: the {run.way} way verified {run.verified}/{run.checks} checks", file=sys.stderr)
            return 1
    speedup = new.rate / old.rate
    print(
        f"verify throughput: {new.rate:.2f} checks/s, {new.imports_per_100:.2f} imports per 100 checks "
        f"({speedup:.1f}x the per-check re-import)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
