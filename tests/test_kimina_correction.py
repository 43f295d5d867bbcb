"""Kimina-Prover's error-fixing turn is byte-equal to its own `create_tool_message`.

tests/fixtures/kimina/tool_message_3c46bc0.json is the output of `create_tool_message` from
MoonshotAI/Kimina-Prover-Preview `kimina_prover_demo/utils.py` @3c46bc0a095e0c3c2072ab44530cab9f185a2ea0 (the file
is unchanged since d31a49e), run outside this repository (tests/fixtures/kimina/run_upstream.py) on
tool_message_cases.json: the recorded info trees of repl/infotree and repl/infotree_theorem
(../shared/lean_fixtures/repl) with constructed errors on their tactics, the recorded REPL errors of the
Goedel correction cases, a file with import lines and a tactic node inside the error, four errors, and a
compile that failed with no messages.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lean_env.messages import LeanMessage
from prover.engine.kimina_correction import tool_message

FIXTURES = Path(__file__).parent / "fixtures" / "kimina"
CASES = json.loads((FIXTURES / "tool_message_cases.json").read_text(encoding="utf-8"))
UPSTREAM = json.loads((FIXTURES / "tool_message_3c46bc0.json").read_text(encoding="utf-8"))


def test_the_cases_hold_the_recorded_info_trees(shared: Path) -> None:
    for name, fixture in (
        ("substantive_tree_constructed_error", "infotree"),
        ("full_tree_constructed_error", "infotree_theorem"),
    ):
        recorded = json.loads(
            (shared / "lean_fixtures" / "repl" / f"{fixture}.expected.out").read_text(encoding="utf-8")
        )
        assert CASES[name]["infotree"] == recorded["infotree"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_tool_message_is_byte_equal_to_kiminas(name: str) -> None:
    case = CASES[name]
    messages = [LeanMessage.from_json(m) for m in case["messages"]]
    assert tool_message(case["code"], messages, case["infotree"], case["error"] or "") == UPSTREAM[name]


def test_the_goal_before_the_error_comes_from_the_info_tree() -> None:
    case = CASES["substantive_tree_constructed_error"]
    messages = [LeanMessage.from_json(m) for m in case["messages"]]
    assert "Goals state before error position: \nh : Int\n⊢ Nat\n" in tool_message(
        case["code"], messages, case["infotree"]
    )
    assert "Goals state" not in tool_message(case["code"], messages, None)


# -- the correct strategy with Kimina's turn, and the compiles that give it its info tree --------------------

SUBSTANTIVE = CASES["substantive_tree_constructed_error"]


class TreeVerifier:
    """Rejects every proof as the REPL verifier does when asked for the info tree: the compile of
    repl/infotree (its recorded tree) with a constructed error on `constructor`."""

    def verify(self, theorem: object, proof: str) -> object:
        from lean_env.checks.verdict import Rejected

        messages = tuple(LeanMessage.from_json(m) for m in SUBSTANTIVE["messages"])
        return Rejected("Lean error", "lean-repl", messages, SUBSTANTIVE["code"], tuple(SUBSTANTIVE["infotree"]))


def test_a_kimina_correction_round_sends_its_own_turn_with_the_goal_from_the_info_tree() -> None:
    from lean_env.backends.replay import ReplayEnv
    from prover.engine import Engine, ProofTarget
    from prover.engine.correct import CorrectionConfig, CorrectStrategy, TurnFormat
    from prover.engine.correction import ChatTurn
    from tests.test_correct_strategy import THEOREM, ScriptedChat, _extract
    from tests.test_engine import CASSETTE

    first = "Try.\n```lean4\nconstructor\n```"
    chat = ScriptedChat({0: [first], 1: ["Again.\n```lean4\nexact 0\n```"]})
    config = CorrectionConfig(samples=1, rounds=1, correction_samples=1, turn_format=TurnFormat.KIMINA)
    strategy = CorrectStrategy(chat, config, _extract)
    Engine(strategy, ReplayEnv(CASSETTE), TreeVerifier()).prove(ProofTarget("t", THEOREM))  # type: ignore[arg-type]
    messages = [LeanMessage.from_json(m) for m in SUBSTANTIVE["messages"]]
    turn = tool_message(SUBSTANTIVE["code"], messages, SUBSTANTIVE["infotree"])
    assert turn == UPSTREAM["substantive_tree_constructed_error"] and "h : Int\n⊢ Nat" in turn
    [(_, opening), (number, sent)] = chat.sent
    assert number == 1 and sent == [*opening, ChatTurn("assistant", first), ChatTurn("user", turn)]


class TreeEnv:
    """The REPL verifier's backend, answering as repl/infotree records when the command asks for the tree."""

    def __init__(self) -> None:
        self.requests: list[dict[str, object]] = []

    def run_command(
        self, cmd: str, env: int | None = None, timeout: float | None = None, infotree: str | None = None
    ) -> dict[str, object]:
        self.requests.append({"cmd": cmd, "infotree": infotree})
        error = {"severity": "error", "pos": {"line": 3, "column": 0}, "endPos": {"line": 3, "column": 5}, "data": "e"}
        answer: dict[str, object] = {"messages": [error], "env": 0}
        if infotree is not None:
            answer["infotree"] = SUBSTANTIVE["infotree"]
        return answer

    def close(self) -> None:
        pass


def test_the_repl_verifier_asks_for_the_info_tree_and_keeps_it_on_the_rejection() -> None:
    from lean_env.backends.repl import ReplSettings
    from lean_env.checks.verdict import Rejected
    from lean_env.checks.verifier import ReplVerifier, VerifierPolicy
    from lean_env.types import Theorem

    theorem = Theorem("t", "theorem t : True", header="")
    for policy, tree in ((VerifierPolicy(infotree="original"), tuple(SUBSTANTIVE["infotree"])), (VerifierPolicy(), ())):
        backend = TreeEnv()
        backend.settings = ReplSettings(command=("true",))  # type: ignore[attr-defined]
        verdict = ReplVerifier(env=backend, policy=policy).verify(theorem, "trivial")  # type: ignore[arg-type]
        assert isinstance(verdict, Rejected) and verdict.infotree == tree
        assert [r["infotree"] for r in backend.requests] == [policy.infotree]


def test_a_recorded_compile_keeps_its_info_tree_through_the_cassette() -> None:
    from lean_env.cassette.format import CompileLine

    line = CompileLine(kind="compile", theorem="t", proof="p", messages=(), infotree=tuple(SUBSTANTIVE["infotree"]))
    again = CompileLine.model_validate_json(line.model_dump_json())
    assert again.infotree == line.infotree and "goalsBefore" in again.model_dump_json()


def test_the_kimina_preset_corrects_in_its_own_format_and_asks_for_the_original_info_tree() -> None:
    from prover.config import GeneratorConfig
    from prover.engine.build import needs_infotree, turn_format
    from prover.engine.correct import TurnFormat

    kimina = GeneratorConfig(kind="vllm", model="AI-MO/Kimina-Prover-72B")
    goedel = GeneratorConfig(kind="vllm", model="Goedel-LM/Goedel-Prover-V2-8B")
    assert turn_format(kimina) is TurnFormat.KIMINA and turn_format(goedel) is TurnFormat.GOEDEL
    assert needs_infotree("correct", kimina) == "original"
    assert needs_infotree("whole", kimina) is None and needs_infotree("correct", goedel) is None
