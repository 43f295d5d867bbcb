"""prover.suggest: suggestions, checking through the replay backend, and the session state machine.

The Env is lean_env's replay backend over real Lean recordings (LeanDojo Benchmark 4 proofsteps and the
miniF2F demo cassette); nothing here pretends to be Lean.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import pytest
from rich.console import Console
from suggest_fixtures import ADD_ABS, ADD_ABS_FILE, APPLY, EXACT, RW

from lean_env.backends.replay import ReplayEnv, ReplayVerifier
from lean_env.cassette.build import build_from_proofsteps, state_traced_theorems
from lean_env.cassette.store import Cassette
from lean_env.checks.verdict import Rejected, Verdict, Verified
from lean_env.source.declarations import parse_lean_file, parse_lean_source
from lean_env.types import LeanError, ProofFinished, ProofState, ResultKind, TacticResult, Theorem
from prover.generators.fixed import FixedTacticGenerator
from prover.suggest import (
    InteractiveOutcome,
    ProofSession,
    SessionError,
    Suggestion,
    check_suggestions,
    generate_suggestions,
    render_suggestions,
    run_interactive,
    write_verified_proof,
)
from search.types import Budget, Candidate, GenRequest, SearchConfig

# add_abs_nonneg: recorded step by step from Mathlib by LeanDojo (three tactics, the second leaves `case bc`).


@pytest.fixture(scope="module")
def leandojo_cassette(shared: Path) -> Cassette:
    path = shared / "data" / "proofsteps" / "leandojo_benchmark4_random_test_sample100.jsonl"
    cassette = build_from_proofsteps([path]).cassette
    # The trace records no statement; the test file states the traced declaration (`cassette build --statements`).
    state_traced_theorems(cassette, [d.to_theorem() for d in parse_lean_source(ADD_ABS_FILE).theorems], "AddAbs.lean")
    return cassette


@pytest.fixture(scope="module")
def demo_cassette(repo_root: Path) -> Cassette:
    return Cassette.load(repo_root / "examples" / "demo.cassette.jsonl")


def add_abs_theorem() -> Theorem:
    return parse_lean_source(ADD_ABS_FILE).get(ADD_ABS).to_theorem()


class RecordingGenerator:
    """Wraps a generator and records every request it was asked."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.requests: list[GenRequest] = []

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        self.requests.extend(requests)
        return self.inner(requests, k)  # type: ignore[operator]


def fixed(*tactics: str) -> FixedTacticGenerator:
    return FixedTacticGenerator(list(tactics))


# ---------------------------------------------------------------------------------- suggestions


def test_generate_suggestions_ranks_dedupes_and_respects_prefix_and_k() -> None:
    def messy(requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        return [
            [
                Candidate("simp", -2.0),
                Candidate("rw [h]", -0.5),
                Candidate("rw [h]", -0.1),  # duplicate: the first (better-ranked) copy is kept
                Candidate("  ", -0.2),  # empty after stripping
                Candidate("rw [foo]", -1.0),
                Candidate("rw [bar]", float("nan")),
                Candidate("rw [baz]", float("-inf")),
            ]
            for _ in requests
        ]

    got = generate_suggestions(messy, "⊢ True", k=5)
    assert [s.tactic for s in got] == ["rw [h]", "rw [foo]", "simp"]
    assert [s.score for s in got] == [-0.5, -1.0, -2.0]
    assert [s.tactic for s in generate_suggestions(messy, "⊢ True", k=5, prefix="rw")] == ["rw [h]", "rw [foo]"]
    assert len(generate_suggestions(messy, "⊢ True", k=1)) == 1


def test_generate_suggestions_passes_state_prefix_and_theorem_name() -> None:
    gen = RecordingGenerator(fixed("norm_num", "nlinarith"))
    got = generate_suggestions(gen, "x : ℝ\n⊢ x = x", k=4, prefix="nl", theorem_name="t")
    assert [s.tactic for s in got] == ["nlinarith"]
    assert gen.requests == [GenRequest(state="x : ℝ\n⊢ x = x", theorem_name="t", prefix="nl")]


def test_check_marks_closes_errors_and_refusals_through_replay(demo_cassette: Cassette) -> None:
    record = demo_cassette.theorems["mathd_algebra_455"]
    assert record.initial_state is not None
    state = ProofState.from_pp(record.initial_state)
    suggestions = generate_suggestions(fixed("norm_num", "sorry", "linarith"), state.pp, k=3)
    with ReplayEnv(demo_cassette) as env:
        checked = check_suggestions(env, state, suggestions, timeout=5.0)
    # Closing tactics first, then failures; model order is kept within a group.
    assert [(s.tactic, s.check.outcome if s.check else None) for s in checked] == [
        ("linarith", ResultKind.FINISHED),
        ("norm_num", ResultKind.ERROR),
        ("sorry", ResultKind.REFUSED),
    ]
    assert checked[1].check is not None and checked[1].check.message.startswith("unrecorded")
    assert checked[2].check is not None and "sorry" in checked[2].check.message
    assert env.calls == 2  # the refused tactic never reached the backend


def test_check_shows_the_goals_a_tactic_leaves(leandojo_cassette: Cassette) -> None:
    with ReplayEnv(leandojo_cassette) as env:
        root = env.start(add_abs_theorem())
        [checked] = check_suggestions(env, root, [Suggestion(RW, -0.1)])
    assert checked.check is not None and checked.check.outcome is ResultKind.STATE
    assert len(checked.check.goals) == 1
    assert checked.check.goals[0].endswith("⊢ a + -a ≤ a + abs a")
    assert checked.to_dict()["goals"] == list(checked.check.goals)
    assert checked.to_dict()["result"] == "state"


def test_render_suggestions_prints_lean_text_verbatim(demo_cassette: Cassette) -> None:
    # Square brackets in tactics must not be read as rich markup.
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    render_suggestions(console, [Suggestion("nlinarith [sq_nonneg (a - b), sq_abs a]", -0.25)])
    assert "nlinarith [sq_nonneg (a - b), sq_abs a]" in out.getvalue()
    assert "-0.250" in out.getvalue()


# ---------------------------------------------------------------------------------- the session


def test_session_apply_undo_and_finish(leandojo_cassette: Cassette) -> None:
    with ReplayEnv(leandojo_cassette) as env:
        session = ProofSession(env, add_abs_theorem(), fixed(RW, APPLY, EXACT), k=3)
        root = session.state
        assert root is not None and root.pp.endswith("⊢ 0 ≤ a + abs a")

        bad = session.apply("simp")
        assert bad.outcome is ResultKind.ERROR and session.state == root and not session.steps

        assert session.apply(RW).outcome is ResultKind.STATE
        after_rw = session.state
        assert after_rw is not None and after_rw != root
        step = session.undo()
        assert step is not None and step.tactic == RW and session.state == root
        assert session.undo() is None

        for tactic in (RW, APPLY):
            assert session.apply(tactic).outcome is ResultKind.STATE
        current = session.state
        assert current is not None and current.pp.startswith("case bc")
        assert session.apply(EXACT).outcome is ResultKind.FINISHED
        assert session.finished and session.state is None
        assert session.tactics == (RW, APPLY, EXACT)
        assert session.proof == f"{RW}\n{APPLY}\n{EXACT}"
        with pytest.raises(SessionError):
            session.apply("simp")
        with pytest.raises(SessionError):
            session.suggest()
        session.undo()
        assert not session.finished and session.state == current


def test_session_refuses_filtered_tactics_without_running_them(leandojo_cassette: Cassette) -> None:
    with ReplayEnv(leandojo_cassette) as env:
        session = ProofSession(env, add_abs_theorem(), fixed(RW), k=1)
        calls = env.calls
        check = session.apply("sorry")
        assert check.outcome is ResultKind.REFUSED and env.calls == calls and not session.steps


def test_session_suggestions_are_checked_per_state_and_cached(leandojo_cassette: Cassette) -> None:
    gen = RecordingGenerator(fixed(EXACT, RW, APPLY))
    with ReplayEnv(leandojo_cassette) as env:
        session = ProofSession(env, add_abs_theorem(), gen, k=3)
        first = session.suggest()
        assert [s.tactic for s in first][0] == RW  # the only one recorded at the root
        assert [s.check.outcome for s in first if s.check] == [ResultKind.STATE, ResultKind.ERROR, ResultKind.ERROR]
        assert session.suggest() is first and len(gen.requests) == 1
        session.apply(RW)
        second = session.suggest()
        assert second[0].tactic == APPLY and len(gen.requests) == 2
        # The tactics so far go with the request (InternLM step provers' PROOF_BEFORE).
        assert [r.proof_before for r in gen.requests] == [(), (RW,)]
        unchecked = session.suggest(check=False)
        assert all(s.check is None for s in unchecked)
        assert [s.tactic for s in unchecked] == [EXACT, RW, APPLY]


def _config(max_expansions: int = 20) -> SearchConfig:
    return SearchConfig(num_tactics=4, budget=Budget(time_s=30.0, max_expansions=max_expansions))


def test_finish_by_search_from_the_current_state(leandojo_cassette: Cassette) -> None:
    with ReplayEnv(leandojo_cassette) as env:
        session = ProofSession(env, add_abs_theorem(), fixed("simp", EXACT, APPLY, RW), k=4)
        session.apply(RW)
        result = session.finish_by_search(_config())
        assert result.status.proved
        assert session.finished
        assert session.tactics == (RW, APPLY, EXACT)
        # Every replayed step keeps its state, so the search's steps can be undone one by one.
        session.undo()
        state = session.state
        assert state is not None and state.pp.startswith("case bc")


def test_failed_search_leaves_the_session_unchanged(leandojo_cassette: Cassette) -> None:
    with ReplayEnv(leandojo_cassette) as env:
        session = ProofSession(env, add_abs_theorem(), fixed("simp", "linarith"), k=2)
        session.apply(RW)
        before = (session.tactics, session.state)
        result = session.finish_by_search(_config(max_expansions=3))
        assert not result.status.proved
        assert (session.tactics, session.state) == before


def test_finish_by_search_runs_the_engines_search_strategy(
    leandojo_cassette: Cassette, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session's search is the engine's `search` strategy (the one `prove` and the sweep run), started
    from the session's current state, with the session's generator and native_decide setting."""
    from prover.engine import Engine, ProofTarget, SearchStrategy

    searched: list[tuple[SearchStrategy, ProofTarget]] = []
    inner = Engine.search

    def spy(engine: Engine, target: ProofTarget, on_progress: object = None) -> object:
        assert isinstance(engine.strategy, SearchStrategy)
        searched.append((engine.strategy, target))
        return inner(engine, target)

    monkeypatch.setattr(Engine, "search", spy)
    with ReplayEnv(leandojo_cassette) as env:
        generator = fixed("simp", EXACT, APPLY, RW)
        session = ProofSession(env, add_abs_theorem(), generator, k=4, allow_native_decide=True)
        session.apply(RW)
        assert session.finish_by_search(_config()).status.proved and session.tactics == (RW, APPLY, EXACT)
    [(strategy, target)] = searched
    assert strategy.name == "search" and strategy.generator is generator
    assert strategy.allow_native_decide is True and target.theorem == session.theorem
    assert target.hole is None


class ForgetfulEnv(ReplayEnv):
    """A replay whose recording of `forget` is lost after its first use: a search claim that replay then refutes."""

    def __init__(self, cassette: Cassette, forget: str) -> None:
        super().__init__(cassette)
        self.forget = forget
        self.seen = False

    def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> TacticResult:
        if tactic == self.forget and self.seen:
            return LeanError("this time Lean says no")
        result = super().run_tactic(state, tactic, timeout)
        self.seen = self.seen or (tactic == self.forget and isinstance(result, ProofFinished))
        return result


def test_search_claim_that_fails_on_replay_is_rolled_back(leandojo_cassette: Cassette) -> None:
    env = ForgetfulEnv(leandojo_cassette, forget=EXACT)
    session = ProofSession(env, add_abs_theorem(), fixed(RW, APPLY, EXACT), k=3)
    session.apply(RW)
    before = (session.tactics, session.state)
    with pytest.raises(SessionError, match="failed on replay"):
        session.finish_by_search(_config())
    assert (session.tactics, session.state) == before


# ---------------------------------------------------------------------------------- the loop (scripted input)


def _drive(session: ProofSession, lines: list[str]) -> tuple[InteractiveOutcome, str]:
    feed = iter(lines)

    def fake_input(prompt: str) -> str:
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None

    out = io.StringIO()
    outcome = run_interactive(
        session, Console(file=out, width=160, color_system=None), search_config=_config(), input_fn=fake_input
    )
    return outcome, out.getvalue()


def test_interactive_loop_pick_type_undo_and_finish(leandojo_cassette: Cassette) -> None:
    with ReplayEnv(leandojo_cassette) as env:
        session = ProofSession(env, add_abs_theorem(), fixed(RW, APPLY, EXACT), k=3)
        outcome, text = _drive(session, ["9", "1", "u", "1", "not_a_tactic", APPLY, "p", "1"])
    assert outcome.finished and not outcome.quit
    assert outcome.tactics == (RW, APPLY, EXACT)
    assert "no suggestion 9" in text
    assert f"undid: {RW}" in text
    assert "not applied: error: unrecorded" in text
    assert "all goals closed" in text


def test_interactive_loop_search_and_quit(leandojo_cassette: Cassette) -> None:
    with ReplayEnv(leandojo_cassette) as env:
        session = ProofSession(env, add_abs_theorem(), fixed("simp", RW, APPLY, EXACT), k=4)
        outcome, text = _drive(session, ["s"])
        assert outcome.finished and outcome.tactics == (RW, APPLY, EXACT)
        assert "search found" in text

        quitter = ProofSession(env, add_abs_theorem(), fixed(RW), k=1)
        outcome, _ = _drive(quitter, ["1", "q"])
        assert not outcome.finished and outcome.quit and outcome.tactics == (RW,)
        outcome, _ = _drive(ProofSession(env, add_abs_theorem(), fixed(RW), k=1), [])  # EOF quits
        assert outcome.quit


def test_interactive_loop_survives_a_failing_model(leandojo_cassette: Cassette) -> None:
    def broken(requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        raise RuntimeError("model crashed")

    with ReplayEnv(leandojo_cassette) as env:
        outcome, text = _drive(ProofSession(env, add_abs_theorem(), broken, k=3), [RW, APPLY, EXACT])
    assert "the generator failed: RuntimeError: model crashed" in text
    assert outcome.finished and outcome.tactics == (RW, APPLY, EXACT)


# ---------------------------------------------------------------------------------- writing back


class CountingVerifier:
    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        self.calls: list[tuple[Theorem, str]] = []

    def verify(self, theorem: Theorem, proof: str) -> Verdict:
        self.calls.append((theorem, proof))
        return self.verdict


@pytest.fixture
def add_abs_file(tmp_path: Path) -> Path:
    path = tmp_path / "AddAbs.lean"
    path.write_text(ADD_ABS_FILE, encoding="utf-8")
    return path


def test_write_verified_proof_checks_then_writes(add_abs_file: Path, leandojo_cassette: Cassette) -> None:
    # An edit made elsewhere in the file during the session is kept.
    edited = "-- edited while the session ran\n" + add_abs_file.read_text(encoding="utf-8")
    add_abs_file.write_text(edited, encoding="utf-8")
    verdict = write_verified_proof(add_abs_file, ADD_ABS, (RW, APPLY, EXACT), ReplayVerifier(leandojo_cassette))
    assert verdict == Verified(checker="replay")
    text = add_abs_file.read_text(encoding="utf-8")
    assert text.startswith("-- edited while the session ran\n")
    assert f"0 ≤ a + |a| := by\n  {RW}\n  {APPLY}\n  {EXACT}\n\ntheorem other_theorem : True := by\n  trivial\n" in text
    assert "sorry" not in text


def test_write_verified_proof_never_writes_a_rejected_proof(add_abs_file: Path, leandojo_cassette: Cassette) -> None:
    verdict = write_verified_proof(add_abs_file, ADD_ABS, (RW, APPLY), ReplayVerifier(leandojo_cassette))
    assert isinstance(verdict, Rejected) and "remain" in verdict.reason
    assert add_abs_file.read_text(encoding="utf-8") == ADD_ABS_FILE


def test_write_verified_proof_refuses_a_changed_statement_or_missing_theorem(add_abs_file: Path) -> None:
    verifier = CountingVerifier(Verified(checker="test"))
    statement = parse_lean_source(ADD_ABS_FILE).get(ADD_ABS).to_theorem().statement
    add_abs_file.write_text(ADD_ABS_FILE.replace("0 ≤ a + |a|", "0 ≤ |a| + a"), encoding="utf-8")
    verdict = write_verified_proof(add_abs_file, ADD_ABS, (RW,), verifier, expected_statement=statement)
    assert isinstance(verdict, Rejected) and "changed" in verdict.reason
    verdict = write_verified_proof(add_abs_file, "gone", (RW,), verifier)
    assert isinstance(verdict, Rejected) and "no longer" in verdict.reason
    assert verifier.calls == []


def test_multiline_tactic_round_trips_through_file_and_verifier(tmp_path: Path, leandojo_cassette: Cassette) -> None:
    # LeanDojo recorded this `induction … with` (arms at the tactic's own column) closing the goal in one step.
    induction = next(
        step.tactic
        for (state, _), step in leandojo_cassette.steps.items()
        if step.theorem == "Nat.succ_sub_succ_eq_sub" and step.step == 0
    )
    assert "\n| zero" in induction
    path = tmp_path / "Sub.lean"
    path.write_text(
        "theorem Nat.succ_sub_succ_eq_sub (n m : Nat) : succ n - succ m = n - m := by\n  sorry\n", encoding="utf-8"
    )
    # The trace records no statement: this file states the traced declaration (`cassette build --statements`).
    cassette = leandojo_cassette.restricted_to(["Nat.succ_sub_succ_eq_sub"])
    stated = [d.to_theorem() for d in parse_lean_file(path).theorems]
    assert state_traced_theorems(cassette, stated, path.name) == ["Nat.succ_sub_succ_eq_sub"]
    with ReplayEnv(cassette) as env:
        session = ProofSession(env, stated[0], fixed(induction))
        assert session.apply(induction).outcome is ResultKind.FINISHED
    verdict = write_verified_proof(path, "Nat.succ_sub_succ_eq_sub", session.tactics, ReplayVerifier(cassette))
    assert verdict == Verified(checker="replay")
    assert ":= by\n  induction m with\n    | zero" in path.read_text(encoding="utf-8")


def test_suggestion_json_shape() -> None:
    assert Suggestion("simp", -0.5).to_dict() == {"tactic": "simp", "score": -0.5}


def test_write_verified_proof_keeps_crlf_mode_and_a_backup(add_abs_file: Path, leandojo_cassette: Cassette) -> None:
    """`suggest -i --write` on a CRLF file of mode 0644: it wrote LF, mode 0600 and no backup."""
    crlf = ADD_ABS_FILE.replace("\n", "\r\n").encode("utf-8")
    add_abs_file.write_bytes(crlf)
    add_abs_file.chmod(0o644)
    verdict = write_verified_proof(add_abs_file, ADD_ABS, (RW, APPLY, EXACT), ReplayVerifier(leandojo_cassette))
    assert verdict == Verified(checker="replay")
    data = add_abs_file.read_bytes()
    assert b"\n" not in data.replace(b"\r\n", b"")  # every line still ends in CRLF
    assert f"0 ≤ a + |a| := by\r\n  {RW}\r\n  {APPLY}\r\n  {EXACT}\r\n".encode() in data
    assert add_abs_file.stat().st_mode & 0o777 == 0o644
    [backup] = add_abs_file.parent.glob("AddAbs.lean.*.bak")
    assert backup.read_bytes() == crlf
    # Only the proof's bytes changed.
    before, after = crlf.split(b"sorry", 1)
    assert data.startswith(before) and data.endswith(after)


def test_write_verified_proof_refuses_a_file_changed_during_verification(add_abs_file: Path) -> None:
    class EditingVerifier:
        def verify(self, theorem: Theorem, proof: str) -> Verdict:
            add_abs_file.write_text(ADD_ABS_FILE + "\n-- typed meanwhile\n", encoding="utf-8")
            return Verified(checker="test")

    verdict = write_verified_proof(add_abs_file, ADD_ABS, (RW,), EditingVerifier())
    assert isinstance(verdict, Rejected) and "changed" in verdict.reason
    assert add_abs_file.read_text(encoding="utf-8").endswith("-- typed meanwhile\n")
    assert not list(add_abs_file.parent.glob("*.bak"))
