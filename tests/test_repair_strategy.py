"""The `repair` strategy: a whole proof with one failing `have` becomes a sketch with that have's body as a hole,
the sketch is compiled (only the hole's `sorry` warning remains), the tactic search fills the hole from its goal,
and the recombined proof is verified whole. Stand-ins model the REPL verifier (messages in the REPL's shape,
positions in the compiled text, as lean_env.checks.static builds it) and a backend entering holes."""

from __future__ import annotations

from lean_env.checks.verdict import Rejected, Verdict, Verified
from lean_env.messages import LeanMessage
from lean_env.types import HoleTarget, LeanError, ProofFinished, ProofState, TacticResult, Theorem
from prover.engine import Engine, ProofTarget, SearchStrategy, Status, WholeStrategy
from prover.engine.repair import RepairStrategy
from prover.engine.strategies import Sample
from prover.generators import FixedTacticGenerator
from search.types import Budget, SearchConfig

THEOREM = Theorem("t", "theorem t (x : ℝ) (h₀ : 2 * x = 6) : x = 3", header="import Mathlib")
FAILED = "have h : x = 3 := by\n  nlinarith [h₀, sq_nonneg x]\nexact h"
REPAIRED = "have h : x = 3 := by linarith\nexact h"
GOAL = "x : ℝ\nh₀ : 2 * x = 6\n⊢ x = 3"


def _error(line: int, column: int, end: int, data: str, severity: str = "error") -> LeanMessage:
    return LeanMessage.from_json(
        {
            "severity": severity,
            "pos": {"line": line, "column": column},
            "endPos": {"line": line, "column": end},
            "data": data,
        }
    )


class CompilingVerifier:
    """The compiled text is header, blank line, statement `:= by`, the proof indented by 2 (lines 4 on)."""

    def __init__(self) -> None:
        self.proofs: list[str] = []

    def verify(self, theorem: Theorem, proof: str) -> Verdict:
        self.proofs.append(proof)
        if proof == REPAIRED:
            return Verified("lean-repl")
        body = "\n".join("  " + line for line in proof.split("\n"))
        source = f"{theorem.header}\n\n{theorem.statement} := by\n{body}\n"
        lines = source.split("\n")
        for number, text in enumerate(lines, 1):
            if "nlinarith" in text:
                column = text.index("nlinarith")
                message = _error(number, column, len(text), "linarith failed to find a contradiction\n" + GOAL)
                return Rejected(f"Lean error in the theorem at line {number}", "lean-repl", (message,), source)
        if "sorry" in proof:
            warning = _error(3, 8, 9, "declaration uses 'sorry'", "warning")
            return Rejected("Lean reports that the declaration uses `sorry`", "lean-repl", (warning,), source)
        return Rejected("Lean error", "lean-repl", (_error(4, 2, 3, "unexpected"),), source)


class HoleBackend:
    """Enters a hole at its recorded goal; `linarith` closes it, anything else fails."""

    def __init__(self) -> None:
        self.holes: list[HoleTarget] = []

    def start(self, theorem: Theorem) -> ProofState:
        raise AssertionError("a repair searches holes, not statements")

    def start_hole(self, target: HoleTarget) -> ProofState:
        self.holes.append(target)
        return ProofState(GOAL, handle=0)

    def run_tactic(self, state: ProofState, tactic: str, timeout: float | None = None) -> TacticResult:
        return ProofFinished() if tactic == "linarith" else LeanError("linarith failed")

    def close(self) -> None:
        pass

    def __enter__(self) -> HoleBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class OneSample:
    def __call__(self, target: ProofTarget, n: int) -> list[Sample]:
        return [Sample(FAILED, 12)]


def test_a_failing_have_is_repaired_by_the_tactic_search() -> None:
    whole = WholeStrategy(OneSample(), 1, lambda text, name: text)
    search = SearchStrategy(
        FixedTacticGenerator(["nlinarith", "linarith"]), SearchConfig(budget=Budget(max_expansions=2))
    )
    verifier, env = CompilingVerifier(), HoleBackend()
    outcome = Engine(RepairStrategy(whole, search), env, verifier).prove(ProofTarget("t", THEOREM))
    assert outcome.status is Status.PROVED and outcome.proof == REPAIRED and outcome.checker == "lean-repl"
    # The sample, the sketch (its compile shows only the hole's sorry warning), the recombined proof.
    assert verifier.proofs == [FAILED, "have h : x = 3 := by sorry\nexact h", REPAIRED]
    [hole] = env.holes
    assert hole.skeleton == "by\n  have h : x = 3 := by sorry\n  exact h" and hole.count == 1
    assert [(a.round, a.parent, a.status) for a in outcome.attempts] == [
        (0, None, Status.REJECTED),
        (1, 0, Status.PROVED),
    ]
    assert [(c.strategy, c.round, c.cost.compiles) for c in outcome.costs] == [("whole", 0, 1), ("repair", 1, 2)]
    repair = outcome.costs[1].cost
    assert repair.model_calls >= 1 and repair.generated_tokens == 0 and repair.tactic_calls >= 2


def test_a_hole_the_search_cannot_fill_leaves_the_target_rejected() -> None:
    whole = WholeStrategy(OneSample(), 1, lambda text, name: text)
    search = SearchStrategy(FixedTacticGenerator(["nlinarith"]), SearchConfig(budget=Budget(max_expansions=2)))
    outcome = Engine(RepairStrategy(whole, search), HoleBackend(), CompilingVerifier()).prove(ProofTarget("t", THEOREM))
    assert outcome.status is Status.REJECTED and not outcome.proved and "hole 1 of 1 not filled" in outcome.message


def test_a_sweep_whole_attempt_with_repair_fills_the_failing_have() -> None:
    """The sweep's whole-proof attempt (`sweep --repair`), as a prover actor runs it: its Lean backend
    searches the hole, its verifier checks the sketch and the repaired proof."""
    from benchmarks.minif2f import Problem, StatementSource
    from benchmarks.sweep.attempt import AttemptJob, RepairOptions, run_whole_attempt

    job_problem = Problem("t", "valid", THEOREM, "algebra", "formal_statement", StatementSource("test", "", ""))
    job = AttemptJob(job_problem, 0, "f2f", "whole", "Complete the following Lean 4 code:")
    options = RepairOptions({"nlinarith": -1.0, "linarith": -2.0}, SearchConfig(budget=Budget(max_expansions=2)))
    completer = lambda prompts: [FAILED for _ in prompts]  # noqa: E731 - a model written for the test
    plain = run_whole_attempt(job, completer, CompilingVerifier())
    assert plain.status is Status.REJECTED and not plain.proved
    repaired = run_whole_attempt(job, completer, CompilingVerifier(), HoleBackend(), options)
    assert repaired.status is Status.PROVED and repaired.proved and repaired.proof == REPAIRED
    assert repaired.strategy == "repair" and [c["round"] for c in repaired.costs] == [0, 1]


TWO_FAILED = "have h : x = 3 := by\n  nlinarith [h₀, sq_nonneg x]\nhave g : x + 0 = 3 := by\n  nlinarith [h]\nexact g"
TWO_SKETCH = "have h : x = 3 := by sorry\nhave g : x + 0 = 3 := by sorry\nexact g"
TWO_REPAIRED = "have h : x = 3 := by linarith\nhave g : x + 0 = 3 := by linarith\nexact g"


class TwoHoleVerifier(CompilingVerifier):
    """Both haves fail: the sketch is compiled twice (one hole, then both), and only the proof with both holes
    filled by `linarith` verifies."""

    def verify(self, theorem: Theorem, proof: str) -> Verdict:
        if proof == TWO_REPAIRED:
            self.proofs.append(proof)
            return Verified("lean-repl")
        return super().verify(theorem, proof)


class OverlapBackend(HoleBackend):
    """Enters a hole only once another hole search is running too (a barrier of two): searches run one after
    another would break the barrier after its timeout. Records how many were entered at once."""

    def __init__(self, parties: int) -> None:
        import threading

        super().__init__()
        self.barrier = threading.Barrier(parties, timeout=10)
        self.lock, self.active, self.most = threading.Lock(), 0, 0

    def start_hole(self, target: HoleTarget) -> ProofState:
        with self.lock:
            self.active += 1
            self.most = max(self.most, self.active)
        self.barrier.wait()
        with self.lock:
            self.active -= 1
        return super().start_hole(target)


def _two_hole_repair(tactics: list[str]) -> RepairStrategy:
    whole = WholeStrategy(lambda target, n: [Sample(TWO_FAILED, 30)], 1, lambda text, name: text)
    search = SearchStrategy(FixedTacticGenerator(tactics), SearchConfig(budget=Budget(max_expansions=2)))
    return RepairStrategy(whole, search)


def test_the_holes_of_one_sketch_are_searched_concurrently_with_the_sequential_result() -> None:
    from prover.engine import EngineConfig

    sequential_env = HoleBackend()
    sequential = Engine(_two_hole_repair(["nlinarith", "linarith"]), sequential_env, TwoHoleVerifier()).prove(
        ProofTarget("t", THEOREM)
    )
    concurrent_env, verifier = OverlapBackend(2), TwoHoleVerifier()
    engine = Engine(_two_hole_repair(["nlinarith", "linarith"]), concurrent_env, verifier, EngineConfig(jobs=2))
    concurrent = engine.prove(ProofTarget("t", THEOREM))
    assert concurrent_env.most == 2 and not concurrent_env.barrier.broken
    assert sorted(h.index for h in concurrent_env.holes) == [0, 1]
    assert verifier.proofs == [
        TWO_FAILED,
        "have h : x = 3 := by sorry\nhave g : x + 0 = 3 := by\n  nlinarith [h]\nexact g",
        TWO_SKETCH,
        TWO_REPAIRED,
    ]
    for outcome in (sequential, concurrent):
        assert outcome.status is Status.PROVED and outcome.proof == TWO_REPAIRED
    assert [(a.round, a.parent, a.status, a.proof) for a in concurrent.attempts] == [
        (a.round, a.parent, a.status, a.proof) for a in sequential.attempts
    ]
    assert [(c.strategy, c.round, c.cost.compiles, c.cost.tactic_calls) for c in concurrent.costs] == [
        (c.strategy, c.round, c.cost.compiles, c.cost.tactic_calls) for c in sequential.costs
    ]


def test_concurrent_hole_searches_that_fail_leave_the_target_rejected_like_sequential_ones() -> None:
    from prover.engine import EngineConfig

    sequential = Engine(_two_hole_repair(["nlinarith"]), HoleBackend(), TwoHoleVerifier()).prove(
        ProofTarget("t", THEOREM)
    )
    engine = Engine(_two_hole_repair(["nlinarith"]), OverlapBackend(2), TwoHoleVerifier(), EngineConfig(jobs=2))
    concurrent = engine.prove(ProofTarget("t", THEOREM))
    for outcome in (sequential, concurrent):
        assert outcome.status is Status.REJECTED and "hole 1 of 2 not filled (exhausted)" in outcome.message
