"""ReProver's retrieval-augmented generator input, byte for byte against upstream's own output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prover.premises.reprover_format import PremiseText, augmented_state, remove_marks, serialize_premise

FIXTURE = Path(__file__).parent / "fixtures" / "reprover_augmented_states.json"
CASES = json.loads(FIXTURE.read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["theorem"] for c in CASES])
def test_augmented_state_is_byte_equal_to_upstream(case: dict) -> None:
    premises = [PremiseText(p["full_name"], p["code"]) for p in case["premises"]]
    rendered = augmented_state(case["state"], premises, case["max_len"])
    assert rendered.encode("utf-8") == case["expected"].encode("utf-8")
    assert len(rendered.encode("utf-8")) <= case["max_len"]
    assert rendered.endswith(case["state"])


def test_budget_skips_a_long_premise_but_keeps_a_later_short_one() -> None:
    state = "⊢ True"
    long = PremiseText("A.long", "theorem A.long : " + "x" * 100)
    short = PremiseText("B.short", "theorem B.short : True")
    budget = len(state.encode()) + len(b"theorem B.short : True\n\n") + 10
    assert augmented_state(state, [long, short], budget) == "theorem B.short : True\n\n⊢ True"
    # Best first in, so the best premise ends up next to the state.
    assert augmented_state(state, [short, long], 10_000).startswith("theorem A.long")


def test_serialize_marks_the_longest_suffix_and_root_names() -> None:
    assert serialize_premise(PremiseText("Nat.add_comm", "theorem Nat.add_comm : x")) == (
        "theorem <a>Nat.add_comm</a> : x"
    )
    assert serialize_premise(PremiseText("Foo.bar", "theorem _root_.Foo.bar : bar")) == (
        "theorem <a>Foo.bar</a> : <a>Foo.bar</a>"
    )
    assert remove_marks("<a>x</a> y") == "x y"
