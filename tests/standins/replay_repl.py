#!/usr/bin/env python3
"""A stand-in for the Lean REPL that replays a transcript recorded from real Lean.

It is never mistaken for Lean: it only answers the exact requests recorded in IN_FILE, in order, each with
the response real Lean printed for it (OUT_FILE, default IN_FILE with `.in` -> `.expected.out`). A request
that differs from the recording makes it exit with code 3 and say why on stderr, as a crashed REPL would.

Fault options make it misbehave at the N-th request (1-based), to test the client's recovery:
  --fault hang     never answer
  --fault crash    print half of the recorded answer, then die (exit 1)
  --fault garbage  answer with text that is not JSON
  --fault huge     stream an endless JSON answer that never ends
  --fault memory   allocate --mb MB (touching every page), then never answer
  --fault stray    answer, then print an extra answer nobody asked for
  --fault exit     exit silently (code 0) without answering
--once FILE makes the fault happen only if FILE does not exist yet (it is created when the fault fires), so
the restarted process behaves. --delay S waits S seconds before each answer (simulated Lean latency).
--log FILE appends every request exactly as received (its bytes, with the blank line that ends it), so a
test can assert the exact request sent.
"""

from __future__ import annotations

import argparse
import enum
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, TextIO


def split_blocks(text: str) -> list[str]:
    return [b for b in re.split(r"\n[ \t]*\n", text) if b.strip()]


def read_requests(stream, log=None):
    lines: list[str] = []
    for line in stream:
        if line.strip():
            lines.append(line)
            continue
        if lines:
            if log is not None:
                with open(log, "a", encoding="utf-8") as f:
                    f.write("".join(lines) + line)
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("in_file")
    ap.add_argument("out_file", nargs="?")
    ap.add_argument("--fault", choices=["hang", "crash", "garbage", "huge", "memory", "stray", "exit"])
    ap.add_argument("--at", type=int, default=1)
    ap.add_argument("--once")
    ap.add_argument("--mb", type=int, default=400)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--log")
    args = ap.parse_args()

    in_path = Path(args.in_file)
    out_path = (
        Path(args.out_file) if args.out_file else in_path.with_name(in_path.name[: -len(".in")] + ".expected.out")
    )
    # Some recorded requests contain raw newlines inside strings, which Lean's JSON parser accepts.
    recorded = [json.loads(b, strict=False) for b in split_blocks(in_path.read_text(encoding="utf-8"))]
    answers = split_blocks(out_path.read_text(encoding="utf-8"))
    out = sys.stdout

    for n, block in enumerate(read_requests(sys.stdin, args.log), start=1):
        mismatch = _check_request(n, block, recorded, in_path.name)
        if mismatch is not None:
            sys.stderr.write(f"replay stand-in: {mismatch}\n")
            return 3
        answer = answers[n - 1]
        if args.delay:
            time.sleep(args.delay)
        if _fault_fires(args, n):
            written = _inject_fault(args, answer, out)
            if written is _FaultDone.NEXT_REQUEST:
                continue
            if written is _FaultDone.EXIT:
                return 0
        out.write(answer.strip() + "\n\n")
        out.flush()
    return 0


def _check_request(n: int, block: str, recorded: list[Any], recording: str) -> str | None:
    """Why request #`n` is not the one recorded in `recording` (not JSON, one too many, different); None if it is."""
    try:
        got = json.loads(block, strict=False)
    except json.JSONDecodeError as exc:
        return f"request #{n} is not JSON ({exc})"
    if n > len(recorded):
        return f"request #{n} is beyond the {len(recorded)} recorded in {recording}"
    if got != recorded[n - 1]:
        return (
            f"request #{n} differs from {recording}\n"
            f"  recorded: {json.dumps(recorded[n - 1], ensure_ascii=False)}\n"
            f"  received: {json.dumps(got, ensure_ascii=False)}"
        )
    return None


def _fault_fires(args: argparse.Namespace, n: int) -> bool:
    """Whether `--fault` hits request #`n` (`--at`); with `--once FILE`, only in the first process to get there."""
    if args.fault is None or n != args.at:
        return False
    if args.once:
        if os.path.exists(args.once):
            return False
        Path(args.once).write_text("fired\n")
    return True


class _FaultDone(enum.Enum):
    ANSWER = "answer"  # the recorded answer follows as usual
    NEXT_REQUEST = "next request"  # the fault's output stands in for the answer
    EXIT = "exit"  # the process exits cleanly without answering


def _inject_fault(args: argparse.Namespace, answer: str, out: TextIO) -> _FaultDone:
    """Misbehave as `--fault` says; the faults that end the process never return."""
    if args.fault == "hang":
        time.sleep(3600)
    elif args.fault == "crash":
        out.write(answer[: len(answer) // 2])
        out.flush()
        os._exit(1)
    elif args.fault == "garbage":
        out.write("uncaught exception: this is not JSON\n\n")
        out.flush()
        return _FaultDone.NEXT_REQUEST
    elif args.fault == "huge":
        chunk = '{"messages": [' + ('{"data": "' + "x" * 65536 + '"}, ') * 16
        while True:
            out.write(chunk)
            out.flush()
    elif args.fault == "memory":
        hog = b"x" * (args.mb * 1024 * 1024)  # noqa: F841  (resident until killed)
        time.sleep(3600)
    elif args.fault == "stray":
        out.write(answer.strip() + "\n\n" + answer.strip() + "\n\n")
        out.flush()
        return _FaultDone.NEXT_REQUEST
    elif args.fault == "exit":
        return _FaultDone.EXIT
    return _FaultDone.ANSWER


if __name__ == "__main__":
    sys.exit(main())
