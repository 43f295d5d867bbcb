"""A stand-in for `lake env lean FILE` running LeanDojo's `lean_dojo_repl` tactic. NOT Lean.

LeanDojo's `Dojo` spawns `lake env lean --threads=N --memory=M FILE` under a pty (pexpect; FILE is the
theorem's source with its proof rewritten to `by lean_dojo_repl; sorry`) and speaks Lean4Repl.lean's
protocol (lean-dojo 4.20.0, src/lean_dojo/interaction/Lean4Repl.lean): the process prints
`REPL> {"sid": 0, "tacticState": ..., "error": null}` for the initial state, then reads one JSON request
per line, `{"sid": n, "cmd": tactic}`, and answers each with one `REPL> {...}` line (other lines before
it are messages); `exit` ends it.

What this stand-in models from upstream, beyond the protocol:

- A request Lean4Repl cannot parse (`loop`: `throwError "[fatal] failed to parse JSON ..."`), or an unknown
  state id (`handleRunTac`: "[fatal] unknown tsid"), is an error *thrown by the tactic*: Lean logs it
  (`FILE:L:C: error: ...`), stops reading requests and goes on elaborating the rest of the file, then exits 1.
  Nothing answers the request, so the client waits (its tactic timeout, usually) or sees EOF much later.
  `$FAKE_DOJO_REST_OF_FILE_S` (default 3600) is how long that rest of the file takes.
- Requests arrive through a pty in canonical mode: a line past 4095 bytes reaches Lean truncated (the
  real kernel line discipline does this to the stand-in too; see termios(3)).
- Live goals are printed by `Meta.ppGoal` (Lean4Repl `ppTacticState`), which puts no blank line between a
  `case` tag and an empty context: `case h\n⊢ P`. LeanDojo's traces (ExtractData.lean `ppGoal`) write
  `case h\n\n⊢ P`, so states from the cassette are shown in the live form.
- `$FAKE_DOJO_LEAN_REJECTS_MEMORY`: this Lean does not know `--memory` (lean4#9879, lean4#10258): it prints
  `<input>:1:0: error: invalid -D parameter, unknown configuration option 'max_memory'` and exits 1
  (src/Lean/Language/Lean.lean `reparseOptions`).
- `$FAKE_DOJO_RENUMBER`: metavariable numbers (`?m.N`, `?u.N`) depend on the process's history: each
  start adds 1000 x (starts so far) to them, as a fresh Lean that elaborated other things first would.
- `$FAKE_DOJO_CRASH_ON`: tactics (one per line) that crash Lean every time (LeanDojo#201: `congr 1`): the
  process dies by SIGSEGV without answering.

It answers from a cassette of recorded real-Lean steps (`$FAKE_DOJO_CASSETTE`) for the theorem named in
FILE. An unrecorded tactic gets an error that says it comes from this stand-in. Test hooks (tactic names
no real proof uses):

- `standin_hang`: never answer (LeanDojo's tactic timeout fires);
- `standin_crash`: exit 1 without answering (EOF: `DojoCrashError`);
- `standin_crash_once`: crash the first time it is sent in this test, then behave as unrecorded;
- `standin_chatty`: print message lines before the answer, as Lean does for `trace`/warnings.

Every start appends the theorem name to `$FAKE_DOJO_STATE_DIR/starts.log`, and every request line as
received to `requests.log`, so tests can count restarts and see what reached Lean.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from pathlib import Path


def _norm(text: str) -> str:
    # Lean's tactic parser is layout-sensitive, so this stand-in distinguishes exactly what the cassette's
    # step keys distinguish (`lean_env.cassette.keys.normalize_tactic`: newlines and indentation kept).
    from lean_env.cassette.keys import normalize_tactic

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


def _tactic_error(file: str, message: str) -> int:
    """An error thrown by the `lean_dojo_repl` tactic: logged, then Lean elaborates the rest of the file."""
    print(f"{file}:4:2: error: {message}", flush=True)
    time.sleep(float(os.environ.get("FAKE_DOJO_REST_OF_FILE_S", "3600")))
    return 1


_TRACED_CASE = re.compile(r"^(case [^\n]*)\n\n(?=⊢)", re.MULTILINE)
_MVAR = re.compile(r"(\?[mu])\.(\d+)")


def _live(traced: str, offset: int) -> str:
    """A traced state as Lean4Repl prints it live (`Meta.ppGoal`), with this process's mvar numbers."""
    text = _TRACED_CASE.sub(r"\1\n", traced.replace("\n\n\n⊢", "\n\n⊢"))
    if offset:
        text = _MVAR.sub(lambda m: f"{m.group(1)}.{int(m.group(2)) + offset}", text)
    return text


def _compile(file: str, source: str) -> int:
    """`lake env lean FILE` on a whole file (a proof check): the last theorem's `by` block is replayed
    through the cassette from the theorem's recorded initial state, one top-level tactic at a time, and
    answered as Lean prints a compile (src/Lean/Message.lean: `FILE:L:C: error: ...`; `#print axioms`
    bare). A tactic the cassette lacks is an error that says it comes from this stand-in."""
    lines = source.split("\n")
    heads = [i for i, line in enumerate(lines) if re.match(r"(?:theorem|lemma)\s", line)]
    prints = [i for i, line in enumerate(lines) if line.startswith("#print axioms ")]
    if not heads or not prints:
        print(f"{file}:1:0: error: stand-in: no theorem and `#print axioms` to compile", flush=True)
        return 1
    head, end = heads[-1], prints[-1]
    name = lines[head].split()[1]
    # Lean prints the full name the `#print axioms` argument resolves to (`_root_.` dropped: Print.lean printAxiomsOf).
    printed = lines[end].removeprefix("#print axioms ").strip().removeprefix("_root_.")
    by = next((i for i in range(head, end) if lines[i].rstrip().endswith(":= by")), None)
    theorems, steps = _load_cassette(os.environ["FAKE_DOJO_CASSETTE"])
    state = theorems.get(name)
    if by is None or state is None:
        print(f"{file}:{head + 1}:0: error: stand-in: {name} is not a recorded `by` proof", flush=True)
        return 1
    body = [(i, line) for i, line in enumerate(lines[by + 1 : end], by + 1) if line.strip()]
    indent = len(body[0][1]) - len(body[0][1].lstrip()) if body else 2
    tactics: list[tuple[int, str]] = []
    for i, line in body:
        if len(line) - len(line.lstrip()) <= indent or not tactics:
            tactics.append((i, line[indent:]))
        else:
            tactics[-1] = (tactics[-1][0], tactics[-1][1] + "\n" + line[indent:])
    axioms = "propext"
    for i, tactic in tactics:
        if state == "no goals":
            print(f"{file}:{i + 1}:{indent}: error: no goals to be proved", flush=True)
            return 1
        result = steps.get((state.strip(), _norm(tactic)))
        if result is None:
            print(
                f"{file}:{i + 1}:{indent}: error: stand-in (not Lean): no recorded result for this tactic", flush=True
            )
            return 1
        if result["kind"] == "state":
            state = str(result["pp"])
        elif result["kind"] == "finished":
            state = "no goals"
        elif result["kind"] == "given_up":
            print(f"{file}:{head + 1}:8: warning: declaration uses 'sorry'", flush=True)
            state, axioms = "no goals", "sorryAx"
        else:
            print(f"{file}:{i + 1}:{indent}: error: {result.get('message', 'error')}", flush=True)
            return 1
    if state != "no goals":
        print(f"{file}:{by + 1}:0: error: unsolved goals\n{_live(state, 0)}", flush=True)
        return 1
    print(f"'{printed}' depends on axioms: [{axioms}]", flush=True)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[:2] != ["env", "lean"]:
        print(f"fake lake: expected `lake env lean ... FILE`, got {argv}", file=sys.stderr)
        return 2
    file = argv[-1]
    if os.environ.get("FAKE_DOJO_LEAN_REJECTS_MEMORY") and any(a.startswith("--memory") for a in argv):
        print("<input>:1:0: error: invalid -D parameter, unknown configuration option 'max_memory'", flush=True)
        return 1
    source = Path(file).read_text(encoding="utf-8")
    if "lean_dojo_repl" not in source:
        return _compile(file, source)
    name = _repl_theorem(file, source)
    if name is None:
        return 1
    state_dir = Path(os.environ["FAKE_DOJO_STATE_DIR"])
    earlier = _log_start(state_dir, name)
    offset = 1000 * earlier if os.environ.get("FAKE_DOJO_RENUMBER") else 0
    crash_on = {t for t in os.environ.get("FAKE_DOJO_CRASH_ON", "").split("\n") if t}
    theorems, steps = _load_cassette(os.environ["FAKE_DOJO_CASSETTE"])
    initial = theorems.get(name)
    if initial is None:
        print(f"{file}:1:0: error: unknown identifier '{name}' (stand-in: not in the cassette)", flush=True)
        return 1
    return _serve(file, initial, steps, state_dir, offset, crash_on)


def _repl_theorem(file: str, source: str) -> str | None:
    """The theorem whose proof runs `lean_dojo_repl`; None (after Lean's error) when there is none to run."""
    if "import Lean4Repl" not in source:
        print(f"{file}:1:0: error: unknown tactic (stand-in: the file does not import Lean4Repl)", flush=True)
        return None
    m = re.search(r"(?:theorem|lemma)\s+(\S+)[^\n]*\n(?:.*\n)*?\s*lean_dojo_repl", source)
    if m is None:
        print(f"{file}:1:0: error: stand-in: no theorem runs lean_dojo_repl", flush=True)
        return None
    return m.group(1)


def _log_start(state_dir: Path, name: str) -> int:
    """Append `name` to the starts log; how many starts it held before."""
    starts_log = state_dir / "starts.log"
    earlier = len(starts_log.read_text(encoding="utf-8").splitlines()) if starts_log.exists() else 0
    with starts_log.open("a", encoding="utf-8") as log:
        log.write(name + "\n")
    return earlier


def _serve(
    file: str,
    initial: str,
    steps: dict[tuple[str, str], dict[str, object]],
    state_dir: Path,
    offset: int,
    crash_on: set[str],
) -> int:
    """Answer `lean_dojo_repl` requests from stdin until `exit`; the exit code."""
    states: list[str] = [initial]  # as recorded (traced form): the cassette's keys
    _respond(0, _live(initial, offset), None)
    for raw in sys.stdin:
        with (state_dir / "requests.log").open("a", encoding="utf-8") as log:
            log.write(json.dumps(raw) + "\n")
        line = raw.strip()
        if line == "exit":
            break
        request = _parse_request(file, line, len(states))
        if isinstance(request, int):
            return request
        sid, tactic = request
        crashed = _stand_in_fault(tactic, crash_on, state_dir)
        if crashed is not None:
            return crashed
        _answer(steps.get((states[sid].strip(), _norm(tactic))), tactic, states, offset)
    return 0


def _parse_request(file: str, line: str, known_states: int) -> tuple[int, str] | int:
    """The request's state id and tactic, or the exit code after the tactic's fatal error."""
    try:
        req = json.loads(line)
    except ValueError as exc:
        return _tactic_error(file, f"[fatal] failed to parse JSON {exc}")
    try:
        sid, tactic = int(req["sid"]), str(req["cmd"])
    except (ValueError, KeyError, TypeError) as exc:
        return _tactic_error(file, f"[fatal] parse_failed: data={exc}")
    if not 0 <= sid < known_states:
        return _tactic_error(file, f"[fatal] unknown tsid: {sid}")
    return sid, tactic


def _stand_in_fault(tactic: str, crash_on: set[str], state_dir: Path) -> int | None:
    """The faults tests ask for by tactic: a segfault, a hang, an exit (once, or every time), a stray line."""
    if tactic in crash_on:
        os.kill(os.getpid(), signal.SIGSEGV)
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
    return None


def _answer(result: dict[str, object] | None, tactic: str, states: list[str], offset: int) -> None:
    """Reply with the recorded result of `tactic`; a new proof state is appended to `states`."""
    if result is None:
        _respond(None, None, f"unrecorded: the fake_dojo stand-in (not Lean) has no result for `{_norm(tactic)}`")
    elif result["kind"] == "state":
        states.append(str(result["pp"]))
        _respond(len(states) - 1, _live(states[-1], offset), None)
    elif result["kind"] == "finished":
        states.append("no goals")
        _respond(len(states) - 1, "no goals", None)
    elif result["kind"] == "given_up":
        _respond(None, None, "proof contains `sorry`")
    else:
        _respond(None, None, str(result.get("message", "error")))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
