"""Cassettes built from DeepSeek-Prover's verified miniF2F few-shot proofs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lean_env.cassette.build import BuildReport, display_path, read_jsonl, statement_of
from lean_env.cassette.format import CassetteError, FinishedOutcome, SourceInfo, StepLine, TheoremLine
from lean_env.cassette.keys import without_comments
from lean_env.cassette.store import new_cassette

MINIF2F_FEWSHOT_UPSTREAM = "github.com/deepseek-ai/DeepSeek-Prover-V1.5@2c4ba9119eef74d0d611f494261b2c5bae98c69a:datasets/minif2f_valid_few_shot.jsonl"


def build_from_minif2f_fewshot(
    fewshot_path: str | Path,
    minif2f_path: str | Path,
    proved: Sequence[str],
    unproved: Sequence[str] = (),
    relative_to: Path | None = None,
) -> BuildReport:
    """A cassette for miniF2F problems from DeepSeek-Prover's verified few-shot proofs.

    Each name in `proved` must have a few-shot proof that is a single tactic once comments are
    stripped; that whole proof compiled in Lean, so the tactic run on the problem's initial goal
    (`initial_goal_deepseek`) finishes the proof. Names in `unproved` get their theorem and initial
    state only, so nothing can prove them from the cassette.
    """
    fewshot = {row["name"]: row for _, row in read_jsonl(Path(fewshot_path))}
    problems = {row["name"]: row for _, row in read_jsonl(Path(minif2f_path))}
    report = BuildReport(
        cassette=new_cassette(
            "miniF2F problems whose DeepSeek-Prover few-shot proof is one tactic (that proof compiled in Lean); "
            "initial goals from DeepSeek-Prover's initial_goal",
            sources=(
                SourceInfo(path=display_path(Path(fewshot_path), relative_to), upstream=MINIF2F_FEWSHOT_UPSTREAM),
                SourceInfo(
                    path=display_path(Path(minif2f_path), relative_to),
                    upstream="github.com/deepseek-ai/DeepSeek-Prover-V1.5@2c4ba9119eef74d0d611f494261b2c5bae98c69a "
                    "(formal_statement_deepseek, header_deepseek, initial_goal_deepseek)",
                ),
            ),
            created_by="prover cassette build --from-minif2f-fewshot",
        )
    )
    for name in [*proved, *unproved]:
        if name not in problems:
            raise CassetteError(f"unknown miniF2F problem: {name}")
        problem = problems[name]
        report.rows += 1
        recorded: str | None = None
        shot = fewshot.get(name)
        if name in proved:
            if shot is None:
                raise CassetteError(f"{name} has no DeepSeek few-shot proof to record")
            tactics = [ln.strip() for ln in without_comments(shot["formal_proof"]).splitlines() if ln.strip()]
            if len(tactics) != 1:
                raise CassetteError(f"{name}: its few-shot proof is {len(tactics)} lines, not a single tactic")
            recorded = tactics[0]
        # The few-shot statement is the one whose proof compiled; for the rest, DeepSeek's version of it.
        statement = shot["formal_statement"] if shot is not None and recorded else problem["formal_statement_deepseek"]
        initial = problem["initial_goal_deepseek"]
        report.cassette.add_theorem(
            TheoremLine(
                kind="theorem",
                name=name,
                statement=statement_of(statement),
                header=problem["header_deepseek"],
                initial_state=initial,
                informal_statement=problem.get("informal_statement"),
                informal_proof=problem.get("informal_proof"),
                recorded_proof=recorded,
                source="minif2f (DeepSeek-Prover-V1.5 statement)",
                aliases=tuple(problem.get("aliases") or ()) or None,
            )
        )
        if recorded is not None:
            report.cassette.add_step(
                StepLine(
                    kind="step",
                    state=initial,
                    tactic=recorded,
                    result=FinishedOutcome(kind="finished"),
                    theorem=name,
                    step=0,
                )
            )
    return report
