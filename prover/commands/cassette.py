"""`prover cassette build|check`: make replay cassettes from recorded real-Lean data, and check them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from prover.commands.outputs import output_problem
from prover.console import EXIT_NOT_PROVED, console, err_console, fail

if TYPE_CHECKING:
    from lean_env.cassette.build import BuildReport
    from lean_env.cassette.format import Outcome
    from lean_env.cassette.store import Cassette
    from lean_env.types import TacticResult

cassette_app = typer.Typer(
    name="cassette",
    help="Build and check replay cassettes (recorded real-Lean results; see docs/lean_env_replay.md).",
    no_args_is_help=True,
)

DEMO_NAMES = ("mathd_algebra_182", "mathd_algebra_455", "mathd_algebra_190", "mathd_algebra_119")
DEMO_UNPROVED = ("mathd_algebra_141",)


def register(app: typer.Typer) -> None:
    app.add_typer(cassette_app, name="cassette")


def _split_names(text: str | None) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


@cassette_app.command("build")
def build(
    out: Path = typer.Argument(..., help="The cassette to write (JSONL)."),
    inputs: list[Path] | None = typer.Argument(
        None,
        help="proofsteps .jsonl files or LeanDojo Benchmark .json files (default: the shared proofsteps files).",
    ),
    from_minif2f_fewshot: bool = typer.Option(
        False,
        "--from-minif2f-fewshot",
        help="Build from DeepSeek-Prover's verified miniF2F few-shot proofs that are one tactic (needs --names).",
    ),
    names: str | None = typer.Option(None, "--names", help="Comma-separated miniF2F problems to record as proved."),
    unproved: str | None = typer.Option(
        None, "--unproved", help="Comma-separated miniF2F problems to include with no recorded proof."
    ),
    lean_out: Path | None = typer.Option(
        None, "--lean-out", help="Also write a .lean file stating the cassette's theorems with `sorry`."
    ),
    theorems: str | None = typer.Option(
        None, "--theorems", help="Comma-separated theorem names: keep only their records (theorem, steps, holes)."
    ),
    statements: Path | None = typer.Option(
        None,
        "--statements",
        metavar="FILE",
        help="A .lean file holding the declarations the traces were recorded from (e.g. a copy of the traced "
        "file's theorem): records without a statement take the statement and header of the declaration of the "
        "same full name. Without one a trace vouches only for the traced declaration itself.",
    ),
    source_root: Path | None = typer.Option(
        None,
        "--source-root",
        help="Checkout of the traced repository (LeanDojo Benchmark .json inputs): a theorem's initial state is "
        "recorded when its first traced tactic opens the top-level `by` of the declaration in this tree.",
    ),
) -> None:
    """Convert recorded Lean data into a cassette and print a summary (theorems, steps, skipped rows)."""
    from lean_env.cassette.format import CassetteError

    given = list(inputs or [])
    _check_build_options(out, lean_out, given, from_minif2f_fewshot, names, unproved, source_root)
    try:
        report = (
            _read_minif2f_fewshot(_split_names(names), _split_names(unproved))
            if from_minif2f_fewshot
            else _read_recorded_files(given, source_root)
        )
        _narrow_cassette(report, _split_names(theorems), statements)
        if not (report.cassette.theorems or report.cassette.steps or report.cassette.holes):
            fail(f"nothing to record: {report.summary()}")  # an empty cassette replays nothing
    except CassetteError as exc:
        fail(str(exc))
    _write_build_outputs(report, out, lean_out)


def _check_build_options(
    out: Path,
    lean_out: Path | None,
    inputs: list[Path],
    from_minif2f_fewshot: bool,
    names: str | None,
    unproved: str | None,
    source_root: Path | None,
) -> None:
    """Refuse option combinations and outputs that would destroy a user's file, before anything is read."""
    problem = _outputs_problem(out, lean_out, inputs)
    if problem is not None:  # before reading anything: nothing a user owns is overwritten
        fail(problem)
    if source_root is not None and not source_root.is_dir():
        fail(f"--source-root: not a directory: {source_root}")
    if from_minif2f_fewshot:
        if source_root is not None:
            fail("--source-root only applies to LeanDojo Benchmark .json inputs, not --from-minif2f-fewshot")
        if not _split_names(names):
            fail("--from-minif2f-fewshot needs --names a,b,c (problems whose few-shot proof is one tactic)")
        if inputs:
            fail("--from-minif2f-fewshot reads the shared miniF2F files; give no INPUTS")
    elif names or unproved:
        fail("--names/--unproved only apply with --from-minif2f-fewshot")


def _read_minif2f_fewshot(proved: list[str], unproved: list[str]) -> BuildReport:
    """`--from-minif2f-fewshot`: the shared miniF2F problems, `proved` with their one-tactic few-shot proof."""
    from lean_env.cassette.minif2f import build_from_minif2f_fewshot
    from prover.paths import minif2f_path, shared_dir

    return build_from_minif2f_fewshot(
        minif2f_path().parent / "deepseek_minif2f_valid_few_shot.jsonl",
        minif2f_path(),
        proved,
        unproved,
        relative_to=shared_dir(),
    )


def _read_recorded_files(inputs: list[Path], source_root: Path | None) -> BuildReport:
    """Merge proofsteps .jsonl and LeanDojo Benchmark .json files (default: the shared proofsteps files)."""
    from rich.progress import Progress

    from lean_env.cassette.build import BuildReport, build_from_proofsteps
    from lean_env.cassette.leandojo import build_from_leandojo_benchmark
    from lean_env.cassette.store import new_cassette
    from prover.paths import proofsteps_dir, shared_dir

    root = shared_dir()
    files = inputs or sorted(proofsteps_dir().glob("*.jsonl"))
    if not files:
        fail(f"no inputs given and no proofsteps files in {proofsteps_dir()}")
    for f in files:
        if not f.is_file():
            fail(f"no such input file: {f}")
    if source_root is not None and not any(f.suffix == ".json" for f in files):
        fail("--source-root only applies to LeanDojo Benchmark .json inputs; none given")
    report = BuildReport(
        cassette=new_cassette("built from recorded Lean proof steps", created_by="prover cassette build")
    )
    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("reading", total=len(files))
        for f in files:
            progress.update(task, description=f"reading {f.name}")
            part = (
                build_from_leandojo_benchmark(f, relative_to=root, source_root=source_root)
                if f.suffix == ".json"
                else build_from_proofsteps([f], relative_to=root)
            )
            report.merge(part)
            progress.advance(task)
    return report


def _narrow_cassette(report: BuildReport, keep: list[str], statements: Path | None) -> None:
    """`--theorems`: keep only those theorems' records; `--statements`: state the traced theorems."""
    if keep:
        missing = sorted(set(keep) - set(report.cassette.theorems))
        if missing:
            fail(f"--theorems: not in the inputs: {', '.join(missing)}")
        report.cassette = report.cassette.restricted_to(keep)
    if statements is not None:
        _state_traced_theorems(report.cassette, statements)


def _write_build_outputs(report: BuildReport, out: Path, lean_out: Path | None) -> None:
    """Write the cassette and the `--lean-out` file; everything that can refuse is checked before the first write."""
    from lean_env.cassette.format import CassetteError
    from lean_env.cassette.sorry_file import lean_source_with_sorry

    sorry_file = None
    if lean_out is not None:
        try:
            sorry_file = lean_source_with_sorry(
                report.cassette, comment=f"Theorems recorded in {out.name}; made by `prover cassette build`."
            )
        except CassetteError as exc:
            fail(f"--lean-out: {exc}; nothing written")
    if lean_out is not None and lean_out.resolve() == out.resolve():  # the .lean text would replace the cassette
        fail(f"--lean-out {lean_out} is the cassette OUT itself; give another file")
    for path, option in ((out, "OUT"), *(((lean_out, "--lean-out"),) if lean_out is not None else ())):
        problem = output_problem(path, option)
        if problem is not None:
            fail(problem)
    try:
        report.cassette.save(out)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    console.print(f"wrote {out}: {report.summary()}", highlight=False, soft_wrap=True)
    if lean_out is None or sorry_file is None:
        return
    try:
        lean_out.write_text(sorry_file.source, encoding="utf-8")
    except OSError as exc:
        fail(f"wrote {out}, but not {lean_out}: {exc.strerror or exc}")
    left = sorry_file.left_out
    console.print(
        f"wrote {lean_out}: {sorry_file.stated} theorems with `sorry`"
        + (
            f"; left out {len(left)} the replay backend cannot start (no recorded initial state), "
            f"e.g. {', '.join(left[:3])}"
            if left
            else ""
        ),
        highlight=False,
        soft_wrap=True,
    )


def _state_traced_theorems(cassette: Cassette, statements: Path) -> None:
    """`--statements FILE`: statement-less records take their statement from FILE's declarations; one line and
    exit 2 when FILE cannot be read or states none of them."""
    from lean_env.cassette.build import state_traced_theorems
    from lean_env.errors import LeanParseError
    from lean_env.source.declarations import parse_lean_file

    try:
        declared = [decl.to_theorem() for decl in parse_lean_file(statements).theorems]
    except (OSError, UnicodeDecodeError, LeanParseError) as exc:
        fail(f"--statements {statements}: {exc}")
    if not state_traced_theorems(cassette, declared, statements.name):
        fail(f"--statements {statements}: declares none of the recorded theorems without a statement")


def _recorded_proofs_rejected(cassette: Cassette) -> list[str]:
    """Theorems that carry the proof that compiled in Lean must verify through the cassette: one line per
    rejected one (the count is printed)."""
    from lean_env.backends.replay import ReplayVerifier
    from lean_env.checks.verdict import Verified

    verifier = ReplayVerifier(cassette)
    proofs = [(t, t.recorded_proof) for t in cassette.theorems.values() if t.recorded_proof]
    rejected = []
    for thm, proof in proofs:
        verdict = verifier.verify(thm.to_theorem(), proof)
        if not isinstance(verdict, Verified):
            rejected.append(f"{thm.name}: recorded proof rejected: {verdict.reason}")
    if proofs:
        console.print(f"verified {len(proofs) - len(rejected)}/{len(proofs)} recorded proofs", highlight=False)
    return rejected


def _outputs_problem(out: Path, lean_out: Path | None, inputs: list[Path]) -> str | None:
    """Why writing OUT or --lean-out would destroy something of the user's, else None.

    OUT may be new, empty or a cassette (rebuilding one replaces only what this command wrote); an OUT that is
    also an input (`build mydata.jsonl other.jsonl` puts the data first) or holds anything else is refused, and
    so is a --lean-out that is an input or an existing file this command did not write."""
    for path, option in ((out, "OUT"), *(((lean_out, "--lean-out"),) if lean_out is not None else ())):
        for given in inputs:
            if _same_file(path, given):
                return (
                    f"{option} {path} is also an input; nothing written (arguments are OUT first, then INPUTS: "
                    "give the cassette a new file name)"
                )
    if out.is_file() and not _is_cassette(out):
        return f"OUT {out} exists and is not a cassette; give a new file or remove it first"
    if lean_out is not None and lean_out.is_file() and not _written_by_build(lean_out):
        return f"--lean-out {lean_out} exists and was not written by `prover cassette build`; give a new file"
    return None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return a.resolve() == b.resolve()


def _first_line(path: Path) -> str | None:
    """The file's first line (at most 1 MiB of it), or None when it cannot be read as UTF-8 text."""
    try:
        with path.open("rb") as fh:
            return fh.readline(1 << 20).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _is_cassette(path: Path) -> bool:
    """Empty, or its first line is a cassette header (lean_env.cassette.format: kind header, the format's name)."""
    import json

    from lean_env.cassette.format import FORMAT_NAME

    line = _first_line(path)
    if line is None:
        return False
    if not line.strip():
        return path.stat().st_size == len(line.encode("utf-8"))  # nothing but blank text
    try:
        header = json.loads(line)
    except ValueError:
        return False
    return isinstance(header, dict) and header.get("kind") == "header" and header.get("format") == FORMAT_NAME


def _written_by_build(path: Path) -> bool:
    """Empty, or a .lean file whose opening comment says `prover cassette build` made it (`--lean-out`)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4096).decode("utf-8", errors="replace")
    except OSError:
        return False
    return not head.strip() or "made by `prover cassette build`" in head


@cassette_app.command("check")
def check(
    file: Path = typer.Argument(..., help="The cassette to check."),
    show: int = typer.Option(20, "--show", help="How many mismatches to list."),
) -> None:
    """Replay every recorded step through the replay backend and compare with the recording."""
    from rich.progress import Progress

    from lean_env.backends.replay import ReplayEnv
    from lean_env.cassette.format import CassetteError
    from lean_env.cassette.store import Cassette
    from lean_env.types import ProofState

    try:
        cassette = Cassette.load(file)
    except CassetteError as exc:
        fail(str(exc))
    if not (cassette.theorems or cassette.steps or cassette.holes):  # "replayed 0/0 steps" would read as a pass
        fail(f"{file} records nothing (no theorem, step or skeleton)")
    env = ReplayEnv(cassette)
    mismatches: list[str] = []
    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("replaying", total=len(cassette.steps))
        for step in cassette.steps.values():
            got = env.run_tactic(ProofState.from_pp(step.state), step.tactic)
            if not _same_outcome(step.result, got):
                where = f"{step.theorem or '?'} step {step.step if step.step is not None else '?'}"
                expected = _describe_outcome(step.result)
                mismatches.append(f"{where} `{' '.join(step.tactic.split())}`: expected {expected}, got {got}")
            progress.advance(task)
    total = len(cassette.steps)
    console.print(f"replayed {total - len(mismatches)}/{total} steps", highlight=False)

    problems = mismatches + _recorded_proofs_rejected(cassette)
    for line in problems[:show]:
        err_console.print(f"mismatch: {line}", highlight=False, soft_wrap=True)
    if len(problems) > show:
        err_console.print(f"... and {len(problems) - show} more", highlight=False)
    if problems:
        raise typer.Exit(EXIT_NOT_PROVED)


def _same_outcome(recorded: Outcome, got: TacticResult) -> bool:
    """Whether replaying a step gave back what was recorded. A timeout's seconds are the budget it ran under, not
    part of what Lean answered."""
    from lean_env.cassette.format import result_to_outcome
    from lean_env.types import ResultKind

    if recorded.kind is ResultKind.TIMEOUT:
        return got.kind is ResultKind.TIMEOUT
    return result_to_outcome(got) == recorded


def _describe_outcome(outcome: Outcome) -> str:
    from lean_env.cassette.format import ErrorOutcome, StateOutcome

    if isinstance(outcome, StateOutcome):
        return f"state {outcome.pp!r}"
    if isinstance(outcome, ErrorOutcome):
        return f"error {outcome.message!r}"
    return outcome.kind
