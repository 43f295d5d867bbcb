"""`prover prove FILE.lean`: search proofs for every `sorry`, verify, write back or show a diff."""

from __future__ import annotations

import bisect
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from prover.commands.options import (
    BackendOption,
    CassetteOption,
    ConfigOption,
    GeneratorOption,
    LeanProjectOption,
    ModelOption,
    TemplateOption,
    generator_overrides,
    lean_overrides,
)
from prover.console import EXIT_NOT_PROVED, EXIT_OK, console, err_console, fail
from prover.offline import model_unreachable


def register(app: typer.Typer) -> None:
    app.command("prove")(prove)


def prove(
    file: Path = typer.Argument(..., help="The .lean file whose `sorry`s to prove."),
    theorem: str | None = typer.Option(None, "--theorem", "-t", help="Prove only this theorem (even without sorry)."),
    config: ConfigOption = None,
    backend: BackendOption = None,
    cassette: CassetteOption = None,
    lean_project: LeanProjectOption = None,
    generator: GeneratorOption = None,
    model: ModelOption = None,
    template: TemplateOption = None,
    num_tactics: int | None = typer.Option(None, "--num-tactics", "-k", help="Tactics asked per expansion."),
    time_limit: float | None = typer.Option(None, "--time-limit", help="Seconds per theorem."),
    max_expansions: int | None = typer.Option(None, "--max-expansions", help="Expansions per theorem."),
    write: bool = typer.Option(False, "--write", "-w", help="Write verified proofs into FILE (keeps a backup)."),
    report: Path | None = typer.Option(None, "--report", "-r", help="Write a JSON report here."),
    tree_dir: Path | None = typer.Option(None, "--tree-dir", help="Export each search tree as JSON and DOT here."),
    informal: bool = typer.Option(
        False, "--informal", help="Put each theorem's doc comment in the prompt as its informal statement."
    ),
    from_statement: bool = typer.Option(
        False,
        "--from-statement",
        help="Search each theorem from its statement and replace its whole proof, instead of filling its `sorry`s.",
    ),
    strategy: str | None = typer.Option(
        None,
        "--strategy",
        help="search (tactic search), whole (N whole proofs per theorem, each verified); default: the model preset's.",
    ),
    mode: str | None = typer.Option(None, "--mode", help="Deprecated alias of --strategy."),
    num_proofs: int = typer.Option(
        8, "--num-proofs", min=1, help="Whole proofs sampled per theorem (--strategy whole)."
    ),
    correction_rounds: int = typer.Option(
        0,
        "--correction-rounds",
        min=0,
        help="Self-correction rounds after the whole-proof samples, from Lean's errors (chat whole-proof models).",
    ),
    correction_samples: int = typer.Option(
        1, "--correction-samples", min=1, help="Corrections sampled per failed attempt and round."
    ),
    outputs: Path | None = typer.Option(
        None, "--outputs", help="JSONL of model outputs the scripted generator plays back (--generator scripted)."
    ),
    keep_partial: bool = typer.Option(
        False,
        "--keep-partial",
        help="Write a skeleton with only some holes filled when it compiles with just the others left "
        "(status partial, exit 1; never proved).",
    ),
    repair: bool = typer.Option(
        False,
        "--repair",
        help="Repair failed whole proofs: the blocks around Lean's errors become holes the tactic search fills.",
    ),
    strict: bool = typer.Option(
        False,
        "--strict",
        help="Also kernel-replay every proof with lean4checker or comparator (must be installed); sets \\[lean] strict.",
    ),
    jobs: int | None = typer.Option(
        None,
        "--jobs",
        "-j",
        min=1,
        help=r"Targets proved at once; sets \[lean] pool_size (default: cores, capped by memory per Lean process; the dojo backend runs one at a time).",
    ),
) -> None:
    """Fill every `sorry` in FILE where it stands (or write whole proofs), verify, show a diff or write."""
    from prover.prove import ProveOptions

    options = ProveOptions(
        file=file,
        theorem=theorem,
        config=config,
        overrides={
            "lean": {**lean_overrides(backend, cassette, lean_project), "pool_size": jobs, "strict": strict or None},
            "generator": {**generator_overrides(generator, model, template), "outputs": path_option(outputs)},
            "search": {"num_tactics": num_tactics, "time_s": time_limit, "max_expansions": max_expansions},
        },
        write=write,
        report=report,
        tree_dir=tree_dir,
        informal=informal,
        from_statement=from_statement,
        strategy=strategy_option(strategy, mode) or "auto",
        num_proofs=num_proofs,
        correction_rounds=correction_rounds,
        correction_samples=correction_samples,
        repair=repair,
        keep_partial=keep_partial,
    )
    raise typer.Exit(run_prove(options))


def path_option(path: Path | None) -> str | None:
    return None if path is None else str(path)


def strategy_option(strategy: str | None, mode: str | None) -> str | None:
    """`--strategy`, or the deprecated `--mode` (one release) with a one-line note; None when neither."""
    if mode is not None:
        err_console.print("note: --mode is deprecated; use --strategy", highlight=False)
        if strategy is not None and strategy != mode:
            fail(f"--mode {mode} and --strategy {strategy} disagree; give only --strategy")
    return strategy or mode


@dataclass
class _Run:
    """One prove run's state, built step by step by `run_prove`."""

    options: Any
    cfg: Any = None
    strategy: str = "search"
    lean_file: Any = None
    targets: list[Any] = field(default_factory=list)
    env: Any = None
    verifier: Any = None
    make_theorem: Any = None


def run_prove(options: Any) -> int:
    """The prove command after option parsing: load, parse, start the backend, prove, verify, write; exit code."""
    run = _Run(options)
    _load_settings(run)
    _check_paths(options)
    _parse_file(run, _read_source(options.file))
    left_alone = _note_untargeted(run)
    if not run.targets:
        return _nothing_to_prove(options.file, left_alone)
    _start_backends(run)
    engine_strategy = _build_strategy(run)
    return _prove_and_finish(run, engine_strategy)


def _load_settings(run: _Run) -> None:
    from prover.config import ConfigError, load_config

    try:
        run.cfg = load_config(run.options.config, run.options.overrides)
        if "template" in run.cfg.generator.model_fields_set:  # refused whatever the generator (fixed ignores it)
            from prover.generators.presets import template_mode

            template_mode(run.cfg.generator.template)
        run.strategy = resolve_strategy(run.options.strategy, run.cfg.generator, run.options.correction_rounds)
    except (ConfigError, ValueError) as exc:
        fail(str(exc))


def _check_paths(options: Any) -> None:
    file = options.file
    if file.is_dir():
        fail(f"{file} is a directory, not a .lean file")
    if not file.is_file():
        fail(f"no such file: {file}")
    # Before any search: a refused path costs nothing, a clobbered one costs user bytes, and one that could
    # never be written costs the search's results (minutes to hours).
    # In order, each only after the one before passed: output_problem creates missing folders.
    problem = output_paths_problem(file, options.report, options.tree_dir)
    if problem is None:
        problem = output_problem(options.report, options.tree_dir)
    if problem is not None:
        fail(problem)


def _read_source(file: Path) -> str:
    try:
        # Bytes decoded as they are: a BOM and CRLF line endings stay in the text the edits apply to.
        return file.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        fail(f"{file}: not a UTF-8 text file")


def _parse_file(run: _Run, original: str) -> None:
    from lean_env.errors import LeanParseError
    from lean_env.source.declarations import parse_lean_source
    from prover.prove import UnknownTheoremError, select_targets

    try:
        run.lean_file = parse_lean_source(original, str(run.options.file))
        run.targets = select_targets(run.lean_file, run.options.theorem)
    except (LeanParseError, UnknownTheoremError) as exc:
        fail(str(exc))
    duplicate = duplicate_declaration(run.lean_file)
    if duplicate is not None:
        fail(duplicate)


def _nothing_to_prove(file: Path, left_alone: bool) -> int:
    if left_alone:
        console.print(f"{file}: no theorem, lemma or example contains `sorry`; the sorries above stay.")
        return EXIT_NOT_PROVED
    console.print(f"{file}: no theorem contains `sorry`; nothing to prove.")
    return EXIT_OK


def _note_untargeted(run: _Run) -> bool:
    """Name the sorries in declarations prove does not search (README: exit 0 means every targeted theorem is
    proved; these stay, and the user is told). Whether there were any."""
    left_alone = untargeted_sorries(run.lean_file) if run.options.theorem is None else []
    if left_alone:
        err_console.print(
            f"note: {len(left_alone)} `sorry` in declarations prove does not search: {', '.join(left_alone)}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    return bool(left_alone)


def _start_backends(run: _Run) -> None:
    """Cheap prerequisites first (Lean project, REPL binary, cassette, git for LeanDojo, the model's files): a
    missing one fails in a second, not after minutes of loading a model."""
    from lean_env.errors import LeanEnvError, LeanNotFoundError
    from prover.backends import make_env, make_verifier
    from prover.engine.build import needs_infotree
    from prover.jobs import default_pool_size
    from prover.prove import dojo_source_for

    cfg = run.cfg
    if "pool_size" not in cfg.lean.model_fields_set:  # neither --jobs nor the config file set it
        cfg.lean.pool_size = default_pool_size(cfg.lean.memory_limit_mb) if cfg.lean.backend == "repl" else 1
    try:
        run.make_theorem = dojo_source_for(run.options.file) if cfg.lean.backend == "dojo" else None
        infotree = needs_infotree(run.strategy, cfg.generator)
        run.env, run.verifier = make_env(cfg.lean), make_verifier(cfg.lean, infotree=infotree)
    except LeanNotFoundError as exc:
        fail(str(exc))
    except (LeanEnvError, ValueError) as exc:
        fail(f"cannot start the {cfg.lean.backend} backend: {exc}")
    problem = model_unreachable(cfg.generator.kind, cfg.generator.model)
    if problem is None and cfg.lean.backend == "replay":
        problem = _none_recorded(run)
    if problem is not None:
        fail(problem)


def _none_recorded(run: _Run) -> str | None:
    """One line when the replay cassette records none of several theorems to prove (each would fail to start, one
    footnote per theorem), else None."""
    from lean_env.types import Theorem

    cassette = getattr(run.env, "cassette", None)
    if cassette is None or len(run.targets) < 2:  # one theorem: its own row and note say it as briefly
        return None
    # Found by name, alias or statement, as the replay backend's start looks them up; no header is needed for it.
    if any(cassette.find_theorem(Theorem(d.name, d.statement)) is not None for d in run.targets):
        return None
    names = ", ".join(d.name for d in run.targets[:3]) + (", ..." if len(run.targets) > 3 else "")
    return (
        f"none of the {len(run.targets)} theorems to prove in {run.options.file} ({names}) is in the replay "
        f"cassette {cassette.path} ({len(cassette.theorems)} recorded theorems): replay only replays recorded Lean; "
        "record them (`prover cassette build`) or prove with --backend repl"
    )


def _build_strategy(run: _Run) -> Any:
    from prover.engine.build import StrategyConfig, build_strategy

    try:
        o = run.options
        rounds = max(o.correction_rounds, 1) if run.strategy == "correct" else 0
        config = StrategyConfig(
            run.strategy, run.cfg.generator, run.cfg.search, o.num_proofs, rounds, o.correction_samples, o.repair
        )
        return build_strategy(config)
    except (ValueError, RuntimeError, OSError, ImportError) as exc:
        fail(f"cannot build the {run.cfg.generator.kind} generator: {exc}")


def _prove_and_finish(run: _Run, strategy: Any) -> int:
    from lean_env.errors import LeanEnvError
    from prover.engine import Engine, EngineConfig
    from prover.prove import FileReport, plan_targets

    cfg, options = run.cfg, run.options
    # LeanDojo runs one theorem per process: its backend is not shared between threads.
    parallel = 1 if cfg.lean.backend == "dojo" else cfg.lean.pool_size
    model = cfg.generator.model if cfg.generator.kind not in ("fixed", "scripted") else cfg.generator.outputs
    file_report = FileReport(str(options.file), cfg.lean.backend, cfg.generator.kind, model)
    from_statement = options.from_statement or run.strategy in ("whole", "correct")  # whole proofs replace each
    plans, proof_targets = plan_targets(
        run.lean_file,
        run.targets,
        from_statement=from_statement,
        make_theorem=run.make_theorem,
        use_informal=options.informal,
    )
    engine = Engine(strategy, run.env, run.verifier, EngineConfig(jobs=parallel, tree_dir=options.tree_dir))
    watch = _Watch(file_report, options.report)
    with run.env, _ProgressDisplay([t.name for t in proof_targets]) as display:
        watch.display = display
        try:
            proofs = _prove_targets(proof_targets, engine, file_report, watch)
        except _BackendDownError as exc:
            file_report.interrupted = True
            watch.save()
            fail(f"the {cfg.lean.backend} backend cannot start ({exc}); run `prover doctor`")
        except LeanEnvError as exc:
            file_report.interrupted = True
            watch.save()
            fail(f"Lean failed: {exc}")
    return _finish(run, plans, proofs, file_report, watch)


@dataclass
class _Watch:
    """Each finished target: the live table, the report on disk, and whether the backend itself is down."""

    report: Any
    path: Path | None
    display: Any = None
    backend_down: dict[str, str] = field(default_factory=dict)  # target -> the backend's failure, one line

    def save(self) -> None:
        if self.path is not None:
            self.report.save(self.path)

    def done(self, outcome: Any) -> None:
        from lean_env.errors import RepositoryUnavailableError
        from prover.engine import Status, is_backend_failure
        from prover.prove import TheoremReport

        self.display.done(TheoremReport.from_outcome(outcome))
        self.save()
        if outcome.status is not Status.FAILED_START:
            return
        if isinstance(outcome.cause, RepositoryUnavailableError):
            # One file is one repository: every further theorem would fail the same way.
            raise _BackendDownError(" ".join(outcome.message.split()))
        if is_backend_failure(outcome.cause):
            self.backend_down[outcome.target] = " ".join(outcome.message.split())


def _prove_targets(targets: Any, engine: Any, report: Any, watch: _Watch) -> dict[str, str]:
    from prover.prove import Hooks, prove_file

    try:
        return prove_file(targets, engine, report, Hooks(on_progress=watch.display.update, on_done=watch.done))
    except KeyboardInterrupt:
        report.interrupted = True
        err_console.print("interrupted: the results so far are kept")
        return {}


def _finish(run: _Run, plans: Any, proofs: dict[str, str], report: Any, watch: _Watch) -> int:
    from lean_env.errors import LeanEnvError
    from prover.prove import FileChangedError, finalize_file

    unusable = backend_start_failure(report, watch.backend_down)
    if unusable is not None:
        watch.save()
        fail(f"the {run.cfg.lean.backend} backend cannot start ({unusable}); run `prover doctor`")
    try:
        o = run.options
        _, diff = finalize_file(o.file, run.lean_file, plans, proofs, run.verifier, report, o.write, o.keep_partial)
    except FileChangedError as exc:
        watch.save()
        # The verified proofs, as a patch against the text the search started from: nothing found is lost.
        console.print(exc.diff, markup=False, highlight=False, soft_wrap=True, end="")
        fail(str(exc), EXIT_NOT_PROVED)
    except LeanEnvError as exc:
        _unprove_all(report, exc)
        watch.save()
        fail(f"the whole-file check failed to run: {exc}")
    watch.save()
    _print_summary(report, diff, run.options.write)
    if report.interrupted:
        return 130
    return EXIT_OK if report.all_proved else EXIT_NOT_PROVED


def _unprove_all(report: Any, exc: Exception) -> None:
    from prover.engine import Status

    for entry in report.theorems:
        if entry.proved:
            entry.status, entry.message = Status.REJECTED, f"whole-file check could not run: {exc}"


def output_paths_problem(file: Path, report: Path | None, tree_dir: Path | None) -> str | None:
    """Why `--report` / `--tree-dir` would destroy a user's file, or None when they would not.

    The report is written after each theorem (atomic replace) and trees as DIR/NAME.json and .dot, so
    either can only ever add or replace prove's own output: `--report` may name a new file, an empty one or
    an earlier prove report (a JSON object with "file" and "theorems"); anything else there (the input
    .lean file itself, a config, a cassette) is refused, as is `--tree-dir` naming an existing non-folder.
    Whether the paths can be created at all is checked by output_problem where it is called.
    """
    if report is not None:
        if report.exists() and file.exists() and os.path.samefile(report, file):
            return f"--report {report} would overwrite the input file {file}; give another file"
        if tree_dir is not None and report.expanduser().resolve() == tree_dir.expanduser().resolve():
            return f"--report {report} is also the --tree-dir; give two different paths"
        if report.is_file() and not _is_prove_report(report):
            return f"--report {report} exists and is not a prove report; give a new file or remove it first"
    if tree_dir is not None and tree_dir.exists() and not tree_dir.is_dir():
        return f"--tree-dir {tree_dir} is a file, not a folder; give a folder for the search trees"
    return None


def _is_prove_report(path: Path) -> bool:
    """Whether `path` is empty or holds what FileReport.save writes (so replacing it loses nothing)."""
    import json

    try:
        if path.stat().st_size > 64 << 20:  # no report is this large; do not read a big file to find out
            return False
        text = path.read_text(encoding="utf-8")
        if not text.strip():
            return True
        data = json.loads(text)
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"file", "theorems"} <= data.keys()


STRATEGIES = ("search", "whole", "correct")


def resolve_strategy(strategy: str, generator: Any, correction_rounds: int = 0) -> str:
    """The strategy a run uses: the one asked for, or with "auto" the model preset's (search for `fixed`);
    `--correction-rounds N` (N > 0) turns whole proofs into `correct`."""
    if strategy not in ("auto", *STRATEGIES):
        raise ValueError(f"--strategy must be auto, {', '.join(STRATEGIES)}, not {strategy!r}")
    if strategy in ("whole", "correct") and generator.kind == "fixed":
        raise ValueError(f"--strategy {strategy} needs a model that writes whole proofs (--generator hf or vllm)")
    if strategy == "auto":
        strategy = {"fixed": "search", "scripted": "whole"}.get(generator.kind) or _preset_strategy(generator)
    if strategy == "search" and generator.kind == "scripted":
        raise ValueError("the scripted generator plays back whole proofs: --strategy whole or correct")
    if correction_rounds > 0 and strategy != "correct":
        if strategy != "whole":
            raise ValueError(
                "--correction-rounds corrects whole proofs: it needs a whole-proof model or --strategy whole"
            )
        return "correct"
    return strategy


def _preset_strategy(generator: Any) -> str:
    from prover.generators.presets import apply_preset

    return "whole" if apply_preset(generator).mode == "whole" else "search"


class _ProgressDisplay:
    """Live table on a terminal's stderr: theorem, expansions, best depth, elapsed time, status.

    Nothing when stderr is not a terminal (CI logs, `2>log`): rich's Live prints its last frame when it
    stops even there (rich Live.stop -> refresh), which repeated the summary table stdout gets anyway.
    """

    def __init__(self, names: list[str]) -> None:
        import threading

        from rich.live import Live

        self.rows: dict[str, dict[str, Any]] = {
            name: {"status": "queued", "expansions": 0, "depth": 0, "start": None, "elapsed": 0.0} for name in names
        }
        self.lock = threading.Lock()  # searches report from several threads
        shown = err_console.is_terminal
        self.live = Live(self._render(), console=err_console, refresh_per_second=4, transient=False) if shown else None

    def __enter__(self) -> _ProgressDisplay:
        if self.live is not None:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.update(self._render())
            self.live.__exit__(None, None, None)

    def update(self, name: str, event: Any) -> None:
        with self.lock:
            self._update(name, event)

    def _update(self, name: str, event: Any) -> None:
        row = self.rows[name]
        if row["start"] is None:
            row["start"] = time.monotonic()
        row["status"] = "searching"
        row["expansions"] = getattr(event, "expansions", row["expansions"])
        row["depth"] = max(row["depth"], getattr(event, "max_depth", 0))
        row["elapsed"] = getattr(event, "elapsed_s", time.monotonic() - row["start"])
        if self.live is not None:
            self.live.update(self._render())

    def done(self, entry: Any) -> None:
        with self.lock:
            self._done(entry)

    def _done(self, entry: Any) -> None:
        row = self.rows[entry.name]
        row["status"] = entry.status
        row["expansions"] = entry.stats.get("expansions", row["expansions"])
        row["depth"] = entry.stats.get("max_depth", row["depth"])
        row["elapsed"] = entry.stats.get("total_time_s", row["elapsed"])
        if self.live is not None:
            self.live.update(self._render())

    def _render(self) -> Any:
        from rich.table import Table

        table = Table(title="proof search", expand=False)
        for col in ("theorem", "status", "expansions", "best depth", "elapsed"):
            table.add_column(col)
        for name, row in self.rows.items():
            table.add_row(
                name, _styled(row["status"]), str(row["expansions"]), str(row["depth"]), f"{row['elapsed']:.1f}s"
            )
        return table


def _styled(status: str) -> str:
    color = {"proved": "green", "found": "cyan", "searching": "yellow", "queued": "dim"}.get(status, "red")
    return f"[{color}]{status}[/]"


def _print_summary(report: Any, diff: str, write: bool) -> None:
    from rich.syntax import Syntax
    from rich.table import Table
    from rich.text import Text

    if diff and not write:
        if console.is_terminal:
            # Wrapped, never cropped: the diff a mathematician reads before `--write` hides no text.
            console.print(Syntax(diff, "diff", theme="ansi_dark", word_wrap=True))
        else:  # keep the diff byte-exact for pipes (`prover prove F.lean > fix.patch`)
            console.print(diff, markup=False, highlight=False, soft_wrap=True, end="")
    # Notes go below the table, one per theorem, wrapped at the terminal's width: as a column they were
    # squeezed to a few characters beside long names (formal-conjectures names are 40+ characters).
    title = f"{report.file}: {sum(t.proved for t in report.theorems)}/{len(report.theorems)} proved"
    checkers = sorted({t.checker for t in report.theorems if t.proved and t.checker})
    if checkers:  # a replay verdict is a check of recordings: the summary says who checked
        title += f" (checker: {', '.join(checkers)})"
    table = Table(title=title)
    table.add_column("theorem", overflow="fold")
    for col in ("status", "checker", "exp.", "time"):
        table.add_column(col, no_wrap=True)
    notes: list[tuple[str, str]] = []
    for t in report.theorems:
        if t.message:
            notes.append((t.name, t.message))
        table.add_row(
            Text(t.name + (f" [{len(notes)}]" if t.message else "")),  # a name is never markup
            _styled(t.status),
            t.checker or "-",
            str(t.stats.get("expansions", "-")),
            f"{t.stats.get('total_time_s', 0.0):.1f}s",
        )
    console.print(table)
    for number, (name, message) in enumerate(notes, 1):
        console.print(f"[{number}] {name}: {' '.join(message.split())}", markup=False, highlight=False)
    if report.written:
        console.print(f"wrote {report.file} (backup: {report.backup})")
    elif diff:
        console.print("dry run: pass --write to write these verified proofs into the file")


def output_problem(report: Path | None, tree_dir: Path | None) -> str | None:
    """Why `--report` or `--tree-dir` can never be written (one line), else None; checked before any search, after output_paths_problem. Missing folders are created
    here, as the writes would create them."""
    from prover.commands.outputs import folder_problem
    from prover.commands.outputs import output_problem as file_problem

    if report is not None and (problem := file_problem(report, "--report")) is not None:
        return problem
    if tree_dir is not None and (why := folder_problem(tree_dir)) is not None:
        return f"--tree-dir {tree_dir}: cannot create or write there ({why})"
    return None


def duplicate_declaration(lean_file: Any) -> str | None:
    """`path:line:col: `name` has already been declared` for a name declared twice, else None.

    Lean refuses the second declaration with this message, at its name (lean4 src/Lean/Elab/DeclModifiers.lean
    @045b799aa1f1, `checkNotAlreadyDeclared`), so both cannot be proved: searching both and writing would give
    a file Lean rejects. `example`s are anonymous; `proof_wanted` adds no declaration. Columns are 1-based,
    as in the parser's own errors.
    """
    from lean_env.source.lexer import tokenize

    seen: set[str] = set()
    for decl in lean_file.declarations:
        if decl.name is None or decl.kind in ("example", "proof_wanted"):
            continue
        if decl.name not in seen:
            seen.add(decl.name)
            continue
        line, column = decl.span.start_line, decl.span.start_column
        try:  # the name's own position, past a doc comment and attributes
            tokens = [t for t in tokenize(lean_file.source, keep_comments=False) if t.start >= decl.span.start]
            at = next(i for i, t in enumerate(tokens) if t.text == decl.kind)
            line, column = tokens[at + 1].line, tokens[at + 1].column
        except (ValueError, StopIteration, IndexError):
            pass
        return f"{lean_file.path}:{line}:{column}: `{decl.name}` has already been declared"
    return None


def untargeted_sorries(lean_file: Any) -> list[str]:
    """`kind name (line N)` for each declaration prove does not search whose text holds a `sorry` token
    (a compfiles `determine`, a `def`'s `decreasing_by sorry`, an `instance ... := by sorry`): such a
    `sorry` stays, and prove says so instead of claiming there is nothing to prove. Comments and strings
    are not tokens (lean_env.source.lexer), so a `sorry` in a doc comment is not counted."""
    from lean_env.source.lexer import TokenKind, tokenize

    others = [d for d in lean_file.declarations if not d.is_target]
    if not others:
        return []
    try:
        tokens = tokenize(lean_file.source, keep_comments=False)
    except ValueError:  # the parse already succeeded on this text; a lexer error here says nothing new
        return []
    starts = [t.start for t in tokens if t.kind is TokenKind.IDENT and t.text == "sorry"]  # ascending
    found = []
    for decl in others:  # each by binary search: linear in the file however many sorries and declarations
        count = bisect.bisect_left(starts, decl.span.end) - bisect.bisect_left(starts, decl.span.start)
        if count:
            times = f" ({count} sorries)" if count > 1 else ""
            found.append(f"{decl.kind} {decl.name or '(anonymous)'} (line {decl.line}){times}")
    return found


class _BackendDownError(Exception):
    """Raised from prove's on-done hook to stop at the first start that failed for the whole file (the LeanDojo
    repository cannot be opened): the sequential job loop (jobs=1 for dojo) stops there."""


def backend_start_failure(report: Any, backend_down: dict[str, str]) -> str | None:
    """The shared cause when every target failed to start because the backend failed (a crashed or unstartable
    Lean, by the exception's type), else None.

    One file is one Lean: such a failure is never the theorems', so prove stops with one line (exit 2)
    instead of a failed_start row per theorem."""
    entries = report.theorems
    if not entries or any(e.name not in backend_down for e in entries):
        return None
    return backend_down[entries[0].name]
