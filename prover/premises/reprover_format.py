"""ReProver's retrieval-augmented input: retrieved premises prepended to the proof state, within a byte budget.

Follows lean-dojo/ReProver@fd6d99c `common.py`: `Premise.serialize` marks the premise's own name in its code
with `<a>…</a>`, `format_augmented_state` stacks the premises above the state (the best-ranked one last, next
to the state) while they fit in `max_len` bytes together with the state (a premise that does not fit is
skipped and later, shorter ones may still fit), and `remove_marks` drops the marks again. The tactic
generator was trained on exactly that text (generation/datamodule.py: `format_augmented_state`, then
`remove_marks`); its evaluation default budget is 2048 bytes (prover/evaluate.py `max_inp_seq_len`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

MARK_START = "<a>"
MARK_END = "</a>"
# lean-dojo/ReProver@fd6d99c prover/evaluate.py: `max_inp_seq_len: int = 2048` (ByT5: one token per byte).
MAX_INPUT_BYTES = 2048


@dataclass(frozen=True)
class PremiseText:
    """A premise as the generator reads it: its full name and its code (`theorem name : type`)."""

    full_name: str
    code: str


def remove_marks(text: str) -> str:
    """`text` without ReProver's name marks."""
    return text.replace(MARK_START, "").replace(MARK_END, "")


def serialize_premise(premise: PremiseText) -> str:
    """The premise's code with its own name marked, as ReProver's `Premise.serialize` marks it.

    A `_root_.`-qualified occurrence of the full name is marked first; then the longest dotted suffix of the
    name that occurs after whitespace (optionally in «») has every such occurrence marked, and no shorter
    suffix is tried. The suffix is used as a regular expression, unescaped, exactly as upstream does, so
    its dots match any character.
    """
    marked = f"{MARK_START}{premise.full_name}{MARK_END}"
    code = premise.code.replace(f"_root_.{premise.full_name}", marked)
    fields = premise.full_name.split(".")
    for start in range(len(fields)):
        suffix = ".".join(fields[start:])
        try:
            replaced = re.sub(rf"(?<=\s)«?{suffix}»?", lambda _m: marked, code)
        except re.error:  # a name that is no valid pattern (upstream raises): this suffix marks nothing
            continue
        if replaced != code:
            return replaced
    return code


def augmented_state(state: str, premises: Sequence[PremiseText], max_bytes: int = MAX_INPUT_BYTES) -> str:
    """The generator's input: `premises` (best first) above `state`, within `max_bytes` UTF-8 bytes, unmarked."""
    room = max_bytes - len(state.encode("utf-8"))
    used = 0
    blocks: list[str] = []
    for premise in premises:
        block = f"{serialize_premise(premise)}\n\n"
        size = len(block.encode("utf-8"))
        if used + size > room:
            continue
        used += size
        blocks.append(block)
    return remove_marks("".join(reversed(blocks)) + state)
