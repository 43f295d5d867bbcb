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
from timeouts import SUBPROCESS_TIMEOUT_S

from lean_env.backends import dojo as dojo_env_mod
from lean_env.backends.dojo import CRASHED_PREFIX, REQUEST_LINE_LIMIT, TOO_LONG_PREFIX, DojoEnv
from lean_env.cassette.build import build_from_proofsteps
from lean_env.errors import BackendUnavailableError, TheoremStartError
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


# Theorems added to the stand-in's cassette. `mvar_thm`'s states carry metavariable numbers (as real
# Mathlib states do: the shared LeanDojo sample has `Type ?u.410614`), and `case_thm`'s initial state is
# in LeanDojo's traced form for a `case` goal with an empty context (ExtractData.lean `ppGoal`).
_MVAR_INIT = "α : Type ?u.410614\nf : α → α\n⊢ f = ?m.52"
_MVAR_NEXT = "α : Type ?u.410614\nf : α → α\n⊢ f = fun x => ?m.61 x"
_EXTRA: list[dict[str, Any]] = [
    {"kind": "theorem", "name": "mvar_thm", "initial_state": _MVAR_INIT},
    {"kind": "step", "state": _MVAR_INIT, "tactic": "standin_ext", "result": {"kind": "state", "pp": _MVAR_NEXT}},
    {"kind": "step", "state": _MVAR_NEXT, "tactic": "standin_rfl", "result": {"kind": "finished"}},
    {"kind": "theorem", "name": "case_thm", "initial_state": "case h\n\n⊢ True"},
]


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

    monkeypatch.setattr(dojo_env_mod, "_repos", {})  # each test builds its LeanGitRepo afresh
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
    cassette_path.write_text(text + "\n" + "".join(json.dumps(line) + "\n" for line in _EXTRA), encoding="utf-8")
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


def test_timeout_kills_now_and_restarts_lazily_on_the_next_tactic(standin: dict[str, Any]) -> None:
    # Issue 10 point 6: the REPL backend restarts lazily; the Dojo one restarted at once, even when the
    # theorem's budget was already spent. Now the hung process is killed and the next tactic pays.
    rows = standin["rows"]
    with DojoEnv(timeout=20) as env:
        root = env.start(_theorem(standin))
        after_one = env.run_tactic(root, rows[0]["tactic"])
        assert isinstance(after_one, StateResult)
        t0 = time.monotonic()
        timed_out = env.run_tactic(after_one.state, "standin_hang", timeout=0.5)
        assert isinstance(timed_out, TacticTimeout) and timed_out.seconds == 0.5
        assert time.monotonic() - t0 < 10
        assert env.restarts == 0 and _starts(standin) == 1  # nothing started yet
        # The state from before the timeout still works: this call restarts and replays its path.
        result = env.run_tactic(after_one.state, rows[1]["tactic"])
        assert isinstance(result, StateResult) and result.state.pp == rows[1]["state_after"]
        assert env.restarts == 1 and _starts(standin) == 2
        assert isinstance(env.run_tactic(root, rows[0]["tactic"]), StateResult)


def test_search_whose_budget_ends_at_a_timeout_never_restarts(standin: dict[str, Any]) -> None:
    from search import BestFirstSearch
    from search.types import Budget, SearchConfig
    from tests.search_testkit import ScriptedGenerator

    config = SearchConfig(num_tactics=1, budget=Budget(max_expansions=1, tactic_timeout_s=0.5))
    with DojoEnv(timeout=20) as env:
        result = BestFirstSearch(env, ScriptedGenerator(default=[("standin_hang", -1.0)]), config).search(
            _theorem(standin)
        )
        assert not result.status.proved and env.restarts == 0
    assert _starts(standin) == 1


def test_a_tactic_that_always_crashes_lean_is_a_dead_end_for_that_tactic_only(
    standin: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 10 point 8 (LeanDojo#201: `congr 1` crashes Lean every time): it used to end the theorem.
    monkeypatch.setenv("FAKE_DOJO_CRASH_ON", "congr 1")
    rows = standin["rows"]
    with DojoEnv(timeout=20) as env:
        state = env.start(_theorem(standin))
        once = env.run_tactic(state, "standin_crash_once")  # crashes, restarts, retried on the new process
        assert isinstance(once, LeanError) and "unrecorded" in once.message
        assert env.restarts == 1
        crashed = env.run_tactic(state, "congr 1")
        assert isinstance(crashed, LeanError) and crashed.message.startswith(CRASHED_PREFIX), crashed
        starts = _starts(standin)
        # The search goes on: the next tactic gets a fresh process.
        again = env.run_tactic(state, rows[0]["tactic"])
        assert isinstance(again, StateResult) and again.state.pp == rows[0]["state_after"]
        assert _starts(standin) == starts + 1


def test_requests_longer_than_the_pty_line_are_refused_before_sending(standin: dict[str, Any]) -> None:
    # Issue 10 point 9: Dojo sends `json.dumps({"sid": n, "cmd": tactic}, ensure_ascii=False)` + newline
    # through a canonical-mode pty, which keeps 4095 bytes of a line (termios(3)).
    empty = len(json.dumps({"sid": 0, "cmd": "exact "}).encode())
    fits = "exact " + "a" * (REQUEST_LINE_LIMIT - empty)
    too_long = fits + "ℕ"  # one character, three bytes, over
    with DojoEnv(timeout=20) as env:
        state = env.start(_theorem(standin))
        refused = env.run_tactic(state, too_long)
        assert isinstance(refused, LeanError) and refused.message.startswith(TOO_LONG_PREFIX), refused
        sent = env.run_tactic(state, fits)  # exactly at the limit: it reaches Lean whole
        assert isinstance(sent, LeanError) and "unrecorded" in sent.message
    received = [json.loads(line) for line in (standin["state_dir"] / "requests.log").read_text().splitlines()]
    assert [len(r.encode()) for r in received] == [REQUEST_LINE_LIMIT + 1]


def test_the_stand_in_sees_a_long_request_as_lean_does(standin: dict[str, Any]) -> None:
    # What happens without the check, through the real Dojo and a real pty: the kernel keeps 4095 bytes,
    # Lean4Repl fails to parse the JSON, logs a `[fatal]` error and goes on with the file; no answer comes.
    from lean_dojo import DojoTacticTimeoutError

    with DojoEnv(timeout=20) as env:
        env.start(_theorem(standin))
        dojo = env._dojo
        assert dojo is not None
        dojo.proc.timeout = 1  # type: ignore[attr-defined]
        with pytest.raises(DojoTacticTimeoutError):
            dojo.run_tac(env._live[env._root], "exact " + "a" * 5000)  # type: ignore[index]
        assert dojo.proc.isalive()  # type: ignore[attr-defined]
    received = [json.loads(line) for line in (standin["state_dir"] / "requests.log").read_text().splitlines()]
    assert [len(r.encode()) for r in received] == [REQUEST_LINE_LIMIT + 1]


def test_replay_after_restart_matches_modulo_metavariable_numbers(
    standin: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 10 point 12: a restarted Lean numbers metavariables differently (the stand-in shifts them).
    monkeypatch.setenv("FAKE_DOJO_RENUMBER", "1")
    src = DojoSource(**{**standin["source"].__dict__, "full_name": "mvar_thm"})
    with DojoEnv(timeout=20) as env:
        root = env.start(Theorem(name="mvar_thm", statement="", dojo=src))
        assert root.pp == _MVAR_INIT
        step = env.run_tactic(root, "standin_ext")
        assert isinstance(step, StateResult) and step.state.pp == _MVAR_NEXT
        assert isinstance(env.run_tactic(step.state, "standin_hang", timeout=0.5), TacticTimeout)
        done = env.run_tactic(step.state, "standin_rfl")  # restart: now `?u.411614`, `?m.1052`, `?m.1061`
        assert isinstance(done, ProofFinished), done
        assert env.restarts == 1


def test_live_goals_are_printed_like_ppgoal(standin: dict[str, Any]) -> None:
    src = DojoSource(**{**standin["source"].__dict__, "full_name": "case_thm"})
    with DojoEnv(timeout=20) as env:
        assert env.start(Theorem(name="case_thm", statement="", dojo=src)).pp == "case h\n⊢ True"


def test_lean_git_repo_is_built_once_and_restarts_need_no_network(
    standin: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 10 point 11: LeanGitRepo (GitHub API calls for a GitHub URL) was rebuilt on every (re)start.
    import lean_dojo

    real = lean_dojo.LeanGitRepo
    built: list[tuple[str, str]] = []

    def counting(url: str, commit: str) -> Any:
        built.append((url, commit))
        return real(url, commit)

    def offline(url: str, commit: str) -> Any:
        raise ConnectionError("Network is unreachable")

    monkeypatch.setattr(lean_dojo, "LeanGitRepo", counting)
    rows = standin["rows"]
    with DojoEnv(timeout=20) as env:
        state = env.start(_theorem(standin))
        assert isinstance(env.run_tactic(state, "standin_hang", timeout=0.5), TacticTimeout)
        monkeypatch.setattr(lean_dojo, "LeanGitRepo", offline)
        assert isinstance(env.run_tactic(state, rows[0]["tactic"]), StateResult)  # restarted offline
        env.start(_theorem(standin))  # the next theorem of the same repository too
    source = standin["source"]
    assert built == [(source.url, source.commit)]


def test_a_lean_that_rejects_memory_is_one_line_for_the_backend(
    standin: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 10 point 13: lean-dojo 4.20 always passes `--memory`; lean4#9879/#10258 toolchains refuse it.
    from search import BestFirstSearch
    from search.types import SearchConfig
    from tests.search_testkit import ScriptedGenerator

    monkeypatch.setenv("FAKE_DOJO_LEAN_REJECTS_MEMORY", "1")
    with DojoEnv(timeout=20) as env:
        with pytest.raises(BackendUnavailableError, match="rejects `--memory`") as info:
            env.start(_theorem(standin))
        assert "\n" not in str(info.value)
        # Not a theorem's failure: a search re-raises it (no `failed_start`), and no Lean is started again.
        with pytest.raises(BackendUnavailableError):
            BestFirstSearch(env, ScriptedGenerator(), SearchConfig()).search(_theorem(standin))
    assert _starts(standin) == 0


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


# ---- `import lean_dojo` side effects: real lean-dojo 4.20.0, imported afresh


def _without_git(tmp_path: Path) -> dict[str, str]:
    empty = tmp_path / "nogit"
    empty.mkdir()
    return {"PATH": str(empty)}  # `/bin/sh -c "git --version"` then exits 127 (lean_dojo/constants.py)


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        ({"TACTIC_MEMORY_LIMIT": "32G"}, "TACTIC_MEMORY_LIMIT='32G' is refused"),
        # No network: a proxy nobody listens on fails at once, as an offline node does.
        (
            {"GITHUB_ACCESS_TOKEN": "ghp_notareal", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""},
            "GITHUB_ACCESS_TOKEN is set",
        ),
        (None, "`git --version` failed"),
    ],
)
def test_import_side_effects_are_one_line_and_doctor_names_them(
    change: dict[str, str] | None, cause: str, tmp_path: Path
) -> None:
    from lean_env.backends.dojo import probe_lean_dojo

    env = {**os.environ, **(change if change is not None else _without_git(tmp_path))}
    env.pop("VERBOSE", None)
    check = probe_lean_dojo(env)
    assert not check.ok and check.detail.startswith(cause[:12]) and cause in check.detail, check
    assert "\n" not in check.detail and check.fix


def test_doctor_row_for_a_working_lean_dojo() -> None:
    from lean_env.backends.dojo import probe_lean_dojo

    healthy = probe_lean_dojo({k: v for k, v in os.environ.items() if k != "TACTIC_MEMORY_LIMIT"})
    assert healthy.ok and "lean-dojo 4.20.0" in healthy.detail


def test_prove_with_a_broken_lean_dojo_exits_2_with_one_line(tmp_path: Path) -> None:
    repo = tmp_path / "proj"
    repo.mkdir()
    (repo / "A.lean").write_text("theorem t : True := by\n  sorry\n", encoding="utf-8")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "init"]):
        subprocess.run([*git, *args], check=True)
    env = {**os.environ, "TACTIC_MEMORY_LIMIT": "32G", "COLUMNS": "300"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "prover.cli",
            "prove",
            str(repo / "A.lean"),
            "--backend",
            "dojo",
            "--generator",
            "fixed",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "TACTIC_MEMORY_LIMIT='32G'" in errors[0], done.stderr


# ---- dojo proofs verified in the traced repository


def _benchmark_json(standin: dict[str, Any], tmp_path: Path) -> Path:
    """A LeanDojo Benchmark 4 split file (a JSON list) holding the stand-in's theorem, as upstream writes rows."""
    source, rows = standin["source"], standin["rows"]
    row = {
        "url": source.url,
        "commit": source.commit,
        "file_path": source.file_path,
        "full_name": source.full_name,
        "start": [1, 1],
        "end": [2, 9],
        "traced_tactics": [
            {"tactic": r["tactic"], "annotated_tactic": [r["tactic"], []], "state_before": r["state_before"]}
            | {"state_after": r["state_after"]}
            for r in rows
        ],
    }
    path = tmp_path / "test.json"
    path.write_text(json.dumps([row]), encoding="utf-8")
    return path


def test_benchmark_accepts_leandojo_json_split_files(standin: dict[str, Any], tmp_path: Path) -> None:
    from benchmarks.minif2f import BenchmarkError, load_problems

    problems = load_problems(_benchmark_json(standin, tmp_path))
    assert [p.name for p in problems] == [standin["name"]]
    assert problems[0].theorem.dojo == standin["source"] and problems[0].theorem.statement == ""
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a list"}', encoding="utf-8")
    with pytest.raises(BenchmarkError, match="JSON list"):
        load_problems(bad)


def test_dojo_proofs_are_verified_in_the_traced_repository(standin: dict[str, Any]) -> None:
    from lean_env.checks.dojo_verify import DojoVerifier
    from lean_env.checks.verdict import Rejected, Verified

    rows, theorem = standin["rows"], _theorem(standin)  # a benchmark row: no statement of its own
    proof = "\n".join(r["tactic"] for r in rows)
    verifier = DojoVerifier(timeout_s=60)
    verdict = verifier.verify(theorem, proof)
    assert isinstance(verdict, Verified) and verdict.checker == "lean" and verdict.axioms == ("propext",), verdict
    short = verifier.verify(theorem, "\n".join(r["tactic"] for r in rows[:-1]))
    assert isinstance(short, Rejected) and "unsolved goals" in short.reason
    assert isinstance(verifier.verify(theorem, "sorry"), Rejected)
    missing = Theorem(name="x", statement="", dojo=DojoSource(**{**standin["source"].__dict__, "full_name": "nope"}))
    assert "cannot find nope" in verifier.verify(missing, proof).reason  # type: ignore[union-attr]


def test_a_dojo_sweep_of_benchmark_rows_counts_verified_proofs(standin: dict[str, Any], tmp_path: Path) -> None:
    # The job a sweep's prover actor runs per problem (the engine's search strategy), on a Benchmark 4 row,
    # with the backends `make_env`/`make_verifier` build for `--backend dojo`.
    from benchmarks.minif2f import load_problems
    from prover.backends import make_env, make_verifier
    from prover.config import LeanConfig
    from prover.engine import Engine, ProofTarget, SearchStrategy
    from search.types import Budget, SearchConfig
    from tests.search_testkit import ScriptedGenerator

    problem = load_problems(_benchmark_json(standin, tmp_path))[0]
    proposals = {r["state_before"]: [(r["tactic"], -0.1)] for r in standin["rows"]}
    cfg = LeanConfig(backend="dojo", command_timeout_s=20)
    config = SearchConfig(num_tactics=1, budget=Budget(max_expansions=20))
    with make_env(cfg) as env, make_verifier(cfg) as verifier:  # type: ignore[attr-defined]
        engine = Engine(SearchStrategy(ScriptedGenerator(proposals), config), env, verifier)
        job = engine.prove(ProofTarget(problem.name, problem.theorem))
    assert job.status == "proved" and job.checker == "lean", (job.status, job.message)


def test_sweep_with_a_broken_lean_dojo_exits_2_with_one_line(standin: dict[str, Any], tmp_path: Path) -> None:
    benchmark = _benchmark_json(standin, tmp_path)
    env = {**os.environ, "TACTIC_MEMORY_LIMIT": "32G", "COLUMNS": "300"}
    argv = ["sweep", "--benchmark", str(benchmark), "--backend", "dojo", "-o", str(tmp_path / "out.jsonl")]
    done = subprocess.run(
        [sys.executable, "-m", "prover.cli", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "TACTIC_MEMORY_LIMIT='32G'" in errors[0], done.stderr


def test_strict_is_refused_with_the_dojo_backend_rather_than_ignored() -> None:
    # The kernel-replay rung re-checks modules of the configured Lean project; dojo proofs live in traced repos.
    from lean_env.checks.validate import ValidatorError
    from prover.backends import make_verifier
    from prover.config import LeanConfig

    with pytest.raises(ValidatorError, match="not available with the dojo backend"):
        make_verifier(LeanConfig(backend="dojo", strict=True))


def test_offline_repository_open_names_lean_dojos_remote_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline, a repository not yet in LeanDojo's cache cannot be opened: on a cache miss lean-dojo 4.20.0
    asks its remote cache (`lean_dojo/data_extraction/cache.py` `Cache.get`: `url_exists(REMOTE_CACHE_URL/...)`
    unless `DISABLE_REMOTE_CACHE` is set), and `url_exists` (`lean_dojo/utils.py`) catches only HTTPError, so
    a DNS failure escapes as URLError. Found by running `prover prove FILE --backend dojo` offline on a local git
    repository: the message gave only "<urlopen error [Errno -2] Name or service not known>"."""
    import urllib.error

    def offline(source: Any, timeout: float) -> Any:
        raise urllib.error.URLError(OSError(-2, "Name or service not known"))

    monkeypatch.delenv("DISABLE_REMOTE_CACHE", raising=False)
    src = DojoSource(url="/work/repo", commit="0" * 40, file_path="A.lean", full_name="a")
    with DojoEnv(timeout=20, dojo_factory=offline) as env, pytest.raises(TheoremStartError) as info:
        env.start(Theorem(name="a", statement="", dojo=src))
    message = str(info.value)
    assert "cannot open the LeanDojo repository" in message and "Name or service not known" in message
    assert "DISABLE_REMOTE_CACHE=1" in message and "\n" not in message
    # With the remote cache already disabled the hint would be wrong: only the network is named.
    monkeypatch.setenv("DISABLE_REMOTE_CACHE", "1")
    with DojoEnv(timeout=20, dojo_factory=offline) as env, pytest.raises(TheoremStartError) as info:
        env.start(Theorem(name="a", statement="", dojo=src))
    assert "DISABLE_REMOTE_CACHE=1" not in str(info.value) and "network" in str(info.value)
