"""Command-line options shared by several commands, defined once so names and help never drift."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file (see README).")]
BackendOption = Annotated[str | None, typer.Option("--backend", help="repl (default), dojo or replay.")]
CassetteOption = Annotated[Path | None, typer.Option("--cassette", help="Cassette for --backend replay.")]
LeanProjectOption = Annotated[
    str | None, typer.Option("--lean-project", help="Lake project with Mathlib and the REPL.")
]
GeneratorOption = Annotated[str | None, typer.Option("--generator", "-g", help="hf (default), vllm or fixed.")]
ModelOption = Annotated[str | None, typer.Option("--model", "-m", help="HF model id or local checkpoint.")]
DeviceOption = Annotated[
    str | None,
    typer.Option(
        "--device",
        help="auto (default), cpu or cuda. With no --model, a CPU runs reprover (ByT5-small), a GPU the default model.",
    ),
]
TemplateOption = Annotated[
    str | None,
    typer.Option(
        "--template",
        help="Prompt template or model preset (llemma, bfs-prover-v2, internlm2.5-step-prover, deepseek-prover-v1.5, "
        "deepseek-prover-v2, goedel-prover-v2, kimina-prover, ...); default: the preset the model id names.",
    ),
]


def lean_overrides(backend: str | None, cassette: Path | None, lean_project: str | None) -> dict[str, Any]:
    """The `[lean]` keys given on the command line (None means not given)."""
    return {"backend": backend, "cassette": str(cassette) if cassette else None, "project": lean_project}


def generator_overrides(generator: str | None, model: str | None, template: str | None = None) -> dict[str, Any]:
    """The `[generator]` keys given on the command line (None means not given)."""
    return {"kind": generator, "model": model, "template": template}
