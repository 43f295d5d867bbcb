"""Time and peak memory of `prover parse` and `prover prove` as a file grows, to show both are linear in it.

Workload: a generated file of N declarations, each a short theorem with a finished proof
(`theorem t_i (n : ℕ) (h : n = i) : n + 0 = i := by simp [h]`, about 70 bytes, non-ASCII like real Lean), after
the miniF2F header of `examples/demo.lean`; the last declaration is `mathd_algebra_182` of the demo with its proof
`sorry`, the one hole. For N in 1k, 4k, 16k, 32k and 64k (and N = 1, the baseline: that one theorem alone) it
runs, each in a fresh Python process (so one run's memory is not another's):

* `prover parse FILE` (the document model and its listing);
* `prover prove FILE --write --backend replay --cassette examples/demo.cassette.jsonl --generator fixed` on a
  copy of FILE: parse, hole planning, the replay backend's header contexts, the search, the whole-declaration
  verification, the diff and the write-back; the run must prove the hole and write the file.

It reports each run's CPU time (user + system: the work done, steady on a loaded machine), wall time and peak RSS
(`os.wait4`'s rusage of that process alone). The last line reads

    parse scaling: X MB per MB of source, growth xY per doubling

where X = (peak RSS at the largest N - peak RSS of the one-theorem file) / source MB, and Y = the larger of the
CPU-time ratio and the above-baseline RSS ratio from the second-largest N to the largest (a doubling), each the worse
of `parse` and `prove`. Targets: X <= 100 and Y <= 2.2 (linear growth doubles; quadratic quadruples).

    python benchmarks/bench_parse.py [--sizes 1000,4000,16000,32000,64000] [--skip-prove]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "demo.lean"
CASSETTE = ROOT / "examples" / "demo.cassette.jsonl"
HOLE = "theorem mathd_algebra_182 (y : ℂ) : 7 * (3 * y + 2) = 21 * y + 14 := by\n  sorry\n"
TARGET_MB_PER_MB = 100.0
TARGET_GROWTH = 2.2


@dataclass(frozen=True)
class Run:
    seconds: float  # CPU seconds of the process (user + system): the work done, whatever else loads the machine
    wall_s: float
    peak_mb: float


def write_file(path: Path, declarations: int) -> int:
    """The workload file with `declarations` declarations (the hole last); returns its size in bytes."""
    header = DEMO.read_text(encoding="utf-8").split("theorem mathd_algebra_182")[0]
    body = "".join(
        f"theorem t_{i} (n : ℕ) (h : n = {i}) : n + 0 = {i} := by\n  simp [h]\n\n" for i in range(declarations - 1)
    )
    data = (header + body + HOLE).encode("utf-8")
    path.write_bytes(data)
    return len(data)


def measure(argv: list[str]) -> Run:
    """Run `argv` in a fresh process; its CPU and wall time and its own peak RSS. Exits on failure."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv[2:])} failed (exit {proc.returncode}): {stderr.decode(errors='replace')[-2000:]}")
    return Run(usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024)  # ru_maxrss is in KiB on Linux


def parse_run(path: Path) -> Run:
    return measure([sys.executable, "-m", "prover.cli", "parse", str(path)])


def prove_run(path: Path) -> Run:
    run = measure(
        [
            sys.executable,
            "-m",
            "prover.cli",
            "prove",
            str(path),
            "--write",
            "--backend",
            "replay",
            "--cassette",
            str(CASSETTE),
            "--generator",
            "fixed",
        ]
    )
    text = path.read_text(encoding="utf-8")
    if "sorry" in text.rsplit("theorem mathd_algebra_182", 1)[1]:
        sys.exit(f"prove did not fill the hole of {path}")
    return run


def growth(small: Run, large: Run, base: Run) -> float:
    """The larger of the time ratio and the above-baseline peak-RSS ratio from `small` to `large`."""
    rss = (large.peak_mb - base.peak_mb) / max(small.peak_mb - base.peak_mb, 1.0)
    return max(large.seconds / small.seconds, rss)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,4000,16000,32000,64000", help="declaration counts, ascending")
    ap.add_argument("--skip-prove", action="store_true", help="measure `parse` only")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if len(sizes) < 2 or sizes != sorted(sizes):
        ap.error("--sizes needs at least two ascending counts")
    commands = {"parse": parse_run} if args.skip_prove else {"parse": parse_run, "prove": prove_run}
    results: dict[str, dict[int, Run]] = {name: {} for name in commands}
    source_mb: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench_parse_") as tmp:
        for n in [1, *sizes]:
            for name, run_one in commands.items():
                path = Path(tmp) / f"decls_{n}_{name}.lean"
                source_mb[n] = write_file(path, n) / 1e6
                run = results[name][n] = run_one(path)
                print(
                    f"{name:5s} {n:6d} declarations ({source_mb[n]:6.2f} MB): {run.seconds:7.2f} s CPU "
                    f"({run.wall_s:6.1f} s wall), "
                    f"peak RSS {run.peak_mb:7.1f} MB",
                    flush=True,
                )
    big, half = sizes[-1], sizes[-2]
    x = max((r[big].peak_mb - r[1].peak_mb) / source_mb[big] for r in results.values())
    y = max(growth(r[half], r[big], r[1]) for r in results.values())
    for name, r in results.items():
        print(
            f"{name}: {(r[big].peak_mb - r[1].peak_mb) / source_mb[big]:.1f} MB per MB, "
            f"x{growth(r[half], r[big], r[1]):.2f} from {half} to {big} declarations"
        )
    ok = x <= TARGET_MB_PER_MB and y <= TARGET_GROWTH
    print(
        f"targets: at most {TARGET_MB_PER_MB:.0f} MB per MB and x{TARGET_GROWTH} per doubling: {'met' if ok else 'MISSED'}"
    )
    print(f"parse scaling: {x:.1f} MB per MB of source, growth x{y:.2f} per doubling")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
