"""The verifier's REPL process: imports elaborated once per process and import set,
each check compiled on the imports' environment (so no check sees another), restarts by count and memory.

Two stand-ins, both real subprocesses speaking the REPL's protocol: tests/standins/replay_repl.py answers
only the exact requests recorded (so a test pins what is sent), and benchmarks/bench_verify.py's stand-in
answers any check with `#print axioms` lines in Lean's format and charges import time and memory.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from lean_env.backends.repl import ReplSettings
from lean_env.checks.static import build_check_source
from lean_env.checks.verdict import Rejected, Verified
from lean_env.checks.verifier import ReplVerifier, VerifierPolicy
from lean_env.types import Theorem
from tests.print_axioms_model import printed_name

ROOT = Path(__file__).resolve().parents[1]
REPLAY = ROOT / "tests" / "standins" / "replay_repl.py"
BENCH = ROOT / "benchmarks" / "bench_verify.py"
HEADER = "import Mathlib\nimport Aesop\n\nopen Nat\n"


def theorem(i: int, header: str = HEADER) -> Theorem:
    return Theorem(f"t{i}", f"theorem t{i} : {i} + 0 = {i}", header)


def axioms_answer(source_text: str, env: int) -> dict[str, Any]:
    """Lean's answer to a check: one info message on the `#print axioms` line (format of `printAxiomsOf`)."""
    lines = source_text.split("\n")
    number = next(n for n, line in enumerate(lines, start=1) if line.startswith("#print axioms "))
    name = printed_name(lines[number - 1].removeprefix("#print axioms "))
    data = f"'{name}' depends on axioms: [propext]"
    return {"env": env, "messages": [{"severity": "info", "pos": {"line": number, "column": 0}, "data": data}]}


def blank_imports(text: str, imports: str) -> str:
    assert text.startswith(imports)
    return "\n" * imports.count("\n") + text[len(imports) :]


def write_transcript(tmp_path: Path, pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> Path:
    (tmp_path / "v.in").write_text("\n\n".join(json.dumps(r, ensure_ascii=False) for r, _ in pairs) + "\n")
    (tmp_path / "v.expected.out").write_text("\n\n".join(json.dumps(a, ensure_ascii=False) for _, a in pairs) + "\n")
    return tmp_path / "v.in"


def bench_settings(**costs: float) -> ReplSettings:
    argv = [sys.executable, str(BENCH), "--standin"]
    for key, value in {"import_s": 0.0, "import_mb": 1, "check_s": 0.0, "env_mb": 1, **costs}.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return ReplSettings(command=tuple(argv), memory_limit_mb=None)


def test_checks_start_from_the_imports_env_and_never_from_each_other(tmp_path: Path) -> None:
    imports = "import Mathlib\nimport Aesop"
    first, second = build_check_source(theorem(1), "rfl"), build_check_source(theorem(2), "rfl")
    transcript = write_transcript(
        tmp_path,
        [
            ({"cmd": imports}, {"env": 0}),
            ({"cmd": blank_imports(first.text, imports), "env": 0}, axioms_answer(first.text, 1)),
            # The second check is on env 0 again (the imports), not on env 1 (what the first check made).
            ({"cmd": blank_imports(second.text, imports), "env": 0}, axioms_answer(second.text, 2)),
        ],
    )
    log = tmp_path / "sent.log"
    settings = ReplSettings(command=(sys.executable, str(REPLAY), str(transcript), "--log", str(log)))
    with ReplVerifier(settings) as verifier:
        assert verifier.verify(theorem(1), "rfl") == Verified("lean-repl", ("propext",))
        assert verifier.verify(theorem(2), "rfl") == Verified("lean-repl", ("propext",))
        assert (verifier.imports_elaborated, verifier.checks, verifier.recycles) == (1, 2, 0)
    # Exactly three requests were sent, the first one being the imports alone.
    sent = [b for b in log.read_text(encoding="utf-8").split("\n\n") if b.strip()]
    assert len(sent) == 3 and json.loads(sent[0]) == {"cmd": imports}


def test_each_distinct_import_set_is_elaborated_once() -> None:
    other = "import Mathlib.Tactic\n\n"
    with ReplVerifier(bench_settings(), policy=VerifierPolicy(max_checks=None, restart_memory_mb=None)) as verifier:
        for i in range(6):
            verdict = verifier.verify(theorem(i, HEADER if i % 2 else other), "rfl")
            assert isinstance(verdict, Verified), verdict
        assert (verifier.imports_elaborated, verifier.checks) == (2, 6)


def test_a_fresh_process_after_max_checks() -> None:
    policy = VerifierPolicy(max_checks=2, restart_memory_mb=None)
    with ReplVerifier(bench_settings(), policy=policy) as verifier:
        pids = set()
        for i in range(5):
            assert isinstance(verifier.verify(theorem(i), "rfl"), Verified)
            pids.add(verifier._env.process_id)
        # 5 checks, a new process after checks 2 and 4: three processes, three imports, no restart counted.
        assert (verifier.imports_elaborated, verifier.recycles) == (3, 2)
        assert verifier._env.restarts == 0


def test_a_fresh_process_above_the_memory_threshold() -> None:
    # The stand-in holds 64 MB once it has imported: above 40 MB the verifier replaces it after each check.
    policy = VerifierPolicy(max_checks=None, restart_memory_mb=40)
    with ReplVerifier(bench_settings(import_mb=64), policy=policy) as verifier:
        for i in range(3):
            assert isinstance(verifier.verify(theorem(i), "rfl"), Verified)
        assert (verifier.imports_elaborated, verifier.recycles) == (3, 3)


def test_a_crash_during_a_check_reimports_in_a_fresh_process_and_retries(tmp_path: Path) -> None:
    imports = "import Mathlib\nimport Aesop"
    source = build_check_source(theorem(1), "rfl")
    transcript = write_transcript(
        tmp_path,
        [
            ({"cmd": imports}, {"env": 0}),
            ({"cmd": blank_imports(source.text, imports), "env": 0}, axioms_answer(source.text, 1)),
        ],
    )
    once = str(tmp_path / "fired")
    settings = ReplSettings(
        command=(sys.executable, str(REPLAY), str(transcript), "--fault", "crash", "--at", "2", "--once", once)
    )
    with ReplVerifier(settings) as verifier:
        assert isinstance(verifier.verify(theorem(1), "rfl"), Verified)
        assert verifier.imports_elaborated == 2 and verifier._env.restarts == 1


def test_imports_that_fail_reject_with_lean_s_message(tmp_path: Path) -> None:
    error = {"severity": "error", "pos": {"line": 1, "column": 0}, "data": "unknown module prefix 'Mathlb'"}
    transcript = write_transcript(tmp_path, [({"cmd": "import Mathlb"}, {"env": 0, "messages": [error]})])
    settings = ReplSettings(command=(sys.executable, str(REPLAY), str(transcript)))
    with ReplVerifier(settings) as verifier:
        verdict = verifier.verify(theorem(1, "import Mathlb\n"), "rfl")
    assert isinstance(verdict, Rejected) and "header's imports" in verdict.reason and "Mathlb" in verdict.reason


def test_the_old_way_sends_each_check_whole(tmp_path: Path) -> None:
    source = build_check_source(theorem(1), "rfl")
    transcript = write_transcript(tmp_path, [({"cmd": source.text}, axioms_answer(source.text, 0))])
    settings = ReplSettings(command=(sys.executable, str(REPLAY), str(transcript)))
    with ReplVerifier(settings, policy=VerifierPolicy(share_imports=False)) as verifier:
        assert isinstance(verifier.verify(theorem(1), "rfl"), Verified)
        assert verifier.imports_elaborated == 1


def test_config_keys_reach_the_verifier(tmp_path: Path, monkeypatch: Any) -> None:
    from lean_env.backends.repl import default_repl_binary
    from prover.backends import make_verifier
    from prover.config import LeanConfig

    project = tmp_path / "project"  # a Lake project with the REPL binary where `prover setup` puts it
    binary = default_repl_binary(project)
    binary.parent.mkdir(parents=True)
    (project / "lakefile.toml").write_text('name = "p"\n')
    binary.write_text("")
    (tmp_path / "lake").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "lake").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    cfg = LeanConfig(
        project=str(project), verifier_max_checks=7, verifier_restart_mb=1024, verifier_restart_growth_mb=512
    )
    verifier = make_verifier(cfg)
    assert isinstance(verifier, ReplVerifier)
    policy = verifier.policy
    assert (policy.max_checks, policy.restart_memory_mb, policy.restart_growth_mb) == (7, 1024, 512)
    assert LeanConfig().verifier_max_checks == 100 and LeanConfig().verifier_restart_growth_mb == 4096


def test_whole_file_checks_use_the_same_imports_env() -> None:
    original = "import Mathlib\nimport Aesop\n\ntheorem a : 1 = 1 := by\n  sorry\n"
    rewritten = original.replace("sorry", "rfl")
    policy = VerifierPolicy(max_checks=None, restart_memory_mb=None)
    with ReplVerifier(bench_settings(), policy=policy) as verifier:
        assert isinstance(verifier.verify(theorem(1), "rfl"), Verified)
        verdicts = verifier.verify_file(original, rewritten, ["a"])
        assert isinstance(verdicts["a"], Verified), verdicts
        assert (verifier.imports_elaborated, verifier.checks) == (1, 2)


def test_the_memory_threshold_is_relative_to_the_import(tmp_path: Path, monkeypatch: Any) -> None:
    """A Mathlib import leaves the REPL at about 6.5 GB and each check keeps 20 MB more
    (tests/standins/growing_repl.py): under the default policy 100 checks need no re-import, and a long run
    re-imports only every `max_checks` checks. An absolute 8 GB threshold re-imported every 75 checks (and, for
    a 7.5 GB import, every 35)."""
    import lean_env.backends.repl_process as repl_process

    rss_file = tmp_path / "rss"
    argv = (sys.executable, str(ROOT / "tests" / "standins" / "growing_repl.py"), "--import-mb", "6656")
    settings = ReplSettings(command=(*argv, "--check-mb", "20", "--rss-file", str(rss_file)), memory_limit_mb=None)
    monkeypatch.setattr(repl_process, "tree_rss_mb", lambda pid: float(rss_file.read_text()))
    with ReplVerifier(settings) as verifier:
        for i in range(100):
            assert isinstance(verifier.verify(theorem(i), "rfl"), Verified)
        assert verifier.imports_elaborated == 1, verifier.imports_elaborated
        for i in range(100, 250):
            assert isinstance(verifier.verify(theorem(i), "rfl"), Verified)
        assert verifier.imports_elaborated == 3, verifier.imports_elaborated  # after checks 100 and 200


def test_the_memory_threshold_follows_growth_above_the_import(tmp_path: Path, monkeypatch: Any) -> None:
    """Growth past `restart_growth_mb` above the post-import memory does replace the process."""
    import lean_env.backends.repl_process as repl_process

    rss_file = tmp_path / "rss"
    argv = (sys.executable, str(ROOT / "tests" / "standins" / "growing_repl.py"), "--import-mb", "6656")
    settings = ReplSettings(command=(*argv, "--check-mb", "20", "--rss-file", str(rss_file)), memory_limit_mb=None)
    monkeypatch.setattr(repl_process, "tree_rss_mb", lambda pid: float(rss_file.read_text()))
    policy = VerifierPolicy(max_checks=None, restart_growth_mb=100)
    with ReplVerifier(settings, policy=policy) as verifier:
        for i in range(12):
            assert isinstance(verifier.verify(theorem(i), "rfl"), Verified)
        # 6 checks keep 120 MB > 100 MB above the import: replaced after the 6th and the 12th.
        assert (verifier.recycles, verifier.imports_elaborated) == (2, 2)
