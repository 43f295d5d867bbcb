"""Turn the path of a successful search into a Lean tactic script.

The search applies every tactic to the whole goal list, so the flat sequence of its tactics is
always a faithful script. When each step provably acted on the main goal alone, the script is
rendered with `·` bullets instead, so the multi-goal structure of the proof is visible and each
sub-proof is checked to close its goal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

BULLET = "· "
INDENT = 2


@dataclass(frozen=True)
class ProofStep:
    """One tactic on the proof path with the goal lists (split pretty-printed goals) around it.

    `goals_after` is empty when the tactic finished the proof.
    """

    tactic: str
    goals_before: tuple[str, ...]
    goals_after: tuple[str, ...]


@dataclass
class _GoalNode:
    tactic: str = ""
    children: list[_GoalNode] = field(default_factory=list)


def flat_script(tactics: Sequence[str]) -> str:
    """The tactics one after another, each acting on the main goal."""
    lines: list[str] = []
    for tactic in tactics:
        lines.extend(_place(tactic, 0, bullet=False))
    return "\n".join(lines)


def proof_script(steps: Sequence[ProofStep]) -> str:
    """A script with `·` bullets where the goal structure is certain, else the flat sequence."""
    roots = goal_tree(steps)
    if roots is None:
        return flat_script([s.tactic for s in steps])
    lines: list[str] = []
    if len(roots) == 1:
        _render(roots[0], 0, lines)
    else:
        for root in roots:
            _render_bulleted(root, 0, lines)
    return "\n".join(lines)


def goal_tree(steps: Sequence[ProofStep]) -> list[_GoalNode] | None:
    """Assign each tactic to the goal it solved, or None when that cannot be determined safely.

    A step is taken to act on the main goal only when the goals behind the main one come out of it
    unchanged (same pretty-printed text, same order) at the end of the new goal list; its new goals
    are then the ones in front. Tactics that reorder goals (`swap`), touch several (`all_goals`,
    `<;>`, `exacts`) or instantiate metavariables shared with later goals fail this test.
    """
    if not steps or not steps[0].goals_before:
        return None
    roots = [_GoalNode() for _ in steps[0].goals_before]
    pending = list(roots)
    for step in steps:
        before, after = step.goals_before, step.goals_after
        if not pending or len(before) != len(pending):
            return None
        rest = before[1:]
        new_goals = len(after) - len(rest)
        if new_goals < 0 or after[new_goals:] != rest:
            return None
        goal = pending[0]
        goal.tactic = step.tactic
        goal.children = [_GoalNode() for _ in range(new_goals)]
        pending = goal.children + pending[1:]
    return None if pending else roots


def _render(goal: _GoalNode, col: int, lines: list[str]) -> None:
    # A chain of single-goal steps stays at one column; iterate so long proofs do not recurse deeply.
    node: _GoalNode | None = goal
    while node is not None:
        lines.extend(_place(node.tactic, col, bullet=False))
        if len(node.children) == 1:
            node = node.children[0]
            continue
        for child in node.children:
            _render_bulleted(child, col, lines)
        node = None


def _render_bulleted(goal: _GoalNode, col: int, lines: list[str]) -> None:
    start = len(lines)
    _render(goal, col + INDENT, lines)
    # The first line of the sub-proof carries the bullet in place of its indentation.
    first = lines[start]
    lines[start] = " " * col + BULLET + first[col + INDENT :]


def _place(tactic: str, col: int, *, bullet: bool) -> list[str]:
    """Lay out a possibly multi-line tactic: first line at `col`, continuation lines deeper.

    Continuation lines keep their indentation relative to one another (a nested `by` block must
    stay aligned) and are shifted to sit strictly right of the tactic's own column.
    """
    head, *rest = tactic.strip("\n").split("\n")
    prefix = " " * col + (BULLET if bullet else "")
    out = [prefix + head.strip()]
    body = [ln for ln in rest if ln.strip()]
    if body:
        common = min(len(ln) - len(ln.lstrip(" ")) for ln in body)
        pad = " " * (col + (INDENT if bullet else 0) + INDENT)
        out.extend(pad + ln[common:].rstrip() if ln.strip() else "" for ln in rest)
    return out
