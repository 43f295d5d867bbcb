"""The project's declarations, dumped through the Lean REPL with the shipped `PremiseDump.lean`, and parsed.

One REPL command elaborates the project's imports and the dump's two commands (environment 0); then one
command per module (`#premise_dump M` in environment 0) answers that module's declarations as a single info
message, so no answer comes near the client's 64 MiB limit (`lean_env.backends.repl_process`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DUMP_SOURCE = Path(__file__).with_name("PremiseDump.lean")


class DumpError(RuntimeError):
    """The REPL's answer to a dump command is not a dump (a Lean error, or another shape): one line."""


@dataclass(frozen=True)
class Declaration:
    """One accessible declaration: full name, pretty-printed type, kind and module. Kind `source` marks a
    declaration read from the user's file rather than dumped: `type` then holds its statement as written."""

    name: str
    type: str
    kind: str
    module: str

    def code(self) -> str:
        """The declaration as the tactic generator and retriever read premises: `theorem NAME : TYPE`."""
        if self.kind == "source":
            return self.type
        keyword = "theorem" if self.kind == "theorem" else "def" if self.kind in ("def", "opaque") else self.kind
        return f"{keyword} {self.name} : {self.type}"


@dataclass(frozen=True)
class ModuleDump:
    """One module's direct imports and declarations."""

    module: str
    imports: tuple[str, ...]
    declarations: tuple[Declaration, ...]


def dump_commands(imports: Sequence[str]) -> tuple[str, str]:
    """The first REPL command (header: `import Lean` and `imports`, then the dump's commands) and the
    per-module command template (`{module}` filled in)."""
    body = DUMP_SOURCE.read_text(encoding="utf-8")
    header = "".join(f"import {m}\n" for m in ("Lean", *imports))
    return header + body, "#premise_dump {module}"


def _info_payloads(answer: Mapping[str, Any]) -> list[str]:
    if "message" in answer and "messages" not in answer:
        raise DumpError(f"the REPL refused the dump command: {str(answer['message']).splitlines()[0]}")
    messages = answer.get("messages") or []
    errors = [m for m in messages if m.get("severity") == "error"]
    if errors:
        first = str(errors[0].get("data", "")).splitlines() or [""]
        raise DumpError(f"the dump command failed in Lean: {first[0]}")
    return [str(m.get("data", "")) for m in messages if m.get("severity") == "info"]


def parse_module_answer(answer: Mapping[str, Any]) -> ModuleDump:
    """A `#premise_dump M` answer (the REPL's JSON object) as a ModuleDump."""
    payloads = _info_payloads(answer)
    if len(payloads) != 1:
        raise DumpError(f"expected one info message from #premise_dump, got {len(payloads)}")
    try:
        data = json.loads(payloads[0])
        module = str(data["module"])
        decls = tuple(
            Declaration(str(d["name"]), str(d["type"]), str(d.get("kind", "theorem")), module) for d in data["decls"]
        )
        return ModuleDump(module, tuple(str(i) for i in data["imports"]), decls)
    except (ValueError, KeyError, TypeError) as exc:
        raise DumpError(f"the #premise_dump message is not the dump's JSON: {exc}") from None


def parse_modules_answer(answer: Mapping[str, Any]) -> list[str]:
    """A `#premise_modules` answer: every imported module's name."""
    payloads = _info_payloads(answer)
    try:
        names = json.loads(payloads[-1]) if payloads else None
    except ValueError:
        names = None
    if not isinstance(names, list):
        raise DumpError("the #premise_modules message is not a JSON list of module names")
    return [str(n) for n in names]


def read_recorded_dump(path: Path) -> list[ModuleDump]:
    """A recorded dump: a JSON Lines file of the REPL's answers to `#premise_dump` commands."""
    dumps = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            answer = json.loads(line)
        except ValueError:
            raise DumpError(f"{path}:{number}: not a JSON answer") from None
        try:
            dumps.append(parse_module_answer(answer))
        except DumpError as exc:
            raise DumpError(f"{path}:{number}: {exc}") from None
    return dumps


def project_modules(project: Path) -> list[str]:
    """The project's own modules: its .lean files outside `.lake` and `lakefile.lean`, as module names."""
    names = []
    for path in sorted(project.rglob("*.lean")):
        rel = path.relative_to(project)
        if rel.parts[0].startswith(".") or rel.name == "lakefile.lean":
            continue
        names.append(".".join(rel.with_suffix("").parts))
    return names


def dump_with_repl(
    repl: Any, imports: Sequence[str], modules: Iterable[str] | None = None, timeout: float = 3600.0
) -> Iterator[ModuleDump]:
    """Dump `modules` (default: every imported module, `#premise_modules`) through `repl` (a `ReplProcess`-like
    object with `request(payload, timeout)`), one REPL command each, after one command that imports
    `imports` and defines the dump."""
    first, per_module = dump_commands(imports)
    answer = repl.request({"cmd": first}, timeout)
    _info_payloads(answer)  # raises on a failed header or dump source
    env = answer.get("env", 0)
    if modules is None:
        modules = parse_modules_answer(repl.request({"cmd": "#premise_modules", "env": env}, timeout))
    for module in modules:
        yield parse_module_answer(repl.request({"cmd": per_module.format(module=module), "env": env}, timeout))
