"""The `prover` command: one CLI, one subcommand module per job.

Subcommand modules keep heavy imports (torch, transformers, ray, lean_dojo) inside
their functions so that `prover --help` and `prover parse` start fast.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="prover",
    help="A Lean 4 theorem-proving agent: tactic generation, best-first search, miniF2F sweeps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module defines `register(app)`; the order is the order of `prover --help`.
COMMAND_MODULES = ("prove", "suggest", "serve", "sweep", "train", "parse", "cassette", "doctor")

for _name in COMMAND_MODULES:
    importlib.import_module(f"prover.commands.{_name}").register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
