"""DojoEnv over the REAL lean_dojo.Dojo, talking to a stand-in `lake env lean` process.

What is real: `lean_dojo.LeanGitRepo` and `lean_dojo.Theorem` (on a local git repository), and all of
`Dojo`'s interaction code: `__init__`, `__enter__` (writing the modified file, spawning the process with
pexpect, reading the initial `REPL>` line), `run_tac`, `_submit_request`, `_read_next_line` (timeouts,
EOF), `_check_alive`, `__exit__` (killing the process). What is patched: only what needs a traced
repository and a Lean toolchain: `get_traced_repo_path` (returns a prepared folder),
`Dojo._locate_traced_file` and `Dojo._get_modified_proof` (no `*.ast.json` to read), LeanDojo's remote
cache (off; a temporary local cache), and `lake` on PATH, which runs tests/standins/fake_dojo.py: it
answers in Lean4Repl's protocol from a cassette of recorded real-Lean steps and is never Lean.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lean_env.cassette import build_from_proofsteps
from lean_env.dojo import DojoEnv
from lean_env.errors import LeanCrashError, TheoremStartError
from lean_env.types import (
    DojoSource,
    LeanError,
    ProofFinished,
    ProofGivenUp,
    ProofState,
    StateResult,
    TacticTimeout,
    Theorem,
)

STANDIN = Path(__file__).parent / "standins" / "fake_dojo.py"
SAMPLE = "leandojo_benchmark4_random_test_sample100.jsonl"


def _linear_theorems(shared: Path) -> dict[str, list[dict[str, Any]]]:
    """LeanDojo-sample theorems whose recorded steps chain from step 0 to `no goals`."""
    by_thm: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in (shared / "data" / "proofsteps" / SAMPLE).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        by_thm[row["theorem"]].append(row)
    out = {}
    for name, rows in by_thm.items():
        rows.sort(key=lambda r: r["step"])
        chained = all(a["state_after"] == b["state_before"] for a, b in zip(rows, rows[1:], strict=False))
        if rows[0]["step"] == 0 and len(rows) >= 3 and chained and rows[-1]["state_after"] == "no goals":
            out[name] = rows
    return out


@pytest.fixture(scope="module")
def recorded(shared: Path) -> tuple[str, list[dict[str, Any]]]:
    linear = _linear_theorems(shared)
    assert linear, "the shared LeanDojo sample has multi-step proofs"
    name = sorted(linear)[0]
    return name, linear[name]


@pytest.fixture
def standin(tmp_path: Path, shared: Path, monkeypatch: pytest.MonkeyPatch, recorded: Any) -> dict[str, Any]:
    import lean_dojo
    from lean_dojo.data_extraction import cache as cache_mod
    from lean_dojo.data_extraction import lean as lean_mod
    from lean_dojo.interaction import dojo as dojo_mod

    name, rows = recorded
    file_path = rows[0]["file"]
    # A local git repository: the real LeanGitRepo validates it offline.
    repo = tmp_path / "repo"
    (repo / file_path).parent.mkdir(parents=True)
    (repo / "lean-toolchain").write_text("leanprover/lean4:v4.20.0\n", encoding="utf-8")
    (repo / file_path).write_text(f"theorem {name} : True := by\n  trivial\n", encoding="utf-8")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()

    traced = tmp_path / "traced"
    shutil.copytree(repo, traced, ignore=shutil.ignore_patterns(".git"))
    shutil.copy(Path(lean_dojo.__file__).parent / "interaction" / "Lean4Repl.lean", traced / "Lean4Repl.lean")

    def modified_proof(self: Any, traced_file: Any) -> str:
        # The real method cuts the proof out of the traced AST; the rewrite it produces looks like this.
        return str(self._get_imports()) + (
            f"set_option maxHeartbeats 0 in\ntheorem {self.entry.full_name} : True := by\n  lean_dojo_repl\n  sorry\n"
        )

    monkeypatch.setattr(cache_mod, "DISABLE_REMOTE_CACHE", True)
    monkeypatch.setattr(lean_mod, "repo_cache", cache_mod.Cache(tmp_path / "cache"))
    monkeypatch.setattr(dojo_mod, "get_traced_repo_path", lambda repo, build_deps=True: traced)
    monkeypatch.setattr(
        dojo_mod.Dojo,
        "_locate_traced_file",
        lambda self, root: SimpleNamespace(abs_path=root / self.file_path, has_prelude=False),
    )
    monkeypatch.setattr(dojo_mod.Dojo, "_get_modified_proof", modified_proof)

    bindir = tmp_path / "bin"
    bindir.mkdir()
    lake = bindir / "lake"
    lake.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STANDIN}" "$@"\n', encoding="utf-8")
    lake.chmod(lake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")

    cassette = build_from_proofsteps([shared / "data" / "proofsteps" / SAMPLE]).cassette
    # One recorded given-up answer, in the shape LeanDojo reports it, to exercise that mapping.
    cassette_path = tmp_path / "cassette.jsonl"
    text = cassette.dumps() + json.dumps(
        {
            "kind": "step",
            "state": rows[0]["state_before"],
            "tactic": "exact standin_gives_up",
            "result": {"kind": "given_up"},
        }
    )
    cassette_path.write_text(text + "\n", encoding="utf-8")
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    monkeypatch.setenv("FAKE_DOJO_CASSETTE", str(cassette_path))
    monkeypatch.setenv("FAKE_DOJO_STATE_DIR", str(state_dir))
    source = DojoSource(url=str(repo), commit=commit, file_path=file_path, full_name=name)
    return {"source": source, "rows": rows, "state_dir": state_dir, "name": name}


def _starts(standin: dict[str, Any]) -> int:
    log = standin["state_dir"] / "starts.log"
    return len(log.read_text(encoding="utf-8").splitlines()) if log.exists() else 0


def _theorem(standin: dict[str, Any]) -> Theorem:
    return Theorem(name=standin["name"], statement="", dojo=standin["source"])


def test_recorded_proof_through_real_dojo(standin: dict[str, Any]) -> None:
    rows = standin["rows"]
    with DojoEnv(timeout=20) as env:
        state = env.start(_theorem(standin))
        assert state.pp == rows[0]["state_before"]
        for row in rows[:-1]:
            result = env.run_tactic(state, row["tactic"])
            assert isinstance(result, StateResult), result
            assert result.state.pp == row["state_after"]
            state = result.state
        assert isinstance(env.run_tactic(state, rows[-1]["tactic"]), ProofFinished)
    assert _starts(standin) == 1


def test_errors_given_up_filter_and_messages(standin: dict[str, Any]) -> None:
    with DojoEnv(timeout=20) as env:
        state = env.start(_theorem(standin))
        err = env.run_tactic(state, "simp [made_up_lemma]")
        assert isinstance(err, LeanError) and "stand-in" in err.message
        assert isinstance(env.run_tactic(state, "exact standin_gives_up"), ProofGivenUp)
        refused = env.run_tactic(state, "sorry")
        assert isinstance(refused, LeanError) and refused.message.startswith("refused by tactic filter")
        chatty = env.run_tactic(state, "standin_chatty")  # message lines before REPL> are not the answer
        assert isinstance(chatty, LeanError) and "unrecorded" in chatty.message
        # After an error the state is still usable.
        first = standin["rows"][0]
        assert isinstance(env.run_tactic(state, first["tactic"]), StateResult)


def test_unknown_theorem_is_a_start_error(standin: dict[str, Any]) -> None:
    bad = Theorem(name="x", statement="", dojo=DojoSource(**{**standin["source"].__dict__, "full_name": "not_there"}))
    with DojoEnv(timeout=20) as env, pytest.raises(TheoremStartError, match="could not start"):
        env.start(bad)
    with DojoEnv(timeout=20) as env, pytest.raises(TheoremStartError, match="needs the theorem's LeanDojo source"):
        env.start(Theorem(name="y", statement="theorem y : True"))


def test_bad_repository_is_a_start_error(standin: dict[str, Any], tmp_path: Path) -> None:
    src = DojoSource(url=str(tmp_path / "not_a_repo"), commit="0" * 40, file_path="A.lean", full_name="a")
    with DojoEnv(timeout=20) as env, pytest.raises(TheoremStartError, match="cannot open the LeanDojo repository"):
        env.start(Theorem(name="a", statement="", dojo=src))


def test_timeout_restarts_the_dojo_and_rebuilds_states(standin: dict[str, Any]) -> None:
    rows = standin["rows"]
    with DojoEnv(timeout=20) as env:
        root = env.start(_theorem(standin))
        after_one = env.run_tactic(root, rows[0]["tactic"])
        assert isinstance(after_one, StateResult)
        t0 = time.monotonic()
        timed_out = env.run_tactic(after_one.state, "standin_hang", timeout=0.5)
        assert isinstance(timed_out, TacticTimeout) and timed_out.seconds == 0.5
        assert time.monotonic() - t0 < 10
        assert env.restarts == 1 and _starts(standin) == 2
        # The state from before the restart still works: its path is replayed in the new Dojo.
        result = env.run_tactic(after_one.state, rows[1]["tactic"])
        assert isinstance(result, StateResult) and result.state.pp == rows[1]["state_after"]
        assert isinstance(env.run_tactic(root, rows[0]["tactic"]), StateResult)


def test_crash_restarts_once_then_raises(standin: dict[str, Any]) -> None:
    with DojoEnv(timeout=20) as env:
        state = env.start(_theorem(standin))
        once = env.run_tactic(state, "standin_crash_once")  # crashes, restarts, retried on the new process
        assert isinstance(once, LeanError) and "unrecorded" in once.message
        assert env.restarts == 1
        with pytest.raises(LeanCrashError, match="crashed twice"):
            env.run_tactic(state, "standin_crash")
        # The env can go on: the next call starts a fresh Dojo.
        again = env.run_tactic(state, standin["rows"][0]["tactic"])
        assert isinstance(again, StateResult)


def test_stale_state_is_refused(standin: dict[str, Any]) -> None:
    with DojoEnv(timeout=20) as env:
        env.start(_theorem(standin))
        with pytest.raises(ValueError, match="does not belong"):
            env.run_tactic(ProofState.from_pp("⊢ True", handle=10**9), "trivial")


def test_close_kills_the_process(standin: dict[str, Any]) -> None:
    env = DojoEnv(timeout=20)
    env.start(_theorem(standin))
    proc = env._dojo.proc  # type: ignore[union-attr]
    assert proc.isalive()
    env.close()
    deadline = time.monotonic() + 5
    while proc.isalive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not proc.isalive()
