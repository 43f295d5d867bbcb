"""`prover prove FILE.lean`: search proofs for every `sorry`, verify, write back or show a diff."""

from __future__ import annotations

import os
import time
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
    mode: str = typer.Option(
        "auto",
        "--mode",
        help="search (tactic search), whole (N whole proofs per theorem, each verified) or auto (the model preset's).",
    ),
    num_proofs: int = typer.Option(8, "--num-proofs", min=1, help="Whole proofs sampled per theorem (--mode whole)."),
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
        help=r"Targets searched at once; sets \[lean] pool_size (default: cores, capped by memory per Lean process; the dojo backend runs one at a time).",
    ),
) -> None:
    """Fill every `sorry` in FILE where it stands (or search whole proofs), verify, show a diff or write."""
    from lean_env.errors import LeanEnvError, LeanNotFoundError, LeanParseError
    from lean_env.source.parse import parse_lean_source
    from prover.backends import make_env, make_verifier
    from prover.config import ConfigError, load_config
    from prover.jobs import JobConfig, default_pool_size
    from prover.prove import (
        Backends,
        FileChangedError,
        FileReport,
        Hooks,
        TheoremReport,
        UnknownTheoremError,
        dojo_source_for,
        finalize_file,
        plan_targets,
        prove_file,
        select_targets,
    )

    overrides: dict[str, dict[str, Any]] = {
        "lean": {**lean_overrides(backend, cassette, lean_project), "pool_size": jobs, "strict": strict or None},
        "generator": generator_overrides(generator, model, template),
        "search": {"num_tactics": num_tactics, "time_s": time_limit, "max_expansions": max_expansions},
    }
    try:
        cfg = load_config(config, overrides)
        if "template" in cfg.generator.model_fields_set:  # refused whatever the generator (fixed ignores it)
            from prover.generators.presets import template_mode

            template_mode(cfg.generator.template)
        whole = _whole_mode(mode, cfg.generator)
    except (ConfigError, ValueError) as exc:
        fail(str(exc))
    from_statement = from_statement or whole  # a whole-proof model replaces each theorem's whole proof
    if file.is_dir():
        fail(f"{file} is a directory, not a .lean file")
    if not file.is_file():
        fail(f"no such file: {file}")
    problem = output_paths_problem(file, report, tree_dir)
    if problem is not None:  # before any search: a refused path costs nothing, a clobbered one costs user bytes
        fail(problem)
    # ... and one that could never be written costs the search's results (minutes to hours).
    problem = output_problem(report, tree_dir)
    if problem is not None:
        fail(problem)
    try:
        # Bytes decoded as they are: a BOM and CRLF line endings stay in the text the edits apply to.
        original = file.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        fail(f"{file}: not a UTF-8 text file")
    try:
        lean_file = parse_lean_source(original, str(file))
        targets = select_targets(lean_file, theorem)
    except LeanParseError as exc:
        fail(str(exc))
    except UnknownTheoremError as exc:
        fail(str(exc))
    duplicate = duplicate_declaration(lean_file)
    if duplicate is not None:
        fail(duplicate)
    left_alone = untargeted_sorries(lean_file) if theorem is None else []
    if left_alone:
        # README: exit 0 means every targeted theorem is proved; these sorries stay, and the user is told.
        err_console.print(
            f"note: {len(left_alone)} `sorry` in declarations prove does not search: {', '.join(left_alone)}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if not targets:
        if left_alone:
            console.print(f"{file}: no theorem, lemma or example contains `sorry`; the sorries above stay.")
            raise typer.Exit(EXIT_NOT_PROVED)
        console.print(f"{file}: no theorem contains `sorry`; nothing to prove.")
        raise typer.Exit(EXIT_OK)

    # Cheap prerequisites first (Lean project, REPL binary, cassette, git for LeanDojo): a missing one
    # fails in a second, not after minutes of loading a model.
    if "pool_size" not in cfg.lean.model_fields_set:  # neither --jobs nor the config file set it
        cfg.lean.pool_size = default_pool_size(cfg.lean.memory_limit_mb) if cfg.lean.backend == "repl" else 1
    make_theorem = None
    if cfg.lean.backend == "dojo":
        try:
            make_theorem = dojo_source_for(file)
        except ValueError as exc:
            fail(str(exc))
    try:
        env = make_env(cfg.lean)
        verifier = make_verifier(cfg.lean)
    except LeanNotFoundError as exc:
        fail(str(exc))
    except (LeanEnvError, ValueError) as exc:
        fail(f"cannot start the {cfg.lean.backend} backend: {exc}")
    problem = model_unreachable(cfg.generator.kind, cfg.generator.model)
    if problem is not None:
        fail(problem)
    gen: Any = None
    whole_setup: Any = None
    try:
        if whole:  # issue 13: whole-proof presets (DeepSeek-Prover, Goedel-Prover-V2, Kimina-Prover)
            from prover.generators.whole_proof import load_whole_proof_model

            whole_setup = load_whole_proof_model(cfg.generator)
        else:
            from prover.generators import make_generator

            gen = make_generator(cfg.generator)
    except (ValueError, RuntimeError, OSError, ImportError) as exc:
        fail(f"cannot build the {cfg.generator.kind} generator: {exc}")
    # LeanDojo runs one theorem per process: its backend is not shared between threads.
    parallel = 1 if cfg.lean.backend == "dojo" else cfg.lean.pool_size

    file_report = FileReport(
        file=str(file),
        backend=cfg.lean.backend,
        generator=cfg.generator.kind,
        model=cfg.generator.model if cfg.generator.kind != "fixed" else None,
    )

    def save_report() -> None:
        if report is not None:
            file_report.save(report)

    plans, proof_targets = plan_targets(
        lean_file, targets, from_statement=from_statement, make_theorem=make_theorem, use_informal=informal
    )
    proofs: dict[str, str] = {}
    with env, _ProgressDisplay([t.name for t in proof_targets]) as display:

        def on_theorem_done(entry: TheoremReport) -> None:
            display.done(entry)
            save_report()
            if entry.status == "failed_start" and _REPOSITORY_FAILURE in entry.message:
                # One file is one repository: every further theorem would fail the same way (K22).
                raise _BackendDownError(entry)

        try:
            if whole_setup is not None:
                proofs = _prove_whole(proof_targets, whole_setup, verifier, num_proofs, file_report, on_theorem_done)
            else:
                proofs = prove_file(
                    proof_targets,
                    Backends(env, gen, verifier),
                    JobConfig(cfg.search.to_search_config(), jobs=parallel, tree_dir=tree_dir),
                    file_report,
                    Hooks(on_progress=display.update, on_done=on_theorem_done),
                )
        except KeyboardInterrupt:
            file_report.interrupted = True
            err_console.print("interrupted: the results so far are kept")
        except _BackendDownError as exc:
            file_report.theorems.append(exc.entry)
            file_report.interrupted = True
            save_report()
            cause = " ".join(exc.entry.message.split())
            fail(f"the {cfg.lean.backend} backend cannot start ({cause}); run `prover doctor`")
        except LeanEnvError as exc:
            file_report.interrupted = True
            save_report()
            fail(f"Lean failed: {exc}")

    unusable = backend_start_failure(file_report)
    if unusable is not None:
        save_report()
        fail(f"the {cfg.lean.backend} backend cannot start ({unusable}); run `prover doctor`")
    try:
        _, diff = finalize_file(file, lean_file, plans, proofs, verifier, file_report, write)
    except FileChangedError as exc:
        save_report()
        # The verified proofs, as a patch against the text the search started from: nothing found is lost.
        console.print(exc.diff, markup=False, highlight=False, soft_wrap=True, end="")
        fail(str(exc), EXIT_NOT_PROVED)
    except LeanEnvError as exc:
        for entry in file_report.theorems:
            if entry.status == "proved":
                entry.status, entry.message = "rejected", f"whole-file check could not run: {exc}"
        save_report()
        fail(f"the whole-file check failed to run: {exc}")
    save_report()
    _print_summary(file_report, diff, write)
    if file_report.interrupted:
        raise typer.Exit(130)
    raise typer.Exit(EXIT_OK if file_report.all_proved else EXIT_NOT_PROVED)


def output_paths_problem(file: Path, report: Path | None, tree_dir: Path | None) -> str | None:
    """Why `--report` / `--tree-dir` would destroy a user's file, or None when they would not (K34).

    The report is written after each theorem (atomic replace) and trees as DIR/NAME.json and .dot, so
    either can only ever add or replace prove's own output: `--report` may name a new file, an empty one or
    an earlier prove report (a JSON object with "file" and "theorems"); anything else there (the input
    .lean file itself, a config, a cassette) is refused, as is `--tree-dir` naming an existing non-folder.
    Whether the paths can be created at all (K1/K2) is checked by output_problem where it is called.
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


def _whole_mode(mode: str, generator: Any) -> bool:
    """Whether `prove` samples whole proofs: `--mode whole`, or `auto` with a whole-proof model preset."""
    if mode not in ("auto", "search", "whole"):
        raise ValueError(f"--mode must be auto, search or whole, not {mode!r}")
    if mode == "whole" and generator.kind == "fixed":
        raise ValueError("--mode whole needs a model that writes whole proofs (--generator hf or vllm)")
    if mode != "auto" or generator.kind == "fixed":
        return mode == "whole"
    from prover.generators.presets import apply_preset

    return apply_preset(generator).mode == "whole"


def _prove_whole(targets: Any, setup: Any, verifier: Any, num_proofs: int, report: Any, on_done: Any) -> dict[str, str]:
    """`--mode whole`: `num_proofs` sampled whole proofs per theorem, each verified (`prove_whole`); the
    first verified one is the theorem's proof. A separate path from the tactic search (`prove_file`)."""
    from prover.generators.whole_proof import prove_whole
    from prover.prove import TheoremReport

    proofs: dict[str, str] = {}
    for target in targets:
        try:
            result = prove_whole(target.theorem, setup, verifier, num_proofs, target.context)
        except (ValueError, RuntimeError) as exc:  # the model failed: this theorem is not proved
            entry = TheoremReport(name=target.name, status="failed_error", message=str(exc))
        else:
            last = next((a.reason for a in reversed(result.attempts) if a.reason), "no proof in the samples")
            entry = TheoremReport(
                name=target.name,
                status="proved" if result.proved else "rejected",
                proof=result.proof,
                checker=result.checker,
                message="" if result.proved else f"{len(result.attempts)} distinct samples, none verified: {last}",
                stats={"model_time_s": result.model_time_s, "verify_time_s": result.verify_time_s, **result.stats},
            )
            if result.proof is not None:
                proofs[target.name] = result.proof
        report.theorems.append(entry)
        on_done(entry)
    return proofs


class _ProgressDisplay:
    """Live table on a terminal's stderr: theorem, expansions, best depth, elapsed time, status.

    Nothing when stderr is not a terminal (CI logs, `2>log`): rich's Live prints its last frame when it
    stops even there (rich Live.stop -> refresh), which repeated the summary table stdout gets anyway (K33).
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
            console.print(Syntax(diff, "diff", theme="ansi_dark"))
        else:  # keep the diff byte-exact for pipes (`prover prove F.lean > fix.patch`)
            console.print(diff, markup=False, highlight=False, soft_wrap=True, end="")
    # Notes go below the table, one per theorem, wrapped at the terminal's width: as a column they were
    # squeezed to a few characters beside long names (formal-conjectures names are 40+ characters).
    table = Table(title=f"{report.file}: {sum(t.proved for t in report.theorems)}/{len(report.theorems)} proved")
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


def model_unreachable(kind: str, model: str | None) -> str | None:
    """One clear line when the model can be neither read locally nor fetched; else None.

    A hub id that is already in the local Hugging Face cache is loaded with `HF_HUB_OFFLINE=1`, so
    no request is made at all; one that is not cached needs the hub, which is probed once (a TCP
    connection, 3 s) instead of letting huggingface_hub retry every file (its default is several
    retries with back-off, twice: tokenizer and weights). `fixed` needs no model.
    """
    import os

    if kind == "fixed" or not model or Path(model).expanduser().exists():
        return None
    # Spelled as a path (prover.generators.hf._looks_local): only a local checkpoint can be meant.
    if model.startswith(("/", "./", "../", "~")):
        return f"no such local checkpoint {model}"
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        cached = try_to_load_from_cache(model, "config.json")
    except ValueError:  # huggingface_hub's HFValidationError: not a hub id either
        return f"no such local checkpoint {model} (and it is not a Hugging Face model id)"
    if isinstance(cached, str):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        return None
    parent = Path(model).expanduser().parent
    if parent != Path(".") and parent.is_dir():  # e.g. runs/cpu-tiny before `prover train` wrote it
        return f"no such local checkpoint {model} (and no hub model of that name is cached)"
    if os.environ.get("HF_HUB_OFFLINE", "") in ("1", "true", "True", "YES", "yes", "ON", "on"):
        return f"model {model} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set"
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None  # the hub is reached through a proxy: a direct connection says nothing
    import socket
    from urllib.parse import urlparse

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    url = urlparse(endpoint)
    try:
        socket.create_connection((url.hostname or "huggingface.co", url.port or 443), timeout=3).close()
    except OSError as exc:
        os.environ["HF_HUB_OFFLINE"] = "1"
        return (
            f"model {model} is neither a local checkpoint nor in the local Hugging Face cache, and {endpoint} "
            f"is unreachable ({exc}); "
            f"download it where there is network (`huggingface-cli download {model}`) or pass --model PATH"
        )
    return None


def output_problem(report: Path | None, tree_dir: Path | None) -> str | None:
    """Why `--report` or `--tree-dir` can never be written (one line), else None; checked before any search
    (K1/K2), after output_paths_problem (K34: what they must never overwrite). Missing folders are created
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
    starts = [t.start for t in tokens if t.kind is TokenKind.IDENT and t.text == "sorry"]
    found = []
    for decl in others:
        count = sum(decl.span.start <= s < decl.span.end for s in starts)
        if count:
            times = f" ({count} sorries)" if count > 1 else ""
            found.append(f"{decl.kind} {decl.name or '(anonymous)'} (line {decl.line}){times}")
    return found


# Start failures that are the backend's, the same for every theorem: a LeanDojo repository that cannot be
# opened (lean_env.backends.dojo raises TheoremStartError for it, right for a sweep over many repositories), a REPL
# that crashes or cannot start (prover.jobs.BACKEND_FAILURES names the exception in the message).
_REPOSITORY_FAILURE = "cannot open the LeanDojo repository"


class _BackendDownError(Exception):
    """Raised from prove's on-done hook to stop the search at the first start that failed for the whole file
    (the LeanDojo repository): the sequential job loop (prover.jobs.run_jobs, jobs=1 for dojo) stops there."""

    def __init__(self, entry: Any) -> None:
        super().__init__(entry.message)
        self.entry = entry


def backend_start_failure(report: Any) -> str | None:
    """The shared cause when every target failed to start for a backend-level reason, else None.

    One file is one repository and one Lean: such a failure is never the theorems', so prove stops with
    one line (exit 2) instead of a failed_start row per theorem."""
    from prover.jobs import BACKEND_FAILURES

    entries = report.theorems
    if not entries or any(e.status != "failed_start" for e in entries):
        return None
    markers = (*BACKEND_FAILURES, _REPOSITORY_FAILURE)
    if not all(any(m in e.message for m in markers) for e in entries):
        return None
    message: str = entries[0].message
    return " ".join(message.split())
