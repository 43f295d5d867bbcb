"""The `prover` command: one CLI, one subcommand module per job.

Subcommand modules keep heavy imports (torch, transformers, ray, lean_dojo) inside
their functions so that `prover --help` and `prover parse` start fast.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

try:  # typer 0.24+ vendors click as typer._click: its parser raises those classes, not click's
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older typer on click itself
    from click import exceptions as click_errors  # type: ignore[no-redef]


class _OneLineUsageErrors(TyperGroup):
    """The root group: a command line the parser refuses (unknown option, value out of range, missing
    argument) is one line on stderr, `error: MESSAGE (see `prover CMD --help`)`, exit 2, like every other
    error of the CLI (prover.console.fail), instead of typer's usage line + hint + boxed panel
    (typer 0.29 core._main -> rich_utils.rich_format_error). click's own parsing runs unchanged: this only
    runs it with standalone_mode=False and prints the ClickException it raises (click 8 Command.main)."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        _plain_help(self)
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            # Non-standalone: typer returns a typer.Exit's code (fail(), --help) and raises click's errors.
            rv = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except click_errors.ClickException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # `prover` alone: the help is already printed
                sys.exit(exc.exit_code)
            from rich.markup import escape

            from prover.console import err_console

            ctx = getattr(exc, "ctx", None)
            usage = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            message = " ".join(exc.format_message().split())
            err_console.print(f"[bold red]error:[/] {escape(message)}{escape(usage)}", highlight=False, soft_wrap=True)
            sys.exit(exc.exit_code)
        except typer.Abort:  # end of input at a prompt (typer raises its own Abort)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


# Path parameters whose value is a folder (the rest name files).
_FOLDER_WORDS = ("dir", "root", "folder", "project", "out_dir")


def _type_label(param: Any) -> str | None:
    """What a help page shows for a parameter's value, in click's plain words: `FILE`, `DIR`, `INTEGER >= 1`,
    `NUMBER`, `TEXT`, `a|b`; nothing for a flag (it takes no value: typer 0.29 showed `<bool>`, `{file}`,
    `<list[str]>`, `<int range> [x>=1]`)."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    desc = param.type_descriptor
    annotation = desc.annotation
    if desc.is_list:
        args = getattr(annotation, "__args__", ())
        annotation = args[0] if args else str
    if desc.is_choice and desc.choices is not None:
        label = "|".join(str(getattr(c, "value", c)) for c in desc.choices)
    elif desc.is_path or annotation is Path:
        label = "DIR" if any(w in (param.name or "") for w in _FOLDER_WORDS) else "FILE"
    elif annotation is int:
        label = "INTEGER"
    elif annotation is float:
        label = "NUMBER"
    else:
        label = "TEXT"
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is not None and high is not None:
        label += f" {low} to {high}"
    elif low is not None:
        label += f" >= {low}"
    elif high is not None:
        label += f" <= {high}"
    return f"{label} ..." if desc.is_list else label


def _plain_help(command: Any) -> None:
    """Give every parameter of `command` and its subcommands its plain value label (`_type_label`), once."""
    if getattr(command, "_plain_help_done", False):
        return
    command._plain_help_done = True
    for param in getattr(command, "params", []):
        if not hasattr(param, "type_descriptor"):
            continue
        label = _type_label(param)
        param._get_number_range_help_str = lambda: None  # the range is part of the label
        if param.param_type_name == "argument":
            # Named as README writes them (`prove FILE`, `cassette build OUT [INPUTS]`), plain in the usage line.
            name = param.metavar or (param.name or "arg").upper()
            param.metavar = name
            many = "..." if param.nargs != 1 else ""
            usage = name + many if param.required else f"[{name}]{many}"
            param._usage_display_name = lambda usage=usage: usage
            param.display_type_rich = lambda ctx: None  # the name column already shows it
        else:
            shown = param.metavar or label
            param.display_type_rich = lambda ctx, shown=shown: shown
    make_help_option = getattr(command, "get_help_option", None)
    if make_help_option is not None:  # --help is made per context, outside `params`: a flag like the others

        def get_help_option(ctx: Any, make: Any = make_help_option) -> Any:
            option = make(ctx)
            if option is not None:
                option.display_type_rich = lambda ctx: None
            return option

        command.get_help_option = get_help_option
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub)


app = typer.Typer(
    name="prover",
    help="A Lean 4 theorem-proving agent: tactic generation, best-first search, miniF2F sweeps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_OneLineUsageErrors,
)


def _print_version(value: bool) -> None:
    if not value:
        return
    import platform
    from importlib.metadata import PackageNotFoundError, version

    try:
        own = version("lean-prover")  # pyproject [project] name
    except PackageNotFoundError:
        own = "unknown (not installed as a package)"
    typer.echo(f"prover {own} (lean-prover; Python {platform.python_version()})")
    raise typer.Exit()


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    # No docstring: the app's help above is the one `prover --help` shows.
    pass


# Each module defines `register(app)`; the order is the order of `prover --help`.
COMMAND_MODULES = ("prove", "suggest", "serve", "index", "premises", "sweep", "train", "parse", "cassette", "doctor")

for _name in COMMAND_MODULES:
    importlib.import_module(f"prover.commands.{_name}").register(app)


def reflow(doc: str) -> str:
    """A docstring with the line breaks inside each paragraph joined, so the terminal width decides them.

    typer's rich help joins the lines of a command's first paragraph but prints the later paragraphs with
    their source line breaks (typer 0.29 rich_utils._get_help_text / _fix_linebreaks), which shows as
    ragged lines in 80 columns. A paragraph starting with click's `\\b` (no rewrap) or holding a list
    (`- `, `* ` lines) keeps its lines.
    """
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    kept = []
    for par in paragraphs:
        lines = par.splitlines()
        if par.startswith("\b") or any(ln.lstrip().startswith(("- ", "* ")) for ln in lines):
            kept.append(par)
        else:
            kept.append(" ".join(ln.strip() for ln in lines))
    return "\n\n".join(kept)


def _reflow_help(application: typer.Typer) -> None:
    for info in application.registered_commands:
        doc = info.help if isinstance(info.help, str) else inspect.getdoc(info.callback)
        if doc:
            info.help = reflow(doc)
    for group in application.registered_groups:
        if group.typer_instance is not None:
            _reflow_help(group.typer_instance)


_reflow_help(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
