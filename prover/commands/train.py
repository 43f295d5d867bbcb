"""`prover train --config FILE.toml`: fine-tune a causal LM on proofsteps (see docs/train.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from prover.console import console, fail


def register(app: typer.Typer) -> None:
    app.command("train")(train)


def train(
    config: Path = typer.Option(
        ..., "--config", "-c", help="Training TOML (e.g. train/configs/cpu-tiny.toml, or the name cpu-tiny)."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue from the latest checkpoint in OUTPUT_DIR/checkpoints."
    ),
    resume_from: Path | None = typer.Option(None, "--resume-from", help="Continue from this checkpoint folder."),
    output_dir: Path | None = typer.Option(None, "--output-dir", "-o", help="Overrides the config's output_dir."),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Overrides training.max_steps (quick runs)."),
    no_eval: bool = typer.Option(False, "--no-eval", help="Skip the held-out evaluation."),
) -> None:
    """Train on proofsteps, save a checkpoint `prover prove --model` loads, and evaluate on held-out theorems.

    The last line printed is the held-out summary: tactic loss with and without the state, and
    top-k accuracy of the model against always proposing the most frequent training tactics.
    """
    from prover.config import ConfigError
    from train.config import load_train_config
    from train.data import DataError

    try:
        cfg = load_train_config(config)
        if max_steps is not None:
            cfg.training.max_steps = max_steps
        if no_eval:
            cfg.eval.enabled = False
    except (ConfigError, ValueError) as exc:
        fail(str(exc).splitlines()[0])
    if resume_from is not None and not resume_from.is_dir():
        fail(f"--resume-from: no such checkpoint folder: {resume_from}")

    from train.trainer import TrainError, run_training

    try:
        result = run_training(
            cfg,
            resume=str(resume_from) if resume_from is not None else resume,
            output_dir=str(output_dir) if output_dir is not None else None,
            log=lambda msg: console.print(msg, highlight=False, soft_wrap=True),
        )
    except (DataError, TrainError) as exc:
        fail(str(exc))
    except RuntimeError as exc:  # model loading, out of memory, ...: one line; checkpoints stay for --resume
        fail(f"training failed: {(str(exc).strip().splitlines() or [type(exc).__name__])[0]}")
    except KeyboardInterrupt:
        fail("interrupted; continue with --resume (checkpoints are kept)", code=130)
    if result.eval is not None:
        ev = result.eval
        console.print(
            f"held-out perplexity {ev.with_state.perplexity:.2f} over {ev.with_state.tokens} tactic tokens; "
            f"top-1 accuracy: model {ev.model.top1 if ev.model else float('nan'):.3f}, "
            f"frequency baseline {ev.baseline.top1 if ev.baseline else float('nan'):.3f}",
            highlight=False,
            soft_wrap=True,
        )
        # Plain print, so the summary is exactly one unwrapped line and the last one.
        print(ev.summary_line(), flush=True)
