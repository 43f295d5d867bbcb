"""CLI-wide conventions: help descriptions wrap to the terminal, and a
command line the argument parser refuses is one `error:` line on stderr with exit 2, like every other error."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest
import typer

from prover.cli import app, reflow
from tests.cli_support import run_cli

WIDTH = 80


def commands(application: typer.Typer, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """(command path, its help text) of every command of `application`, subcommand groups included."""
    for info in application.registered_commands:
        name = info.name or info.callback.__name__  # type: ignore[union-attr]
        yield (*prefix, name), info.help if isinstance(info.help, str) else inspect.getdoc(info.callback) or ""
    for group in application.registered_groups:
        assert group.typer_instance is not None and group.name is not None
        yield from commands(group.typer_instance, (*prefix, group.name))


def description_paragraphs(output: str) -> list[list[str]]:
    """The rendered description of a `--help` page: the lines between the usage line and the first box."""
    lines = output.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.strip().startswith("Usage:")) + 1
    end = next(i for i, ln in enumerate(lines) if ln.startswith("╭"))
    paragraphs: list[list[str]] = [[]]
    for ln in lines[start:end]:
        if ln.strip():
            paragraphs[-1].append(ln.rstrip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return [p for p in paragraphs if p]


ALL = list(commands(app))


def test_every_command_is_checked() -> None:
    names = {" ".join(path) for path, _ in ALL}
    assert {"prove", "sweep", "train", "parse", "report", "cassette build", "cassette check"} <= names


@pytest.mark.parametrize(("path", "doc"), ALL, ids=[" ".join(p) for p, _ in ALL])
def test_help_description_wraps_to_the_terminal(path: tuple[str, ...], doc: str) -> None:
    """`prover sweep --help` in 80 columns showed "... of this sweep on --gpus / --cpus" then "are printed
    per number ..." (the docstring's own line breaks); `prover train --help` likewise ("... and" / "top-k")."""
    result = run_cli([*path, "--help"], env={"COLUMNS": str(WIDTH)})
    assert result.exit_code == 0, result.output
    paragraphs = description_paragraphs(result.output)
    assert " ".join(w for p in paragraphs for ln in p for w in ln.split()) == " ".join(doc.split())
    for par in paragraphs:
        for line, following in zip(par, par[1:], strict=False):
            # A line is broken only where the next word would not fit in the width.
            assert len(line) + 1 + len(following.split()[0]) > WIDTH - 4, (line, following)


def test_reflow_keeps_paragraphs_and_lists() -> None:
    doc = "First line\n    goes on.\n\nSecond paragraph\nhas two lines.\n\n- a list\n- stays"
    assert reflow(doc) == "First line goes on.\n\nSecond paragraph has two lines.\n\n- a list\n- stays"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["prove", "x.lean", "--jobs", "0"], "Invalid value for '--jobs' / '-j'"),
        (["prove", "x.lean", "--bogus"], "No such option: --bogus"),
        (["prove"], "Missing argument 'FILE'"),
        (["bogus"], "No such command 'bogus'"),
        (["sweep", "--plan", "--gpus", "many"], "Invalid value for '--gpus'"),
        (["cassette", "build"], "Missing argument 'OUT'"),
    ],
)
def test_usage_errors_are_one_line_on_stderr_exit_2(args: list[str], message: str) -> None:
    """typer printed the usage, a hint and a boxed panel for these; README: errors are one line on stderr."""
    result = run_cli(args, env={"COLUMNS": str(WIDTH)})
    assert result.exit_code == 2
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {message}") and line.endswith("--help`)"), line
    assert "╭" not in result.stderr and "Usage:" not in result.stderr


def test_no_arguments_still_prints_the_help() -> None:
    result = run_cli([])
    assert result.exit_code == 2 and "prove" in result.output and "error:" not in result.output


def test_command_errors_and_exit_codes_pass_through() -> None:
    assert run_cli(["--help"]).exit_code == 0
    missing = run_cli(["parse", "/nonexistent/x.lean"])
    assert missing.exit_code == 2 and missing.stderr.strip() == "error: no such file: /nonexistent/x.lean"


def test_version() -> None:
    """`prover --version` was "No such option: --version" (rc 2); bug reports need the version."""
    from importlib.metadata import version

    result = run_cli(["--version"])
    assert result.exit_code == 0 and result.stdout.startswith(f"prover {version('lean-prover')} ")


def option_helps(path: tuple[str, ...]) -> list[str]:
    import typer.main

    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return [str(getattr(p, "help", "")) for p in command.params if getattr(p, "help", None)]


# prove's options are prover/commands/prove.py's.
OPTION_PATHS = [p for p, _ in ALL]


@pytest.mark.parametrize("path", OPTION_PATHS, ids=[" ".join(p) for p in OPTION_PATHS])
def test_option_help_shows_its_brackets(path: tuple[str, ...]) -> None:
    """In sweep: `--strict` help read "...; sets  strict." (rich took `[lean]` for markup). Every option's help
    is shown whole, brackets included (`\\[` is rich's escape for a literal `[`)."""
    result = run_cli([*path, "--help"], env={"COLUMNS": "1000"})
    shown = " ".join(result.output.split())
    for text in option_helps(path):
        assert " ".join(text.replace("\\[", "[").split()) in shown, text


def test_error_lines_show_user_text_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    """`fail` prints user text (a config section `[lean]`, a path with brackets) as written: rich would take
    `[lean]` for a markup tag and drop it."""
    import typer

    from prover.console import fail

    with pytest.raises(typer.Exit) as exit_info:
        fail("invalid config /tmp/a[1].toml: [lean] backend: bad")
    assert exit_info.value.exit_code == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: invalid config /tmp/a[1].toml: [lean] backend: bad"


@pytest.mark.parametrize("path", [p for p, _ in commands(app)], ids=lambda p: " ".join(p))
def test_help_names_values_plainly(path: tuple[str, ...]) -> None:
    """`--write -w <bool>`, `{file}`, `<list[str]>`, `<int range> [x>=1]`: flags show a value they refuse."""
    result = run_cli([*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    page = result.output
    for typer_label in ("<bool>", "<str>", "<path>", "<int", "<float>", "<list[", "[x>=", "{"):
        assert typer_label not in page, (typer_label, page)
    rows = {
        ln.split()[1]: ln.split()[1:] for ln in page.splitlines() if ln.split()[1:2] and ln.split()[1].startswith("--")
    }
    assert rows["--help"][1] == "Show"  # a flag: its help follows, no value label


def test_prove_help_values() -> None:
    page = run_cli(["prove", "--help"], env={"COLUMNS": "200"}).output
    assert "prove [OPTIONS] FILE" in page
    rows = {ln.split()[1]: ln.split("│")[1] for ln in page.splitlines() if ln.startswith("│ --")}
    assert rows["--write"].split()[1:3] == ["-w", "Write"]  # no `<bool>` between the flag and its help
    assert "INTEGER >= 1" in rows["--num-proofs"] and "FILE" in rows["--report"] and "DIR" in rows["--tree-dir"]
    build = run_cli(["cassette", "build", "--help"], env={"COLUMNS": "200"}).output
    assert "build [OPTIONS] OUT [INPUTS]..." in build
