"""`prover suggest`: top-k tactics for a goal or a theorem in a file, checked in Lean; `-i` for a session."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from prover.commands.options import (
    BackendOption,
    CassetteOption,
    ConfigOption,
    DeviceOption,
    GeneratorOption,
    LeanProjectOption,
    ModelOption,
    TemplateOption,
    generator_overrides,
    lean_overrides,
)
from prover.console import EXIT_NOT_PROVED, EXIT_OK, console, err_console, fail


def register(app: typer.Typer) -> None:
    app.command("suggest")(suggest)


def suggest(
    target: str | None = typer.Argument(
        None,
        help="A .lean file (with --theorem), or the goal text itself; '-' or nothing reads the goal from stdin.",
    ),
    theorem: str | None = typer.Option(None, "--theorem", "-t", help="The theorem in FILE to work on."),
    interactive: bool = typer.Option(False, "--interactive", "-i", help="Interactive session on FILE --theorem."),
    apply: list[str] = typer.Option([], "--apply", "-a", help="A tactic applied before suggesting (repeatable)."),
    prefix: str = typer.Option("", "--prefix", help="Only suggest tactics starting with this text."),
    check: bool | None = typer.Option(
        None, "--check/--no-check", help="Run each tactic in Lean and mark it (default: when Lean is available)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the suggestions as JSON."),
    write: bool = typer.Option(False, "--write", "-w", help="Interactive: write the verified proof into FILE."),
    config: ConfigOption = None,
    backend: BackendOption = None,
    cassette: CassetteOption = None,
    lean_project: LeanProjectOption = None,
    generator: GeneratorOption = None,
    model: ModelOption = None,
    template: TemplateOption = None,
    device: DeviceOption = None,
    num_tactics: int | None = typer.Option(None, "--num-tactics", "-k", help="How many tactics to suggest."),
    time_limit: float | None = typer.Option(None, "--time-limit", help="Seconds for the `search` command."),
    max_expansions: int | None = typer.Option(None, "--max-expansions", help="Expansions for the `search` command."),
) -> None:
    """Suggest the top-k next tactics for a goal (or a theorem in a file), checked in Lean."""
    from prover.config import ConfigError, load_config

    overrides: dict[str, dict[str, Any]] = {
        "lean": lean_overrides(backend, cassette, lean_project),
        "generator": generator_overrides(generator, model, template),
        "search": {"time_s": time_limit, "max_expansions": max_expansions},
    }
    try:
        cfg = load_config(config, overrides)
    except ConfigError as exc:
        fail(str(exc))
    from prover.generators.seq2seq import apply_device

    try:
        cfg.generator = apply_device(cfg.generator, device, model is not None)
    except ValueError as exc:
        fail(str(exc))
    k = num_tactics if num_tactics is not None else min(cfg.search.num_tactics, 8)
    if k < 1:
        fail("--num-tactics must be at least 1")

    if write and not interactive:
        fail("--write is for the interactive session (-i)")
    if theorem is None:
        if interactive:
            fail("--interactive needs a file and --theorem NAME")
        if apply:
            fail("--apply needs a file and --theorem NAME (a bare goal has no tactic history)")
        goal = _read_goal(target)
        _suggest_for_goal(cfg, goal, k, prefix, check, as_json)
        return
    if target is None or target == "-":
        fail("--theorem needs the .lean FILE it is in")
    request = FileRequest(Path(target), theorem, k, prefix, check, as_json, list(apply), interactive, write)
    _suggest_in_file(cfg, request)


def _read_goal(target: str | None) -> str:
    if target is None or target == "-":
        if target is None and sys.stdin.isatty():
            fail("give a goal (argument or stdin), or a .lean FILE with --theorem NAME")
        data = sys.stdin.buffer.read()
        try:  # refused like a file that is not UTF-8, not read with replacement characters into a goal
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            fail(f"stdin: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})")
    else:
        text = target
    goal = text.replace("\r\n", "\n").strip("\n")
    if not goal.strip():
        fail("the goal is empty")
    if goal.endswith(".lean") and "\n" not in goal and "⊢" not in goal:
        fail(f"{goal} looks like a file: pass --theorem NAME to work on a theorem in it")
    return goal


def _build_generator(cfg: Any) -> Any:
    from prover.offline import model_unreachable

    problem = model_unreachable(cfg.generator.kind, cfg.generator.model)
    if problem is not None:  # one line now, not a minute of hub retries
        fail(problem)
    try:
        from prover.generators import make_generator

        return make_generator(cfg.generator)
    except (ValueError, RuntimeError, OSError, ImportError) as exc:
        fail(f"cannot build the {cfg.generator.kind} generator: {exc}")


def _open_env(cfg: Any, check: bool | None) -> Any:
    """The Env, or None when checking is off or (by default) when no Lean is available."""
    from lean_env.errors import LeanEnvError, LeanNotFoundError
    from prover.backends import make_env

    if check is False:
        return None
    try:
        return make_env(cfg.lean)
    except LeanNotFoundError as exc:
        if check is None:
            err_console.print(
                f"note: suggestions are unchecked: no Lean available ({exc})", highlight=False, soft_wrap=True
            )
            return None
        fail(str(exc))
    except (LeanEnvError, ValueError) as exc:
        fail(f"cannot start the {cfg.lean.backend} backend: {exc}")


def _suggest_for_goal(cfg: Any, goal: str, k: int, prefix: str, check: bool | None, as_json: bool) -> None:
    from lean_env.errors import LeanEnvError
    from lean_env.types import ProofState
    from prover.suggest import check_suggestions

    if check is True and cfg.lean.backend != "replay":
        # docs/suggest_serve.md: an explicit --check that cannot run fails; it is not quietly unchecked.
        fail(
            f"--check: the {cfg.lean.backend} backend cannot enter a bare goal (a pretty-printed goal does not "
            "re-elaborate soundly); pass FILE --theorem NAME to check suggestions, or --backend replay"
        )
    gen = _build_generator(cfg)
    env = None
    if check is not False and cfg.lean.backend != "replay":
        # A pretty-printed goal does not round-trip through Lean's parser in general (inaccessible
        # names, elided coercions, pp options), so it cannot be re-entered soundly.
        err_console.print(
            f"note: suggestions are unchecked: the {cfg.lean.backend} backend cannot enter a bare goal; "
            "pass FILE --theorem NAME to check them",
            highlight=False,
            soft_wrap=True,
        )
    else:
        env = _open_env(cfg, check)
    suggestions = _generate(gen, goal, k, prefix)
    if env is not None:
        _note_unrecorded_goal(env, goal)
        with env:
            state = ProofState.from_pp(goal)
            try:
                suggestions = check_suggestions(
                    env,
                    state,
                    suggestions,
                    timeout=cfg.search.tactic_timeout_s,
                    allow_native_decide=cfg.lean.allow_native_decide,
                )
            except LeanEnvError as exc:
                fail(f"Lean failed while checking the suggestions: {exc}")
    _print(goal, suggestions, env is not None, as_json)


def _generate(gen: Any, state: str, k: int, prefix: str, theorem_name: str | None = None) -> list[Any]:
    from prover.suggest import generate_suggestions

    try:
        return generate_suggestions(gen, state, k, prefix=prefix, theorem_name=theorem_name)
    except Exception as exc:  # a model failure (out of memory, bad checkpoint, ...): one line, exit 2
        fail(f"the generator failed: {type(exc).__name__}: {exc}")


def _session_suggestions(session: Any, prefix: str) -> list[Any]:
    from lean_env.errors import LeanEnvError

    try:
        return list(session.suggest(check=True, prefix=prefix))
    except LeanEnvError:
        raise
    except Exception as exc:  # the model, not Lean
        fail(f"the generator failed: {type(exc).__name__}: {exc}")


def _note_unrecorded_goal(env: Any, goal: str) -> None:
    """With the replay backend, a goal the cassette never saw can only ever be `unrecorded`: say so once."""
    steps = getattr(getattr(env, "cassette", None), "steps", None)
    if steps is not None and not any(state == goal.strip() for state, _ in steps):
        err_console.print(
            "note: this goal is not a recorded state in the cassette, so every check says `unrecorded`",
            highlight=False,
            soft_wrap=True,
        )


@dataclass(frozen=True)
class FileRequest:
    """`prover suggest FILE --theorem NAME`: what to suggest and how to show it."""

    path: Path
    theorem: str
    k: int
    prefix: str
    check: bool | None  # None: run the tactics in Lean when Lean is available
    as_json: bool
    apply: list[str]  # tactics applied before suggesting
    interactive: bool
    write: bool


def _suggest_in_file(cfg: Any, request: FileRequest) -> None:
    theorem = _load_theorem(request.path, request.theorem)
    gen = _build_generator(cfg)
    if request.interactive and request.check is False:
        fail("--interactive runs tactics in Lean; it cannot be combined with --no-check")
    env = _open_env(cfg, True if request.interactive else request.check)
    if env is None:
        _suggest_without_lean(gen, theorem, request)
        return
    with env:
        _suggest_in_session(cfg, env, gen, theorem, request)


def _load_theorem(path: Path, name: str) -> Any:
    from lean_env.errors import LeanParseError
    from lean_env.source.declarations import parse_lean_source

    if not path.is_file():
        fail(f"no such file: {path}")
    try:
        lean_file = parse_lean_source(path.read_text(encoding="utf-8"), str(path))
    except UnicodeDecodeError:
        fail(f"{path}: not a UTF-8 text file")
    except LeanParseError as exc:
        fail(str(exc))
    try:
        return lean_file.get(name).to_theorem()
    except KeyError as exc:
        known = ", ".join(d.name for d in lean_file.theorems) or "none"
        fail(f"{exc.args[0]} (theorems: {known})")


def _suggest_without_lean(gen: Any, theorem: Any, request: FileRequest) -> None:
    if request.apply:
        fail("--apply runs tactics in Lean; it needs a Lean backend (drop --no-check)")
    suggestions = _generate(gen, theorem.statement, request.k, request.prefix, theorem.name)
    err_console.print(
        "note: without Lean the model sees the theorem's statement, not its goal", highlight=False, soft_wrap=True
    )
    _print(theorem.statement, suggestions, False, request.as_json)


def _suggest_in_session(cfg: Any, env: Any, gen: Any, theorem: Any, request: FileRequest) -> None:
    from lean_env.errors import LeanEnvError
    from prover.suggest import ProofSession

    try:
        session = ProofSession(
            env,
            theorem,
            gen,
            k=request.k,
            tactic_timeout_s=cfg.search.tactic_timeout_s,
            allow_native_decide=cfg.lean.allow_native_decide,
        )
    except LeanEnvError as exc:
        fail(f"cannot start {request.theorem}: {exc}")
    try:
        _apply_all(session, request.apply)
        if request.interactive:
            _interactive(cfg, session, request.path, request.write)
            return
        if session.finished:
            fail("the --apply tactics already close every goal; nothing to suggest")
        suggestions = _session_suggestions(session, request.prefix)
    except LeanEnvError as exc:
        if session.tactics:
            err_console.print(f"tactics so far: {'; '.join(session.tactics)}", highlight=False, soft_wrap=True)
        fail(f"Lean failed: {exc}")
    state = session.state
    assert state is not None
    _print(state.pp, suggestions, True, request.as_json)


def _apply_all(session: Any, tactics: list[str]) -> None:
    from lean_env.types import ResultKind

    for i, tactic in enumerate(tactics, 1):
        result = session.apply(tactic)
        if result.outcome not in (ResultKind.FINISHED, ResultKind.STATE):
            fail(f"--apply tactic {i} ({tactic!r}) failed: {result.outcome.value}: {result.message}")


def _print(goal: str, suggestions: list[Any], checked: bool, as_json: bool) -> None:
    from rich.text import Text

    from prover.suggest import render_suggestions

    if as_json:
        payload = {"goal": goal, "checked": checked, "suggestions": [s.to_dict() for s in suggestions]}
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return
    console.print(Text(goal))
    render_suggestions(console, suggestions)


def _interactive(cfg: Any, session: Any, path: Path, write: bool) -> None:
    from rich.text import Text

    from lean_env.checks.verdict import Verified
    from lean_env.errors import LeanEnvError
    from prover.backends import make_verifier
    from prover.suggest import run_interactive, write_verified_proof

    outcome = run_interactive(session, console, search_config=cfg.search.to_search_config(), check=True)
    if not outcome.finished:
        if outcome.tactics:
            console.print(Text("proof so far (incomplete, not written):", style="yellow"))
            console.print(Text(session.proof))
        else:
            console.print("no tactics applied; nothing written")
        raise typer.Exit(EXIT_NOT_PROVED)
    console.print(Text("proof:", style="bold"))
    console.print(Text(session.proof))
    if not write and sys.stdin.isatty():
        try:
            answer = input(f"write this proof into {path} after verifying it? [y/N] ")
        except EOFError:
            answer = ""
        write = answer.strip().lower() in ("y", "yes")
    try:
        verifier = make_verifier(cfg.lean)
        if write:
            verdict = write_verified_proof(
                path, session.theorem.name, session.tactics, verifier, expected_statement=session.theorem.statement
            )
        else:
            verdict = verifier.verify(session.theorem, session.proof)
    except (LeanEnvError, OSError) as exc:
        console.print(Text(session.proof))
        fail(f"the proof could not be verified or written: {exc}")
    if not isinstance(verdict, Verified):
        console.print(Text(f"the proof was rejected by the verifier: {verdict.reason}", style="red"))
        console.print("nothing written" if write else "not written")
        raise typer.Exit(EXIT_NOT_PROVED)
    console.print(Text(f"verified ({verdict.checker})", style="green"))
    if write:
        console.print(f"wrote the proof of {session.theorem.name} into {path}")
    else:
        console.print("not written (pass --write to write it into the file)")
    raise typer.Exit(EXIT_OK)
