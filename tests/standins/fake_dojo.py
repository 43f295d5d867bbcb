"""A stand-in for `lake env lean FILE` running LeanDojo's `lean_dojo_repl` tactic. NOT Lean.

LeanDojo's `Dojo` spawns `lake env lean --threads=N --memory=M FILE` (FILE is the theorem's source with
its proof rewritten to `by lean_dojo_repl; sorry`) and speaks Lean4Repl.lean's protocol: the process
prints `REPL> {"sid": 0, "tacticState": ..., "error": null}` for the initial state, then reads one JSON
request per line, `{"sid": n, "cmd": tactic}`, and answers each with one `REPL> {...}` line (other
lines before it are messages); `exit` ends it; a `[fatal]` error kills the process.

This script plays that process, answering from a cassette of recorded real-Lean steps
(`$FAKE_DOJO_CASSETTE`) for the theorem named in FILE. An unrecorded tactic gets an error that says
it comes from this stand-in. Test hooks (tactic names no real proof uses):

- `standin_hang`: never answer (LeanDojo's tactic timeout fires);
- `standin_crash`: exit 1 without answering (EOF: `DojoCrashError`);
- `standin_crash_once`: crash the first time it is sent in this test, then behave as unrecorded;
- `standin_chatty`: print message lines before the answer, as Lean does for `trace`/warnings.

Every start appends the theorem name to `$FAKE_DOJO_STATE_DIR/starts.log`, so tests can count restarts.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path


def _norm(text: str) -> str:
    # Lean's tactic parser is layout-sensitive, so this stand-in distinguishes exactly what the cassette's
    # step keys distinguish (`lean_env.cassette.normalize_tactic`: newlines and indentation kept).
    from lean_env.cassette import normalize_tactic

    return normalize_tactic(text)


def _load_cassette(path: str) -> tuple[dict[str, str | None], dict[tuple[str, str], dict[str, object]]]:
    theorems: dict[str, str | None] = {}
    steps: dict[tuple[str, str], dict[str, object]] = {}
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        if not raw.strip():
            continue
        line = json.loads(raw)
        if line["kind"] == "theorem":
            theorems[line["name"]] = line.get("initial_state")
        elif line["kind"] == "step":
            steps[(line["state"].strip(), _norm(line["tactic"]))] = line["result"]
    return theorems, steps


def _respond(sid: int | None, tactic_state: str | None, error: str | None) -> None:
    print("REPL> " + json.dumps({"sid": sid, "tacticState": tactic_state, "error": error}, ensure_ascii=False))
    sys.stdout.flush()


def _fatal(message: str) -> None:
    # Lean prints uncaught errors of the elaborated file and exits non-zero.
    print(f"error: [fatal] {message}", flush=True)
    sys.exit(1)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[:2] != ["env", "lean"]:
        print(f"fake lake: expected `lake env lean ... FILE`, got {argv}", file=sys.stderr)
        return 2
    source = Path(argv[-1]).read_text(encoding="utf-8")
    if "import Lean4Repl" not in source or "lean_dojo_repl" not in source:
        _fatal("the file does not run lean_dojo_repl")
    m = re.search(r"(?:theorem|lemma)\s+(\S+)[^\n]*\n(?:.*\n)*?\s*lean_dojo_repl", source)
    if m is None:
        _fatal("no theorem runs lean_dojo_repl")
    assert m is not None
    name = m.group(1)
    state_dir = Path(os.environ["FAKE_DOJO_STATE_DIR"])
    with (state_dir / "starts.log").open("a", encoding="utf-8") as log:
        log.write(name + "\n")
    theorems, steps = _load_cassette(os.environ["FAKE_DOJO_CASSETTE"])
    initial = theorems.get(name)
    if initial is None:
        print(f"{argv[-1]}:1:0: error: unknown identifier '{name}' (stand-in: not in the cassette)", flush=True)
        return 1

    states: list[str] = [initial]
    _respond(0, initial, None)
    for raw in sys.stdin:
        line = raw.strip()
        if line == "exit":
            break
        try:
            req = json.loads(line)
            sid, tactic = int(req["sid"]), str(req["cmd"])
        except (ValueError, KeyError, TypeError):
            _fatal(f"failed to parse JSON {line!r}")
        if not 0 <= sid < len(states):
            _fatal(f"unknown tsid: {sid}")
        if tactic == "standin_hang":
            time.sleep(3600)
        if tactic == "standin_crash":
            return 1
        if tactic == "standin_crash_once":
            marker = state_dir / "crashed_once"
            if not marker.exists():
                marker.write_text("1", encoding="utf-8")
                return 1
        if tactic == "standin_chatty":
            print("info: a message Lean printed while running the tactic", flush=True)
        result = steps.get((states[sid].strip(), _norm(tactic)))
        if result is None:
            _respond(None, None, f"unrecorded: the fake_dojo stand-in (not Lean) has no result for `{_norm(tactic)}`")
        elif result["kind"] == "state":
            states.append(str(result["pp"]))
            _respond(len(states) - 1, states[-1], None)
        elif result["kind"] == "finished":
            states.append("no goals")
            _respond(len(states) - 1, "no goals", None)
        elif result["kind"] == "given_up":
            _respond(None, None, "proof contains `sorry`")
        else:
            _respond(None, None, str(result.get("message", "error")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
