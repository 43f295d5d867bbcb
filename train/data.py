"""Proofstep data: readers, normalisation, dedupe, theorem-level split and the miniF2F contamination check.

A proofstep is one (tactic state, next tactic) pair. Every reader yields `ProofStep`s; everything
downstream (formatting, packing, training, evaluation) only sees those.
"""

from __future__ import annotations

import ast
import hashlib
import json
import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lean_env.jsonl import read_json_objects
from train.config import DataSection, DataSource


class DataError(ValueError):
    """Unreadable or malformed training data; the message is one line naming the file."""


class ContaminationError(DataError):
    """The training data contains a miniF2F statement or initial goal."""


@dataclass(frozen=True)
class ProofStep:
    state: str
    tactic: str
    theorem: str | None = None  # full name when the source records it
    source: str = ""  # file (and row) it came from
    state_after: str | None = None
    formal_statement: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


# ---------------------------------------------------------------------------- normalisation

_WS = re.compile(r"\s+")


def collapse_ws(text: str) -> str:
    """All whitespace runs to one space; the comparison key for tactics and statements."""
    return _WS.sub(" ", text).strip()


def normalize_state(state: str) -> str:
    lines = [line.rstrip() for line in state.replace("\r\n", "\n").replace("\t", "  ").split("\n")]
    return "\n".join(lines).strip("\n")


def normalize_tactic(tactic: str) -> str:
    """Trailing spaces and blank edge lines go; common indentation of continuation lines is kept."""
    lines = [line.rstrip() for line in tactic.replace("\r\n", "\n").replace("\t", "  ").split("\n")]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return ""
    lines[0] = lines[0].strip()
    return "\n".join(lines)


def _tactic_refusal(tactic: str) -> str | None:
    try:
        from lean_env.checks.tactic_filter import check_tactic
    except ImportError:  # the filter module may not exist yet; these never belong in training data
        return "sorry/admit" if re.search(r"\b(sorry|admit)\b", tactic) else None
    return check_tactic(tactic)


@dataclass(frozen=True)
class CleanStats:
    read: int
    kept: int
    duplicates: int
    empty: int
    refused: int


def clean(steps: Iterable[ProofStep]) -> tuple[list[ProofStep], CleanStats]:
    """Normalise, drop empty / finished / refused (sorry, admit, ...) rows, and dedupe on (state, tactic)."""
    seen: set[tuple[str, str]] = set()
    out: list[ProofStep] = []
    read = duplicates = empty = refused = 0
    for step in steps:
        read += 1
        state, tactic = normalize_state(step.state), normalize_tactic(step.tactic)
        if not state or not tactic or state == "no goals":
            empty += 1
            continue
        if _tactic_refusal(tactic) is not None:
            refused += 1
            continue
        key = (collapse_ws(state), collapse_ws(tactic))
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        out.append(replace(step, state=state, tactic=tactic))
    return out, CleanStats(read=read, kept=len(out), duplicates=duplicates, empty=empty, refused=refused)


# ---------------------------------------------------------------------------- readers


def _files(path: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(suffixes))
        if not files:
            raise DataError(f"no {'/'.join(suffixes)} files in {path}")
        return files
    if not path.exists():
        raise DataError(f"data path not found: {path}")
    return [path]


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def read_jsonl(path: str | Path) -> Iterator[ProofStep]:
    """Plain JSONL rows with `state_before` and `tactic` (optional `theorem`, `state_after`, `formal_statement`)."""
    for file in _files(Path(path), (".jsonl",)):
        for lineno, row in read_json_objects(file, DataError):
            if not isinstance(row.get("state_before"), str) or not isinstance(row.get("tactic"), str):
                raise DataError(f"{file}:{lineno}: a row needs string fields state_before and tactic")
            yield ProofStep(
                state=row["state_before"],
                tactic=row["tactic"],
                theorem=_opt_str(row.get("theorem")) or _opt_str(row.get("full_name")),
                source=f"{file.name}:{lineno}",
                state_after=_opt_str(row.get("state_after")),
                formal_statement=_opt_str(row.get("formal_statement")),
            )


def read_leandojo(path: str | Path, split: str = "train") -> Iterator[ProofStep]:
    """LeanDojo Benchmark 4 split files: a JSON list of theorems, each with `traced_tactics`.

    `path` names a split file, or a split folder (`random/`, `novel_premises/`), of which only
    `<split>.json` is read: the folder also holds `val.json` and `test.json` (training on them would train on
    the evaluation split) and the benchmark's top level `metadata.json` is no theorem list.
    `traced_tactics` may also be a Python-repr string (some public copies store it that way).
    """
    file = _leandojo_split_file(Path(path), split)
    for index, thm in enumerate(_leandojo_theorems(file)):
        yield from _leandojo_theorem_steps(file, index, thm)


def _leandojo_split_file(path: Path, split: str) -> Path:
    """`path` itself, or `<split>.json` of a split folder."""
    if path.is_dir():
        file = path / f"{split}.json"
        if not file.is_file():
            present = ", ".join(sorted(p.name for p in path.glob("*.json"))) or "no .json files"
            raise DataError(
                f"{path}: no {split}.json (a LeanDojo split folder holds train/val/test.json; has {present})"
            )
        return file
    if not path.exists():
        raise DataError(f"data path not found: {path}")
    return path


def _leandojo_theorems(file: Path) -> list[Any]:
    """The split file's JSON list of theorems."""
    try:
        theorems = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{file}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(theorems, list):
        raise DataError(f"{file}: expected a JSON list of theorems (LeanDojo Benchmark 4 format)")
    return theorems


def _leandojo_theorem_steps(file: Path, index: int, thm: Any) -> Iterator[ProofStep]:
    """The proof steps of theorem #`index`, from its `traced_tactics` (a list, or its Python repr)."""
    if not isinstance(thm, dict) or "traced_tactics" not in thm:
        raise DataError(f"{file}: theorem #{index} has no traced_tactics")
    tactics = thm["traced_tactics"]
    if isinstance(tactics, str):
        try:
            tactics = ast.literal_eval(tactics)
        except (ValueError, SyntaxError):
            raise DataError(f"{file}: theorem #{index}: unreadable traced_tactics string") from None
    name = _opt_str(thm.get("full_name"))
    qualified = f"{thm.get('file_path', '')}:{name}" if name else None
    for step_no, tac in enumerate(tactics):
        if not isinstance(tac, dict) or not isinstance(tac.get("state_before"), str):
            raise DataError(f"{file}: theorem #{index} step {step_no}: needs state_before and tactic")
        if not isinstance(tac.get("tactic"), str):
            raise DataError(f"{file}: theorem #{index} step {step_no}: needs state_before and tactic")
        yield ProofStep(
            state=tac["state_before"],
            tactic=tac["tactic"],
            theorem=qualified,
            source=f"{file.name}#{index}.{step_no}",
            state_after=_opt_str(tac.get("state_after")),
        )


_GOAL, _STEP = "[GOAL]", "[PROOFSTEP]"


def parse_proofsteps_text(text: str) -> list[tuple[str, str]]:
    """`[GOAL]\\n{state}\\n[PROOFSTEP]\\n{tactic}` blocks (Proof-Pile-2 lean_proofsteps) to (state, tactic)."""
    pairs: list[tuple[str, str]] = []
    for block in text.split(_GOAL)[1:]:
        if _STEP not in block:
            raise DataError("a [GOAL] block without [PROOFSTEP]")
        state, tactic = block.split(_STEP, 1)
        pairs.append((state.strip("\n"), tactic.strip("\n")))
    return pairs


def read_proofpile(path: str | Path) -> Iterator[ProofStep]:
    """Proof-Pile-2 `lean_proofsteps`: JSONL rows whose `text` holds one module's proofsteps, or raw text files.

    The format has no theorem names, so the module (`meta.mathlib_filename`, else the row) is the group
    key: a whole module lands on one side of the split, which is stricter than by theorem.
    """
    for file in _files(Path(path), (".jsonl", ".txt")):
        if file.suffix == ".txt":
            units: Iterable[tuple[str, str]] = [(file.name, file.read_text(encoding="utf-8"))]
        else:
            units = _proofpile_rows(file)
        for module, text in units:
            try:
                pairs = parse_proofsteps_text(text)
            except DataError as exc:
                raise DataError(f"{file} ({module}): {exc}") from None
            for i, (state, tactic) in enumerate(pairs):
                yield ProofStep(state=state, tactic=tactic, theorem=f"module:{module}", source=f"{module}#{i}")


def _proofpile_rows(file: Path) -> Iterator[tuple[str, str]]:
    for lineno, row in read_json_objects(file, DataError):
        if not isinstance(row.get("text"), str):
            raise DataError(f"{file}:{lineno}: a lean_proofsteps row needs a string field text")
        meta = row.get("meta")
        module = meta.get("mathlib_filename") if isinstance(meta, dict) else None
        yield str(module or f"{file.name}:{lineno}"), row["text"]


def read_hf(source: DataSource) -> Iterator[ProofStep]:
    """A Hugging Face dataset (hub id, local dataset folder, or a local JSON/JSONL file), optionally streamed."""
    import datasets

    path = source.resolved_path()
    local = Path(path)
    try:
        if local.is_file():
            ds = datasets.load_dataset("json", data_files=str(local), split=source.split, streaming=source.streaming)
        elif local.is_dir() and (local / "dataset_info.json").is_file():
            loaded = datasets.load_from_disk(str(local))
            ds = loaded[source.split] if isinstance(loaded, datasets.DatasetDict) else loaded
        else:
            ds = datasets.load_dataset(path, source.hf_config, split=source.split, streaming=source.streaming)
    except Exception as exc:  # datasets raises many types; the user needs one line
        raise DataError(
            f"cannot load dataset {path!r}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
    for i, row in enumerate(ds):
        state, tactic = row.get(source.state_field), row.get(source.tactic_field)
        if not isinstance(state, str) or not isinstance(tactic, str):
            raise DataError(
                f"dataset {path!r} row {i}: needs string columns {source.state_field!r} and {source.tactic_field!r}"
            )
        theorem = _opt_str(row.get(source.theorem_field)) if source.theorem_field else None
        yield ProofStep(
            state=state,
            tactic=tactic,
            theorem=theorem,
            source=f"{path}#{i}",
            formal_statement=_opt_str(row.get("formal_statement")),
        )


def read_source(source: DataSource) -> Iterator[ProofStep]:
    if source.format == "hf":
        rows: Iterator[ProofStep] = read_hf(source)
    else:
        if source.format == "leandojo":
            rows = read_leandojo(source.resolved_path(), source.split)
        else:
            reader = {"jsonl": read_jsonl, "proofpile": read_proofpile}[source.format]
            rows = reader(source.resolved_path())
    for i, row in enumerate(rows):
        if source.max_rows is not None and i >= source.max_rows:
            break
        yield row


# ---------------------------------------------------------------------------- split by theorem


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def _first_goal(state: str) -> tuple[str, str]:
    """(hypotheses, target) of the first goal, whitespace-collapsed; a `case` tag line is dropped."""
    first = state.split("\n\n", 1)[0]
    lines = [ln for ln in first.split("\n") if not ln.startswith("case ")]
    text = "\n".join(lines)
    hyps, _, target = text.partition("⊢")
    return collapse_ws(hyps), collapse_ws(target)


def group_keys(step: ProofStep) -> list[str]:
    """Keys that tie rows of one theorem together; rows sharing any key are one group.

    Named rows: the theorem name. Every row: its exact state (one state never lands in both parts).
    Nameless rows (Lean-STaR): also the first goal's hypotheses and its target, since steps of one proof
    usually keep either the context or the goal. This over-merges a little, never under-merges knowingly.
    """
    state_key = collapse_ws(step.state)
    keys = [f"state:{_digest(state_key)}"]
    if step.state_after and collapse_ws(step.state_after) != "no goals":
        keys.append(f"state:{_digest(collapse_ws(step.state_after))}")
    if step.theorem:
        keys.append(f"thm:{step.theorem}")
    else:
        hyps, target = _first_goal(step.state)
        if hyps:
            keys.append(f"hyps:{_digest(hyps)}")
        if target:
            keys.append(f"goal:{_digest(target)}")
    return keys


def theorem_groups(steps: Sequence[ProofStep]) -> list[int]:
    """A group id per row (union-find over `group_keys`)."""
    parent = list(range(len(steps)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, step in enumerate(steps):
        for key in group_keys(step):
            if key in owner:
                a, b = find(i), find(owner[key])
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                owner[key] = i
    return [find(i) for i in range(len(steps))]


@dataclass(frozen=True)
class Split:
    train: list[ProofStep]
    validation: list[ProofStep]
    train_groups: int
    validation_groups: int


def split_by_theorem(steps: Sequence[ProofStep], validation_fraction: float, seed: int = 0) -> Split:
    """Whole groups go to validation (shuffled, seeded) until it holds about `validation_fraction` of the rows."""
    groups = theorem_groups(steps)
    members: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    order = sorted(members)
    random.Random(seed).shuffle(order)
    target = validation_fraction * len(steps)
    val_ids: set[int] = set()
    val_rows = 0
    for g in order:
        if val_rows >= target:
            break
        # Skip a group that would overshoot by a lot (one giant group must not swallow validation).
        if val_rows + len(members[g]) > target * 1.5 and val_rows > 0:
            continue
        if len(members[g]) > max(target * 1.5, 1):
            continue
        val_ids.add(g)
        val_rows += len(members[g])
    train = [s for s, g in zip(steps, groups, strict=True) if g not in val_ids]
    validation = [s for s, g in zip(steps, groups, strict=True) if g in val_ids]
    if not train or not validation:
        raise DataError(f"cannot split {len(steps)} rows in {len(members)} theorem groups into train and validation")
    return Split(train, validation, train_groups=len(members) - len(val_ids), validation_groups=len(val_ids))


# ---------------------------------------------------------------------------- miniF2F contamination

_DECL_HEAD = re.compile(r"^\s*(?:(?:theorem|lemma)\s+\S+|example)\s*")


def statement_body(statement: str) -> str:
    """A statement without `theorem NAME` and without `:= ...`, whitespace-collapsed (renaming does not hide it)."""
    text = statement.split(":=", 1)[0]
    return collapse_ws(_DECL_HEAD.sub("", text, count=1))


@dataclass(frozen=True)
class MiniF2FIndex:
    goals: dict[str, str]  # collapsed initial goal -> problem name
    statements: dict[str, str]  # statement body -> problem name

    @classmethod
    def load(cls, path: str | Path | None = None) -> MiniF2FIndex:
        from prover.paths import minif2f_path

        file = Path(path) if path is not None else minif2f_path()
        if not file.is_file():
            raise DataError(f"miniF2F file not found for the contamination check: {file}")
        goals: dict[str, str] = {}
        statements: dict[str, str] = {}
        for line in file.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            name = str(row.get("name", "?"))
            for key, value in row.items():
                if not isinstance(value, str) or not value.strip():
                    continue
                if key.startswith("formal_statement"):
                    statements[statement_body(value)] = name
                elif key.startswith("initial_goal"):
                    goals[collapse_ws(value)] = name
        return cls(goals=goals, statements=statements)

    def match(self, step: ProofStep) -> str | None:
        """The miniF2F problem this row contains, or None."""
        hit = self.goals.get(collapse_ws(step.state))
        if hit is None:
            # A multi-goal state holding a miniF2F goal is contaminated too.
            for goal in step.state.split("\n\n"):
                hit = self.goals.get(collapse_ws(goal))
                if hit:
                    break
        if hit is None and step.formal_statement:
            hit = self.statements.get(statement_body(step.formal_statement))
        return hit


def check_contamination(steps: Sequence[ProofStep], index: MiniF2FIndex) -> None:
    """Raise ContaminationError naming the first offending rows if any row holds a miniF2F problem."""
    hits = [(step, name) for step in steps if (name := index.match(step)) is not None]
    if hits:
        shown = ", ".join(f"{step.source} = {name}" for step, name in hits[:3])
        more = f" and {len(hits) - 3} more" if len(hits) > 3 else ""
        raise ContaminationError(
            f"refusing to train: {len(hits)} row(s) contain a miniF2F statement or initial goal ({shown}{more})"
        )


# ---------------------------------------------------------------------------- the whole pipeline


@dataclass(frozen=True)
class PreparedData:
    split: Split
    stats: CleanStats

    @property
    def train(self) -> list[ProofStep]:
        return self.split.train

    @property
    def validation(self) -> list[ProofStep]:
        return self.split.validation


def load_steps(cfg: DataSection) -> list[ProofStep]:
    rows: list[ProofStep] = []
    for source in cfg.sources:
        rows.extend(read_source(source))
    return rows


def prepare_data(cfg: DataSection, seed: int = 0) -> PreparedData:
    """Read every source, clean, refuse miniF2F contamination, split by theorem."""
    steps, stats = clean(load_steps(cfg))
    if not steps:
        raise DataError("no usable proofsteps in the configured sources")
    if cfg.check_minif2f:
        check_contamination(steps, MiniF2FIndex.load(cfg.minif2f_path))
    return PreparedData(split=split_by_theorem(steps, cfg.validation_fraction, seed), stats=stats)


def most_frequent_tactics(steps: Iterable[ProofStep], k: int) -> list[str]:
    """The k most frequent (whitespace-collapsed) tactics; ties broken by first appearance."""
    counts = Counter(collapse_ws(s.tactic) for s in steps)
    return [t for t, _ in counts.most_common(k)]
