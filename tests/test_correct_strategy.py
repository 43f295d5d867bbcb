"""The `correct` strategy: failed whole proofs go back to the model with Lean's errors (Goedel-Prover-V2's turn),
round by round, until one is verified. The verifier stand-in answers like the REPL verifier: a rejection carries
the compile's messages (the shape of repl/incomplete's "unsolved goals" error) and the text compiled."""

from __future__ import annotations

from collections.abc import Sequence

from lean_env.backends.replay import ReplayEnv
from lean_env.checks.verdict import Rejected, Verdict, Verified
from lean_env.messages import LeanMessage
from lean_env.types import Theorem
from prover.engine import Engine, ProofTarget, Status
from prover.engine.correct import CorrectionConfig, CorrectStrategy
from prover.engine.correction import ChatTurn, correction_chat, error_report
from prover.engine.strategies import Sample
from tests.test_engine import CASSETTE

THEOREM = Theorem("t", "theorem t (x : ℝ) (h₀ : 2 * x = 6) : x = 3", header="import Mathlib")
REQUEST = "Complete the following Lean 4 code:\n\n```lean4\ntheorem t (x : ℝ) (h₀ : 2 * x = 6) : x = 3 := by sorry```"


class CompilingVerifier:
    """Accepts `linarith`; any other proof is rejected with an error at its first tactic, as the REPL reports."""

    def __init__(self) -> None:
        self.proofs: list[str] = []

    def verify(self, theorem: Theorem, proof: str) -> Verdict:
        self.proofs.append(proof)
        if proof.strip() == "linarith":
            return Verified("lean-repl")
        source = f"{theorem.header}\n\n{theorem.statement} := by\n  {proof}\n"
        first = proof.split()[0]
        error = {
            "severity": "error",
            "pos": {"line": 4, "column": 2},
            "endPos": {"line": 4, "column": 2 + len(first)},
            "data": "unsolved goals\nx : ℝ\nh₀ : 2 * x = 6\n⊢ x = 3",
        }
        return Rejected("Lean error in the theorem at line 4", "lean-repl", (LeanMessage.from_json(error),), source)


class ScriptedChat:
    """Replies by round (a chat model written for the test); records every conversation it is sent."""

    def __init__(self, replies: dict[int, list[str]], context: int = 10**6) -> None:
        self.replies, self.context = replies, context
        self.sent: list[tuple[int, list[ChatTurn]]] = []

    def opening(self, target: ProofTarget) -> list[ChatTurn]:
        return [ChatTurn("user", REQUEST)]

    def chat(self, target: ProofTarget, turns: Sequence[ChatTurn], round_number: int, n: int) -> list[Sample]:
        self.sent.append((round_number, list(turns)))
        return [Sample(text, len(text.split())) for text in self.replies[round_number][:n]]

    def prompt_tokens(self, turns: Sequence[ChatTurn]) -> int:
        return sum(len(t.content.split()) for t in turns)


def _extract(completion: str, name: str) -> str | None:
    return completion.split("```lean4\n")[-1].split("\n```")[0].strip() if "```lean4" in completion else None


def run(chat: ScriptedChat, config: CorrectionConfig) -> tuple[object, CompilingVerifier]:
    verifier = CompilingVerifier()
    strategy = CorrectStrategy(chat, config, _extract)
    outcome = Engine(strategy, ReplayEnv(CASSETTE), verifier).prove(ProofTarget("t", THEOREM))
    return outcome, verifier


def test_a_rejected_proof_is_corrected_in_round_1_with_lean_s_error() -> None:
    first = "I will try nlinarith.\n```lean4\nnlinarith\n```"
    chat = ScriptedChat({0: [first], 1: ["The goal is linear.\n```lean4\nlinarith\n```"]})
    outcome, verifier = run(chat, CorrectionConfig(samples=1, rounds=2, correction_samples=1))
    assert outcome.status is Status.PROVED and outcome.proof == "linarith"  # type: ignore[attr-defined]
    assert verifier.proofs == ["nlinarith", "linarith"]
    # Round 1's conversation is the original request, the full failed output and Goedel's error turn.
    rejected = CompilingVerifier().verify(THEOREM, "nlinarith")
    assert isinstance(rejected, Rejected)
    expected = correction_chat([ChatTurn("user", REQUEST)], first, error_report(rejected.source, rejected.messages), 1)
    assert chat.sent[1] == (1, expected)
    assert "<error>nlinarith</error>" in expected[-1].content and "The proof (Round 0)" in expected[-1].content
    attempts = outcome.attempts  # type: ignore[attr-defined]
    assert [(a.round, a.parent, a.status) for a in attempts] == [(0, None, Status.REJECTED), (1, 0, Status.PROVED)]
    assert attempts[0].messages == rejected.messages and attempts[1].completion_tokens == 7
    assert attempts[1].prompt_tokens == chat.prompt_tokens(expected)
    costs = outcome.costs  # type: ignore[attr-defined]
    assert [(c.round, c.cost.model_calls, c.cost.compiles, c.cost.tactic_calls) for c in costs] == [
        (0, 1, 1, 0),
        (1, 1, 1, 0),
    ]
    assert [c.cost.generated_tokens for c in costs] == [len(first.split()), 7]


def test_only_failed_samples_are_corrected_and_a_proved_target_stops() -> None:
    chat = ScriptedChat({0: ["```lean4\nnlinarith\n```", "```lean4\nlinarith\n```"], 1: ["```lean4\nsimp\n```"]})
    outcome, _ = run(chat, CorrectionConfig(samples=2, rounds=3))
    assert outcome.status is Status.PROVED  # type: ignore[attr-defined]
    assert [r for r, _ in chat.sent] == [0]  # solved in round 0: no correction is asked for


def test_every_round_failing_is_rejected_never_proved_and_each_failure_gets_m_corrections() -> None:
    chat = ScriptedChat({0: ["```lean4\nnlinarith\n```"], 1: ["```lean4\nsimp\n```", "```lean4\nring\n```"]})
    outcome, _ = run(chat, CorrectionConfig(samples=1, rounds=1, correction_samples=2))
    assert outcome.status is Status.REJECTED and not outcome.proved  # type: ignore[attr-defined]
    assert [(a.round, a.parent) for a in outcome.attempts] == [(0, None), (1, 0), (1, 0)]  # type: ignore[attr-defined]


def test_a_correction_prompt_over_three_quarters_of_the_context_is_not_sent() -> None:
    chat = ScriptedChat({0: ["```lean4\nnlinarith\n```"], 1: ["```lean4\nlinarith\n```"]})
    outcome, _ = run(chat, CorrectionConfig(samples=1, rounds=1, context_tokens=40))
    assert outcome.status is Status.REJECTED  # type: ignore[attr-defined]
    assert [r for r, _ in chat.sent] == [0]


def test_correction_rounds_need_whole_proofs_and_select_the_correct_strategy() -> None:
    import pytest

    from prover.commands.prove import resolve_strategy
    from prover.config import GeneratorConfig

    fixed = GeneratorConfig.model_validate({"kind": "fixed"})
    with pytest.raises(ValueError, match="needs a model that writes whole proofs"):
        resolve_strategy("correct", fixed)
    with pytest.raises(ValueError, match="--correction-rounds corrects whole proofs"):
        resolve_strategy("auto", fixed, correction_rounds=2)
    goedel = GeneratorConfig.model_validate({"kind": "hf", "model": "Goedel-LM/Goedel-Prover-V2-8B"})
    assert resolve_strategy("auto", goedel) == "whole"
    assert resolve_strategy("auto", goedel, correction_rounds=2) == "correct"
    assert resolve_strategy("whole", goedel, correction_rounds=1) == "correct"
