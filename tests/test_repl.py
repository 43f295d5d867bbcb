"""The REPL client against real Lean output, through a real subprocess.

The stand-in (tests/standins/replay_repl.py) replays transcripts recorded from real Lean in
../shared/lean_fixtures/repl: it answers only the exact requests recorded, in order, with the answer
Lean printed for each, so every test here runs the real code path (subprocess, framing, deadlines,
restarts) against real Lean answers.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from lean_env.backends.repl import (
    MEMORY_PREFIX,
    REFUSED_PREFIX,
    ReplEnv,
    ReplPool,
    ReplSettings,
    split_header,
    tactic_result_from_response,
    theorem_start_from_response,
)
from lean_env.backends.repl_process import ReplMemoryError, ReplProcess
from lean_env.errors import (
    LeanCrashError,
    LeanNotFoundError,
    LeanStartError,
    LeanTimeoutError,
    ProtocolError,
    TheoremStartError,
)
from lean_env.types import (
    HoleTarget,
    LeanError,
    ProofFinished,
    ProofGivenUp,
    ProofState,
    StateResult,
    TacticTimeout,
    Theorem,
)

STANDIN = Path(__file__).parent / "standins" / "replay_repl.py"


def blocks(path: Path) -> list[str]:
    return [b for b in re.split(r"\n[ \t]*\n", path.read_text(encoding="utf-8")) if b.strip()]


def _releases() -> list[str]:
    """`repl` (the newest recordings, v4.33.0-rc2) and every folder of lean_fixtures/repl_versions/."""
    from prover.paths import shared_dir

    versions = shared_dir() / "lean_fixtures" / "repl_versions"
    return ["repl", *sorted(p.name for p in versions.glob("v*") if p.is_dir())] if versions.is_dir() else ["repl"]


RELEASES = _releases()


def release_root(shared: Path, release: str = "repl") -> Path:
    fixtures = shared / "lean_fixtures"
    return fixtures / "repl" if release == "repl" else fixtures / "repl_versions" / release


def transcripts(shared: Path, release: str = "repl") -> list[Path]:
    root = release_root(shared, release)
    found = sorted(root.glob("*.in")) + sorted((root / "Mathlib" / "test").glob("*.in"))
    return [p for p in found if p.with_name(p.name[:-3] + ".expected.out").exists()]


def fixture(shared: Path, name: str, release: str = "repl") -> Path:
    return release_root(shared, release) / f"{name}.in"


def standin_settings(shared: Path, name: str, *args: str, release: str = "repl", **kw: object) -> ReplSettings:
    command = (sys.executable, str(STANDIN), str(fixture(shared, name, release)), *args)
    return ReplSettings(command=command, **kw)  # type: ignore[arg-type]


def all_tactic_answers(shared: Path, release: str = "repl") -> list[tuple[str, dict[str, object]]]:
    pairs = []
    for path in transcripts(shared, release):
        requests = [json.loads(b, strict=False) for b in blocks(path)]
        answers = [json.loads(b) for b in blocks(path.with_name(path.name[:-3] + ".expected.out"))]
        for req, ans in zip(requests, answers, strict=True):
            if "tactic" in req:
                pairs.append((f"{path.parent.name}/{path.stem}", ans))
    return pairs


# -- framing and parsing: every recorded transcript through the real process --------------------------


@pytest.mark.slow  # ~70 process starts per release: 4 s idle, more on a loaded machine
@pytest.mark.parametrize("release", RELEASES)
def test_every_transcript_replays_through_the_client(shared: Path, release: str) -> None:
    paths = transcripts(shared, release)
    assert len(paths) >= 60, "expected the REPL's whole recorded test suite"
    assert any(p.parent.name == "test" for p in paths), "Mathlib/test transcripts missing"
    for path in paths:
        requests = [json.loads(b, strict=False) for b in blocks(path)]
        expected = [json.loads(b) for b in blocks(path.with_name(path.name[:-3] + ".expected.out"))]
        proc = ReplProcess([sys.executable, str(STANDIN), str(path)])
        proc.start()
        try:
            for req, want in zip(requests, expected, strict=True):
                assert proc.request(req, timeout=10) == want, path.name
        finally:
            proc.close()


def test_multiline_pretty_printed_answers_are_framed_by_blank_lines(shared: Path) -> None:
    proc = ReplProcess([sys.executable, str(STANDIN), str(fixture(shared, "proof_branching"))])
    proc.start()
    try:
        first = proc.request({"cmd": blocks(fixture(shared, "proof_branching"))[0][9:-2]}, 10)
        assert first["sorries"][0]["goal"].endswith("⊢ p ∧ r")
        second = proc.request({"tactic": "apply And.intro", "proofState": 0}, 10)
        assert second["goals"][0].startswith("case left\n")
        assert len(second["goals"]) == 2
    finally:
        proc.close()


# -- pure interpretation of real answers ---------------------------------------------------------------


@pytest.mark.parametrize("release", RELEASES)
def test_every_recorded_tactic_answer_has_a_consistent_result(shared: Path, release: str) -> None:
    answers = all_tactic_answers(shared, release)
    assert len(answers) > 40
    for where, ans in answers:
        result = tactic_result_from_response(ans)
        has_error = any(m.get("severity") == "error" for m in ans.get("messages", []))  # type: ignore[attr-defined]
        if has_error or "message" in ans or str(ans.get("proofStatus", "")).startswith("Error"):
            assert isinstance(result, LeanError), where
        elif isinstance(result, ProofFinished):
            assert ans["proofStatus"] == "Completed" and ans["goals"] == [], where
        elif isinstance(result, StateResult):
            assert result.state.num_goals == len(ans["goals"]) > 0, where  # type: ignore[arg-type]
            assert result.state.handle == ans["proofState"]


@pytest.mark.parametrize(
    ("name", "index", "kind", "text"),
    [
        ("invalid_tactic", 1, LeanError, "Unknown identifier `my_fake_premise`"),  # errors + "contains sorry"
        ("Mathlib/test/20240209", 1, LeanError, "unsolved goals"),
        ("unknown_tactic", 1, LeanError, "unknown tactic"),
        ("unknown_proof_state", 1, LeanError, "Unknown proof state."),
        ("app_type_mismatch2", 4, LeanError, "kernel type check failed"),  # proofStatus "Error: ..."
        ("app_type_mismatch", 4, LeanError, "contains metavariable"),
        ("tactic_mode_sorry", 1, ProofGivenUp, ""),
        ("have_by_sorry", 2, ProofGivenUp, ""),  # sorry inside a `have`, goals remain
        ("readme", 2, ProofFinished, ""),
        ("Mathlib/test/exact", 2, ProofFinished, ""),  # an info message does not matter
        ("readme", 1, StateResult, "⊢ Int"),
    ],
)
@pytest.mark.parametrize("release", RELEASES)
def test_recorded_answers_classify(shared: Path, name: str, index: int, kind: type, text: str, release: str) -> None:
    recorded = fixture(shared, name, release).with_name(Path(name).name + ".expected.out")
    if not recorded.exists():
        pytest.skip(f"{name} is not recorded at {release}")
    answer = json.loads(blocks(recorded)[index])
    result = tactic_result_from_response(answer)
    assert isinstance(result, kind)
    if isinstance(result, LeanError):
        # Wording moves between releases (v4.19.0: unknown identifier 'x'; later: Unknown identifier `x`).
        assert text.lower().replace("`", "'") in result.message.lower().replace("`", "'")
    if isinstance(result, StateResult):
        assert text in result.state.pp


def test_case_tags_and_hypotheses_are_parsed(shared: Path) -> None:
    answer = json.loads(blocks(fixture(shared, "proof_branching").with_name("proof_branching.expected.out"))[1])
    result = tactic_result_from_response(answer)
    assert isinstance(result, StateResult)
    left, right = result.state.goals
    assert (left.case, right.case) == ("left", "right")
    assert left.conclusion == "p" and [h.names for h in left.hypotheses][0] == ("p", "q", "r")


def test_theorem_start_takes_the_last_sorry_and_rejects_errors(shared: Path) -> None:
    ok = json.loads(blocks(fixture(shared, "readme").with_name("readme.expected.out"))[0])
    assert theorem_start_from_response(ok) == (0, "x : Unit\n⊢ Nat")
    bad = json.loads(blocks(fixture(shared, "have_by_sorry").with_name("have_by_sorry.expected.out"))[0])
    with pytest.raises(TheoremStartError, match="unsolved goals"):
        theorem_start_from_response(bad)
    with pytest.raises(TheoremStartError, match="Unknown environment"):
        theorem_start_from_response({"message": "Unknown environment."})
    with pytest.raises(TheoremStartError, match="no proof state"):
        theorem_start_from_response({"env": 3})


def test_split_header_separates_imports() -> None:
    header = "/- a comment\nimport Fake -/\nimport Mathlib\nimport Aesop -- x\n\nopen Real\nset_option maxHeartbeats 400000\n"
    imports, rest = split_header(header)
    assert imports.endswith("import Aesop") and "import Mathlib" in imports
    assert rest.strip().startswith("-- x") and "open Real" in rest and "import" not in rest
    assert split_header("open Nat") == ("", "open Nat")
    assert split_header("") == ("", "")


# -- ReplEnv through the stand-in ----------------------------------------------------------------------


@pytest.mark.parametrize("release", RELEASES)
def test_env_runs_a_mathlib_session_with_header_once(shared: Path, release: str) -> None:
    # Mathlib/test/exact: `import Mathlib` once, two theorems on top of env 0.
    with ReplEnv(standin_settings(shared, "Mathlib/test/exact", release=release)) as env:
        first = env.start(Theorem("test", "theorem test : 0 < 1", header="import Mathlib"))
        assert first.pp == "⊢ 0 < 1"
        assert isinstance(env.run_tactic(first, "exact?"), ProofFinished)
        second = env.start(Theorem("test", "theorem test : 3 = 7", header="import Mathlib\n"))
        result = env.run_tactic(second, "exact?")
        assert isinstance(result, LeanError) and "could not close the goal" in result.message
        assert env.restarts == 0 and env.requests == 5


@pytest.mark.parametrize("release", RELEASES)
def test_env_branches_from_one_state(shared: Path, release: str) -> None:
    with ReplEnv(standin_settings(shared, "proof_step", release=release)) as env:
        root = env.start(Theorem("f", "def f : Nat"))
        left = env.run_tactic(root, "apply Int.natAbs")
        right = env.run_tactic(root, "have t : Nat := 42")
        assert isinstance(left, StateResult) and left.state.pp == "⊢ Int"
        assert isinstance(right, StateResult) and right.state.pp == "t : Nat\n⊢ Nat"
        assert len({root.handle, left.state.handle, right.state.handle}) == 3
        assert isinstance(env.run_tactic(right.state, "exact t"), ProofFinished)


@pytest.mark.parametrize("release", RELEASES)
def test_env_multi_goal_states_from_mathlib_induction(shared: Path, release: str) -> None:
    with ReplEnv(standin_settings(shared, "Mathlib/test/induction", release=release)) as env:
        root = env.start(Theorem("foo", "theorem foo (x : Nat) : x = x", header="import Mathlib"))
        assert root.pp == "x : ℕ\n⊢ x = x"
        split = env.run_tactic(root, "induction x")
        assert isinstance(split, StateResult) and [g.case for g in split.state.goals] == ["zero", "succ"]
        rest = env.run_tactic(split.state, "next => rfl")
        assert isinstance(rest, StateResult) and rest.state.num_goals == 1
        # The recorded next request uses `sorry`: the filter refuses it before the REPL sees it.
        refused = env.run_tactic(root, "induction x with\n| zero => sorry\n| succ x => sorry")
        assert isinstance(refused, LeanError) and refused.message.startswith(REFUSED_PREFIX)
        assert env.restarts == 0


@pytest.mark.parametrize("release", RELEASES)
def test_invalid_tactic_is_an_error_not_a_proof(shared: Path, release: str) -> None:
    with ReplEnv(standin_settings(shared, "invalid_tactic", release=release)) as env:
        root = env.start(Theorem("my_theorem", "theorem my_theorem (x : Nat) : x = x"))
        result = env.run_tactic(root, "exact my_fake_premise")
        assert isinstance(result, LeanError) and "my_fake_premise" in result.message


@pytest.mark.parametrize("release", RELEASES)
def test_repl_level_failure_is_a_lean_error(shared: Path, release: str) -> None:
    with ReplEnv(standin_settings(shared, "unknown_tactic", release=release)) as env:
        result = env.run_tactic(env.start(Theorem("f", "def f : Nat")), "exat 42")
        assert isinstance(result, LeanError) and "unknown tactic" in result.message


def test_statement_that_does_not_elaborate_is_a_start_error(shared: Path) -> None:
    # Recorded: `theorem foo (x : Int) : x = x := by\n  have h : x = 1 := by sorry` fails with
    # "unsolved goals"; as a "statement" it is odd, but the answer is real Lean's.
    statement = "theorem foo (x : Int) : x = x := by\n  have h : x = 1"
    with ReplEnv(standin_settings(shared, "have_by_sorry")) as env:
        with pytest.raises(TheoremStartError, match="line 1:33: unsolved goals"):
            env.start(Theorem("foo", statement))
        assert env.restarts == 0


def test_unknown_handle_is_a_programming_error(shared: Path) -> None:
    with ReplEnv(standin_settings(shared, "readme")) as env, pytest.raises(ValueError):
        env.run_tactic(ProofState.from_pp("⊢ True", handle=10**9), "trivial")


def test_a_request_the_recording_lacks_surfaces_as_a_crash_with_stderr(shared: Path) -> None:
    with ReplEnv(standin_settings(shared, "readme")) as env:
        with pytest.raises(LeanCrashError, match="differs from readme.in"):
            env.start(Theorem("g", "def g : Nat"))
        assert env.restarts == 1


# -- faults: hang, crash, garbage, huge output, memory, stray output ----------------------------------


def test_hanging_tactic_times_out_then_the_state_is_rebuilt(shared: Path, tmp_path: Path) -> None:
    once = tmp_path / "fired"
    settings = standin_settings(shared, "readme", "--fault", "hang", "--at", "3", "--once", str(once))
    with ReplEnv(settings) as env:
        root = env.start(Theorem("f", "def f (x : Unit) : Nat"))
        mid = env.run_tactic(root, "apply Int.natAbs")
        assert isinstance(mid, StateResult)
        t0 = time.monotonic()
        timed_out = env.run_tactic(mid.state, "exact -37", timeout=0.5)
        assert isinstance(timed_out, TacticTimeout) and timed_out.seconds == 0.5
        assert time.monotonic() - t0 < 5 and env.restarts == 1 and once.exists()
        # The old state still works: a fresh process replays `def f ... := by sorry` and `apply Int.natAbs`.
        assert isinstance(env.run_tactic(mid.state, "exact -37"), ProofFinished)
        assert env.restarts == 1


def test_crash_mid_answer_restarts_and_recovers(shared: Path, tmp_path: Path) -> None:
    settings = standin_settings(shared, "readme", "--fault", "crash", "--at", "2", "--once", str(tmp_path / "f"))
    with ReplEnv(settings) as env:
        root = env.start(Theorem("f", "def f (x : Unit) : Nat"))
        first_pid = env.process_id
        crashed = env.run_tactic(root, "apply Int.natAbs")
        assert isinstance(crashed, LeanError) and "exited with code 1" in crashed.message
        again = env.run_tactic(root, "apply Int.natAbs")
        assert isinstance(again, StateResult) and again.state.pp == "x : Unit\n⊢ Int"
        assert env.restarts == 1 and env.process_id not in (None, first_pid)


@pytest.mark.parametrize(("fault", "needle"), [("garbage", "not JSON"), ("huge", "exceeds")])
def test_garbage_and_huge_output_fail_fast(shared: Path, tmp_path: Path, fault: str, needle: str) -> None:
    settings = standin_settings(shared, "readme", "--fault", fault, "--at", "2", max_response_bytes=1 << 20)
    with ReplEnv(settings) as env:
        root = env.start(Theorem("f", "def f (x : Unit) : Nat"))
        t0 = time.monotonic()
        result = env.run_tactic(root, "apply Int.natAbs", timeout=30)
        assert isinstance(result, LeanError) and needle in result.message
        assert time.monotonic() - t0 < 10, "must not wait for the timeout"
        assert env.restarts == 1


def test_memory_limit_kills_and_restarts(shared: Path, tmp_path: Path) -> None:
    once = str(tmp_path / "f")
    settings = standin_settings(
        shared, "readme", "--fault", "memory", "--at", "2", "--mb", "600", "--once", once, memory_limit_mb=300
    )
    with ReplEnv(settings) as env:
        root = env.start(Theorem("f", "def f (x : Unit) : Nat"))
        result = env.run_tactic(root, "apply Int.natAbs", timeout=30)
        assert isinstance(result, LeanError) and result.message.startswith(MEMORY_PREFIX)
        assert isinstance(env.run_tactic(root, "apply Int.natAbs"), StateResult)
        assert env.restarts == 1


def test_memory_error_on_a_command_raises(shared: Path) -> None:
    settings = standin_settings(shared, "readme", "--fault", "memory", "--at", "1", "--mb", "600", memory_limit_mb=300)
    with ReplEnv(settings) as env, pytest.raises(ReplMemoryError):
        env.run_command("def f (x : Unit) : Nat := by sorry", timeout=30)


@pytest.mark.parametrize("hole", [False, True])
def test_memory_error_while_starting_is_a_start_error(shared: Path, hole: bool) -> None:
    """Both ways in (a theorem's `:= by sorry`, a hole's skeleton) send one command on the header's environment
    and name what ran out of memory."""
    settings = standin_settings(shared, "readme", "--fault", "memory", "--at", "1", "--mb", "600", memory_limit_mb=300)
    theorem = Theorem("f", "def f (x : Unit) : Nat")
    with ReplEnv(settings) as env:
        if hole:
            with pytest.raises(TheoremStartError, match="^compiling f ran out of memory"):
                env.start_hole(HoleTarget(theorem, "by sorry", (3,), 0))
        else:
            with pytest.raises(TheoremStartError, match="^starting f ran out of memory"):
                env.start(theorem)


def test_stray_output_is_a_protocol_error(shared: Path) -> None:
    proc = ReplProcess([sys.executable, str(STANDIN), str(fixture(shared, "readme")), "--fault", "stray"])
    proc.start()
    try:
        proc.request({"cmd": "def f (x : Unit) : Nat := by sorry"}, 10)
        time.sleep(0.2)
        with pytest.raises(ProtocolError, match="nobody asked for"):
            proc.request({"tactic": "apply Int.natAbs", "proofState": 0}, 10)
        assert not proc.alive
    finally:
        proc.close()


def test_command_timeout_raises_and_next_request_restarts(shared: Path, tmp_path: Path) -> None:
    settings = standin_settings(shared, "readme", "--fault", "hang", "--at", "1", "--once", str(tmp_path / "f"))
    with ReplEnv(settings) as env:
        with pytest.raises(LeanTimeoutError):
            env.run_command("def f (x : Unit) : Nat := by sorry", timeout=0.5)
        # A generous limit for the restart: a loaded machine may take a while to start the stand-in.
        assert env.start(Theorem("f", "def f (x : Unit) : Nat")).pp == "x : Unit\n⊢ Nat"
        assert env.restarts == 1


def test_process_killed_between_requests_is_replaced_transparently(shared: Path) -> None:
    with ReplEnv(standin_settings(shared, "readme")) as env:
        root = env.start(Theorem("f", "def f (x : Unit) : Nat"))
        pid = env.process_id
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        result = env.run_tactic(root, "apply Int.natAbs")
        assert isinstance(result, StateResult) and env.restarts == 1


def test_process_that_exits_immediately_is_a_crash(shared: Path) -> None:
    settings = standin_settings(shared, "readme", "--fault", "exit", "--at", "1")
    with ReplEnv(settings) as env, pytest.raises(LeanCrashError, match="exited with code 0"):
        env.start(Theorem("f", "def f (x : Unit) : Nat"))


def test_header_error_is_a_start_error(shared: Path, tmp_path: Path) -> None:
    # A synthetic transcript (not Lean output) in the REPL's documented message format.
    (tmp_path / "h.in").write_text('{"cmd": "import Nonexistent"}\n')
    answer = {"messages": [{"severity": "error", "pos": {"line": 1, "column": 0}, "data": "unknown module prefix"}]}
    (tmp_path / "h.expected.out").write_text(json.dumps({**answer, "env": 0}) + "\n")
    settings = ReplSettings(command=(sys.executable, str(STANDIN), str(tmp_path / "h.in")))
    with ReplEnv(settings) as env, pytest.raises(LeanStartError, match="imports failed.*unknown module prefix"):
        env.start(Theorem("t", "theorem t : True", header="import Nonexistent"))


# -- missing pieces ------------------------------------------------------------------------------------


def test_missing_lake_names_the_elan_install(tmp_path: Path) -> None:
    with pytest.raises(LeanNotFoundError, match="elan-init"):
        ReplEnv(ReplSettings(project=tmp_path, lake="no-such-lake-binary-xyz"))


def test_missing_project_and_binary_name_prover_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    lake = bindir / "lake"
    lake.write_text("#!/bin/sh\nexit 0\n")
    lake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(LeanNotFoundError, match="does not exist.*prover setup --lean-project"):
        ReplEnv(ReplSettings(project=tmp_path / "nope"))
    project = tmp_path / "proj"
    project.mkdir()
    # A project `prover setup` made (a user's own project gets its `require REPL` line instead).
    (project / "lakefile.toml").write_text('name = "lean_prover_project"\n')
    with pytest.raises(LeanNotFoundError, match="REPL binary .* does not exist.*prover setup"):
        ReplEnv(ReplSettings(project=project))
    binary = project / "repl"
    binary.write_text("")
    env = ReplEnv(ReplSettings(project=project, repl_binary="repl"))
    assert env._argv == ["lake", "env", str(binary)]


def test_missing_override_executable_is_not_found() -> None:
    with ReplEnv(ReplSettings(command=("/nonexistent/repl",))) as env, pytest.raises(LeanNotFoundError):
        env.run_command("#check Nat")


# -- pool ----------------------------------------------------------------------------------------------


def test_pool_pins_theorems_to_members_and_runs_them_concurrently(shared: Path) -> None:
    settings = standin_settings(shared, "readme", "--delay", "0.3")
    theorem = Theorem("f", "def f (x : Unit) : Nat")
    with ReplPool(settings, size=2) as pool:
        results: list[object] = []

        def prove() -> None:
            root = pool.start(theorem)
            mid = pool.run_tactic(root, "apply Int.natAbs")
            assert isinstance(mid, StateResult)
            results.append(pool.run_tactic(mid.state, "exact -37"))

        threads = [threading.Thread(target=prove) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 2 and all(isinstance(r, ProofFinished) for r in results)
        pids = {m.process_id for m in pool.members}
        assert len(pids) == 2 and None not in pids, "each theorem ran on its own process"
        assert pool.restarts == 0


def test_pool_lease_is_exclusive(shared: Path) -> None:
    with ReplPool(standin_settings(shared, "readme"), size=1) as pool:
        with pool.lease() as member:
            assert member is pool.members[0]
            with pytest.raises(LeanTimeoutError, match="no free Lean REPL"), pool.lease(timeout=0.1):
                pass
        with pool.lease(timeout=0.1) as again:
            assert again is member


def test_pool_map_runs_items_in_parallel_in_order(shared: Path) -> None:
    barrier = threading.Barrier(2, timeout=10)

    def compile_one(env: ReplEnv, cmd: str) -> tuple[int, int | None]:
        barrier.wait()  # both items are in flight at once, so they hold different members
        return env.run_command(cmd)["env"], env.process_id

    with ReplPool(standin_settings(shared, "tactic_sorry"), size=2) as pool:
        out = pool.map(compile_one, ["def f : Nat := by sorry"] * 2)
        assert [e for e, _ in out] == [0, 0]
        assert len({pid for _, pid in out}) == 2


# -- tactic mode runs under the options the verifier compiles with ------------------

OPTIONS_HEADER = "set_option maxHeartbeats 0\nopen Nat\n"
OPTIONS_STATEMENT = "theorem t (x : Unit) : Nat"
NLINARITH = "nlinarith [sq_nonneg (a - b),\n  sq_nonneg (a + b)]"


def _options_transcript(tmp_path: Path, shared: Path, wire_tactic: str) -> Path:
    """header, theorem start, one tactic, a second tactic: answers copied from Lean's recorded `readme`."""
    readme = fixture(shared, "readme").with_name("readme.expected.out")
    answers = [json.loads(b) for b in blocks(readme)]
    requests = [
        {"cmd": OPTIONS_HEADER},
        {"cmd": f"{OPTIONS_STATEMENT} := by sorry", "env": 0},
        {"tactic": wire_tactic, "proofState": 0},
        {"tactic": "set_option maxHeartbeats 0 in\nexact -37", "proofState": 1},
    ]
    (tmp_path / "o.in").write_text("\n\n".join(json.dumps(r, ensure_ascii=False) for r in requests) + "\n")
    outs = [{"env": 0}, answers[0], answers[1], answers[2]]
    (tmp_path / "o.expected.out").write_text("\n\n".join(json.dumps(a, ensure_ascii=False) for a in outs) + "\n")
    return tmp_path / "o.in"


def test_tactics_are_sent_under_the_headers_options(shared: Path, tmp_path: Path) -> None:
    """repl#69 / lean4#8646: tactic mode ignores `set_option maxHeartbeats 0` in the header, the verifier
    does not; each tactic is therefore sent as `set_option … in` + the tactic (exact bytes checked)."""
    wire = f"set_option maxHeartbeats 0 in\n{NLINARITH}"
    transcript = _options_transcript(tmp_path, shared, wire)
    log = tmp_path / "requests.log"
    settings = ReplSettings(command=(sys.executable, str(STANDIN), str(transcript), "--log", str(log)))
    from lean_env.backends.replay import RecordingEnv

    with ReplEnv(settings) as env:
        recorder = RecordingEnv(env)
        root = recorder.start(Theorem("t", OPTIONS_STATEMENT, header=OPTIONS_HEADER))
        result = recorder.run_tactic(root, NLINARITH)
        assert isinstance(result, StateResult), result
        sent = log.read_text(encoding="utf-8").split("\n\n")[2] + "\n\n"
        assert sent == json.dumps({"tactic": wire, "proofState": 0}, ensure_ascii=False) + "\n\n"
        # The filter still sees (and refuses) `set_option` written by a model; nothing is sent for it.
        refused = recorder.run_tactic(root, "set_option maxHeartbeats 0 in\nsimp")
        assert isinstance(refused, LeanError) and refused.message.startswith(REFUSED_PREFIX)
        # The wrapper never reaches proof scripts or cassette keys.
        assert [s.tactic for s in recorder.cassette.steps.values()] == [NLINARITH]


def test_a_replayed_path_is_sent_with_the_same_options(shared: Path, tmp_path: Path) -> None:
    wire = f"set_option maxHeartbeats 0 in\n{NLINARITH}"
    transcript = _options_transcript(tmp_path, shared, wire)
    once = tmp_path / "fired"
    command = (sys.executable, str(STANDIN), str(transcript), "--fault", "crash", "--at", "4", "--once", str(once))
    with ReplEnv(ReplSettings(command=command)) as env:
        root = env.start(Theorem("t", OPTIONS_STATEMENT, header=OPTIONS_HEADER))
        mid = env.run_tactic(root, NLINARITH)
        assert isinstance(mid, StateResult)
        assert isinstance(env.run_tactic(mid.state, "exact -37"), LeanError)  # crashed, restarted
        # The new process replays header, start and the wrapped first tactic (the stand-in checks each).
        assert isinstance(env.run_tactic(mid.state, "exact -37"), ProofFinished)
        assert env.restarts == 1


def test_no_options_means_the_tactic_is_sent_unchanged(shared: Path) -> None:
    # The recorded sessions have no header options: their exact requests still match.
    with ReplEnv(standin_settings(shared, "proof_step")) as env:
        root = env.start(Theorem("f", "def f : Nat"))
        assert isinstance(env.run_tactic(root, "apply Int.natAbs"), StateResult)


def test_options_can_be_switched_off(shared: Path, tmp_path: Path) -> None:
    transcript = _options_transcript(tmp_path, shared, NLINARITH)
    settings = ReplSettings(command=(sys.executable, str(STANDIN), str(transcript)), tactic_options=False)
    with ReplEnv(settings) as env:
        root = env.start(Theorem("t", OPTIONS_STATEMENT, header=OPTIONS_HEADER))
        assert isinstance(env.run_tactic(root, NLINARITH), StateResult)


@pytest.mark.parametrize(
    ("header", "statement", "expected"),
    [
        (
            "import Mathlib\nset_option maxHeartbeats 400000\nopen Real\n",
            "theorem t : True",
            [("maxHeartbeats", "400000")],
        ),
        (
            "set_option maxHeartbeats 0\nset_option maxRecDepth 10000\n",
            "theorem t : True",
            [("maxHeartbeats", "0"), ("maxRecDepth", "10000")],
        ),
        # `… in` in the header applies to its one command only; the statement's own prefixes do apply.
        ("set_option maxHeartbeats 0 in\ntheorem a : True := trivial\n", "theorem t : True", []),
        ("", "set_option maxHeartbeats 1000000 in\ntheorem t : True", [("maxHeartbeats", "1000000")]),
        # An option set in a section the header closes is gone; one in a namespace still open is in force.
        (
            "section\nset_option maxHeartbeats 0\nend\nnamespace Foo\nset_option pp.all true\n",
            "theorem t : True",
            [("pp.all", "true")],
        ),
        ("-- set_option maxHeartbeats 0\n/- set_option x 1 -/\n", "theorem t : True", []),
        (
            "set_option maxRecDepth 5000\nnoncomputable section\nset_option maxHeartbeats 0\nend\n",
            "theorem t : True",
            [("maxRecDepth", "5000")],
        ),
        ('set_option trace.profiler.output "x y"\n', "theorem t : True", [("trace.profiler.output", '"x y"')]),
    ],
)
def test_scoped_options(header: str, statement: str, expected: list[tuple[str, str]]) -> None:
    from lean_env.backends.repl import scoped_options, wrap_tactic

    assert list(scoped_options(header, statement)) == expected
    wrapped = wrap_tactic("intro x\nsimp", scoped_options(header, statement))
    assert wrapped.endswith("\nintro x\nsimp") or not expected
    assert wrapped.count(" in\n") == len(expected)


_DRIVER = """
import sys, threading, time
from lean_env.backends.repl_process import ReplProcess

def start():
    ReplProcess([sys.executable, sys.argv[1], "env", "lean", "Check.lean"], cwd=sys.argv[2]).start()

if sys.argv[3] == "thread":  # started by a worker thread that then exits, as a pool's restart would be
    worker = threading.Thread(target=start)
    worker.start()
    worker.join()
else:
    start()
print("started", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("started_by", ["main", "thread"])
def test_a_lean_process_dies_with_a_driver_killed_by_sigkill(tmp_path: Path, started_by: str) -> None:
    """SIGKILL the driver (no cleanup runs) of a stand-in `lake env lean` (tests/standins/fake_lake.py: Lake's `env`
    spawns `lean` as its child and waits): the `lean` is gone within 2 s. A worker thread that started it and
    exited does not kill it (the parent-death signal follows the thread, prctl(2)); the driver's death does."""
    import signal
    import subprocess

    from tests.process_checks import gone, pid_from

    pidfile = tmp_path / "lean.pid"
    env = {**os.environ, "FAKE_LEAN_SECONDS": "120", "FAKE_LEAN_PIDFILE": str(pidfile)}
    fake_lake = Path(__file__).parent / "standins" / "fake_lake.py"
    driver = subprocess.Popen(
        [sys.executable, "-c", _DRIVER, str(fake_lake), str(tmp_path), started_by], env=env, stdout=subprocess.PIPE
    )
    try:
        assert driver.stdout is not None and driver.stdout.readline().strip() == b"started"
        lean = pid_from(pidfile)
        assert not gone(lean, within_s=1.0), "the Lean process died while its driver was alive"
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=10)
        assert gone(lean, within_s=2.0), "the Lean process outlived its driver"
    finally:
        driver.kill()


# leanprover-community/repl#69, as its report sends it: the header's `set_option maxHeartbeats 0` reaches the
# file's commands but, without lean_env/data/repl_patches/snapshots-maxheartbeats.patch, not tactic mode, where
# `interval_cases` ran out at 200000 heartbeats. Needs a REPL built by `prover setup` (patched) and Mathlib.
REPL_69: list[dict[str, Any]] = [
    {"cmd": "import Mathlib\n\nset_option maxHeartbeats 0\nset_option maxRecDepth 1000000\n"},
    {
        "cmd": "theorem mathd_numbertheory_314 (r n : ℕ) (h₀ : r = 1342 % 13) (h₁ : 0 < n) (h₂ : 1342 ∣ n)\n"
        "    (h₃ : n % 13 < r) : 6710 ≤ n := by sorry",
        "env": 0,
    },
    {"tactic": "contrapose! h₃", "proofState": 0},
    {"tactic": "interval_cases n <;> simp_all (config := {decide := true})", "proofState": 1},
]


def _live_repl() -> ReplProcess:
    from lean_env.backends.repl import ReplSettings
    from tests.conftest import live_lean_project

    project = live_lean_project()
    assert project is not None
    settings = ReplSettings(project=project)
    proc = ReplProcess(settings.resolve_argv(), cwd=project)
    proc.start()
    return proc


@pytest.mark.lean
@pytest.mark.slow
def test_live_header_heartbeats_reach_tactic_mode_repl_69() -> None:
    from tests.conftest import live_lean_project

    project = live_lean_project()
    assert project is not None
    if not (project / ".lake" / "packages" / "mathlib").is_dir():
        pytest.skip("Mathlib is not in the live project")
    proc = _live_repl()
    try:
        answers = [proc.request(request, timeout=1800) for request in REPL_69]
    finally:
        proc.close()
    assert "env" in answers[0] and answers[1].get("sorries"), answers[:2]
    last = json.dumps(answers[3], ensure_ascii=False)
    assert "maximum number of heartbeats" not in last, last
    assert answers[3].get("goals") == [], last


@pytest.mark.lean
@pytest.mark.slow
def test_live_a_low_header_heartbeat_limit_binds_tactics_too() -> None:
    """The other direction, with Lean core only: `set_option maxHeartbeats 10` (10000 heartbeats) in the file stops
    a tactic that needs more, as it would in the file; unpatched, tactic mode kept 200000 and `decide` succeeded.
    Written from lean4's CoreM.lean (the limit and its message); not yet run against a real Lean."""
    proc = _live_repl()
    try:
        proc.request({"cmd": "set_option maxHeartbeats 10"}, timeout=300)
        start = proc.request({"cmd": "theorem small : True := by sorry", "env": 0}, timeout=300)
        tactic = "have h : (List.range 100).sum = 4950 := by decide"
        answer = proc.request({"tactic": tactic, "proofState": start["sorries"][0]["proofState"]}, timeout=300)
    finally:
        proc.close()
    assert "maximum number of heartbeats (10)" in json.dumps(answer), answer


# -- typed answers, read once where they arrive (lean_env.backends.repl_answers) ------------------------


@pytest.mark.parametrize("release", RELEASES)
def test_every_recorded_answer_reads_as_a_typed_record(shared: Path, release: str) -> None:
    """Each answer real Lean printed, command or tactic, reads into its record without a protocol error, and
    the record keeps what the dict said (env, proof state, goals, every message and sorry)."""
    from lean_env.backends.repl_answers import CommandAnswer, ReplRefusal, TacticAnswer, command_answer, tactic_answer

    counts = {CommandAnswer: 0, TacticAnswer: 0, ReplRefusal: 0}
    for path in transcripts(shared, release):
        requests = [json.loads(b, strict=False) for b in blocks(path)]
        answers = [json.loads(b) for b in blocks(path.with_name(path.name[:-3] + ".expected.out"))]
        for request, raw in zip(requests, answers, strict=True):
            if "cmd" not in request and "tactic" not in request:
                continue  # pickling requests and the like: not read by the client
            answer = command_answer(raw) if "cmd" in request else tactic_answer(raw)
            counts[type(answer)] += 1
            if isinstance(answer, ReplRefusal):
                assert answer.message == raw["message"]
                continue
            assert [m.to_json()["data"] for m in answer.messages] == [m["data"] for m in raw.get("messages", [])]
            assert [s.goal for s in answer.sorries] == [s["goal"] for s in raw.get("sorries", [])]
            assert [s.proof_state for s in answer.sorries] == [s.get("proofState") for s in raw.get("sorries", [])]
            if isinstance(answer, CommandAnswer):
                assert answer.env == raw.get("env")
            else:
                assert answer.proof_state == raw.get("proofState")
                assert answer.goals == (tuple(raw["goals"]) if "goals" in raw else None)
    assert counts[CommandAnswer] > 40 and counts[TacticAnswer] > 40 and counts[ReplRefusal] > 0, counts


@pytest.mark.parametrize(
    ("read", "answer", "names"),
    [
        ("command", {"env": "0"}, "env"),
        ("command", {"env": 0, "messages": {"severity": "error"}}, "messages"),
        ("command", {"env": 0, "sorries": [{"proofState": "zero", "goal": "⊢ Nat"}]}, "sorry proofState"),
        ("command", {"env": 0, "messages": [{"severity": "fatal", "data": "x", "pos": {"line": 1}}]}, "severity"),
        ("tactic", {"proofState": 1, "goals": "⊢ Nat"}, "goals"),
        ("tactic", {"proofState": 1, "goals": [], "proofStatus": 3}, "proofStatus"),
        ("tactic", {"message": ["Unknown proof state."]}, "message"),
    ],
)
def test_an_answer_of_the_wrong_type_is_a_protocol_error_naming_the_field(
    read: str, answer: dict[str, Any], names: str
) -> None:
    from lean_env.backends.repl_answers import command_answer, tactic_answer

    with pytest.raises(ProtocolError, match=names):
        (command_answer if read == "command" else tactic_answer)(answer)


def test_answers_are_read_once_at_the_wire(shared: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A start and a tactic: each answer becomes a record exactly once, where it arrives, and nothing after
    that reads the JSON again."""
    import lean_env.backends.repl as repl_module

    reads: list[str] = []
    for name in ("command_answer", "tactic_answer"):
        real = getattr(repl_module, name)

        def counted(raw: Any, real: Any = real, name: str = name) -> Any:
            reads.append(name)
            return real(raw)

        monkeypatch.setattr(repl_module, name, counted)
    with ReplEnv(standin_settings(shared, "readme")) as env:
        root = env.start(Theorem("f", "def f (x : Unit) : Nat"))
        assert isinstance(env.run_tactic(root, "apply Int.natAbs"), StateResult)
        assert reads == ["command_answer", "tactic_answer"] and env.requests == 2


def test_a_malformed_answer_restarts_the_process(tmp_path: Path) -> None:
    """`{"env": 0, "sorries": [{"proofState": "zero"}]}` is not something the REPL prints: the process is out of
    step with us, as with an answer that is not JSON, and is restarted before the next request."""
    requests = tmp_path / "t.in"
    requests.write_text(json.dumps({"cmd": "theorem t : True := by sorry"}) + "\n")
    (tmp_path / "t.expected.out").write_text(json.dumps({"env": 0, "sorries": [{"proofState": "zero"}]}) + "\n")
    with ReplEnv(ReplSettings(command=(sys.executable, str(STANDIN), str(requests)))) as env:
        with pytest.raises(ProtocolError, match="sorry proofState"):
            env.start(Theorem("t", "theorem t : True"))
        assert env.restarts == 1 and env.process_id is None
