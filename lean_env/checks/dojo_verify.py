"""Verify a LeanDojo theorem's proof where it lives: in its traced repository, at its commit.

A LeanDojo Benchmark row names a theorem (`url`, `commit`, `file_path`, `full_name`) and has no statement,
so the configured Mathlib project cannot check it: the statement, the imports and everything before the
theorem are those of the traced file. `DojoVerifier` does what lean-dojo 4.20.0's own whole-file check
does (`lean_dojo.check_proof`, src/lean_dojo/interaction/dojo.py: the traced file with the proof put in
place, written next to it, compiled with `lake env lean` in the traced repository), with this project's
checks on top, so a dojo proof meets the same bar as any other:

- the proof passes `lean_env.checks.static.static_check` (the tactic filter: no `sorry`, no commands, ...);
- the statement is read from the traced file (`lean_env.source.declarations`), never from the search, and the checked
  source is that file's text before the theorem, the theorem with the proof, and `#print axioms`
  (`lean_env.checks.static.build_check_source`; the rest of the file is left out, as it cannot change the verdict);
- Lean's output is judged like the REPL verifier's answer (`lean_env.checks.judge.judge_compile`): any error
  rejects, a `declaration uses 'sorry'` warning rejects, and the axioms must be the standard ones, listed by
  `#print axioms _root_.<full name>` for exactly the traced theorem's full name (`JudgedName`: a constant of the
  traced file that the open namespaces resolve first cannot answer for it).

Like lean-dojo (`set_option maxHeartbeats 0 in` before the theorem in both `Dojo` and `check_proof`), the
theorem is compiled with no heartbeat limit; the proof itself may not set options (the tactic filter).

check_proof itself only looks for the sorry warning and the exit code; it does not audit axioms. It
also passes `--memory`, which some toolchains refuse (lean4#9879); this check does not.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lean_env.backends import processes
from lean_env.checks.verdict import ProofVerifier, Rejected, Verdict, Verified
from lean_env.types import ClosingContext, DojoSource, Theorem

NO_HEARTBEAT_LIMIT = "set_option maxHeartbeats 0 in"
CHECKER = "lean"  # `lake env lean` on a file; it audits axioms (lean_env.checks.verdict.AXIOM_AUDITING_CHECKERS)

# A positioned message as `lean FILE` prints it: src/Lean/Message.lean `SerialMessage.toString` writes
# `mkErrorStringWithPos fileName pos "error: "` (newer releases: `error(<name>): `) for errors and warnings,
# and information messages (`#print axioms`) bare, with no position.
_POSITIONED = re.compile(r"^(?P<file>[^\n]*?):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning)(?:\([^)\n]*\))?: ")
_AXIOMS_START = re.compile(r"^'.+' (?:depends on axioms: \[|does not depend on any axioms)")


def traced_repo_path(source: DojoSource) -> Path:
    """The traced repository of `source` in LeanDojo's cache: the folder `Dojo` itself runs Lean in."""
    from lean_dojo.interaction import dojo as dojo_module

    from lean_env.backends.dojo import lean_git_repo

    path: Path = dojo_module.get_traced_repo_path(lean_git_repo(source.url, source.commit))
    return path


def messages_from_lean_output(text: str, print_line: int) -> list[dict[str, Any]]:
    """`lean FILE`'s output as REPL-style messages (`severity`, `pos.line`, `data`).

    Positioned messages run until the next positioned message or an axioms line. Bare `#print axioms`
    answers (one per line, a long list wrapping until `]`) are information messages at `print_line`.
    """
    messages: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for line in text.splitlines():
        m = _POSITIONED.match(line)
        if m is not None:
            # `lean FILE` prints `file:line:col:` with Lean's 0-based column and no end position (`endPos` null).
            pos = {"line": int(m["line"]), "column": int(m["col"])}
            current = {"severity": m["sev"], "pos": pos, "endPos": None, "data": line[m.end() :]}
            messages.append(current)
        elif _AXIOMS_START.match(line):
            current = {"severity": "info", "pos": {"line": print_line}, "data": line}
            messages.append(current)
        elif current is not None:
            if current["severity"] == "info" and current["data"].rstrip().endswith("]"):
                current = None  # the listing is complete; anything after it is not part of it
                continue
            current["data"] += "\n" + line
    return messages


class DojoVerifier(ClosingContext):
    """A `ProofVerifier` for theorems with a `Theorem.dojo` source: whole-file check in the traced repository.

    `traced_root` finds a source's traced repository (default: LeanDojo's cache, `traced_repo_path`).
    `fallback` checks theorems without a dojo source (else they are rejected). `timeout_s` bounds one
    `lake env lean` run. Raises nothing for a bad proof (a `Rejected`); a missing trace raises (the
    verifier failed, which a job records as such, never as a proof).
    """

    checker = CHECKER

    def __init__(
        self,
        *,
        timeout_s: float = 600.0,
        allow_native_decide: bool = False,
        traced_root: Callable[[DojoSource], Path] = traced_repo_path,
        fallback: ProofVerifier | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.allow_native_decide = allow_native_decide
        self._traced_root = traced_root
        self._fallback = fallback

    def verify(self, theorem: Theorem, proof: str) -> Verdict:
        from lean_env.checks.judge import judge_compile
        from lean_env.checks.static import prepare_check
        from lean_env.errors import LeanParseError
        from lean_env.source.declarations import parse_lean_source
        from lean_env.source.lexer import LexError

        source = theorem.dojo
        if source is None:
            if self._fallback is not None:
                return self._fallback.verify(theorem, proof)
            return Rejected(f"{theorem.name} has no LeanDojo source to check it in", CHECKER)
        root = self._traced_root(source)
        path = root / source.file_path
        text = path.read_text(encoding="utf-8")
        try:
            decl = parse_lean_source(text, str(path)).get(source.full_name)
        except (LeanParseError, LexError, KeyError) as exc:
            return Rejected(f"cannot find {source.full_name} in the traced {source.file_path}: {exc}", CHECKER)
        as_traced = decl.to_theorem()  # the statement and header (all text before it) from the traced file
        # lean-dojo 4.20.0 runs the theorem under `set_option maxHeartbeats 0 in` (dojo.py `Dojo._get_modified_proof`
        # and `check_proof`): a proof its search found with no heartbeat limit is checked with none.
        as_traced = dataclasses.replace(as_traced, statement=f"{NO_HEARTBEAT_LIMIT}\n{as_traced.statement}")
        check = prepare_check(as_traced, proof, self.allow_native_decide)
        if isinstance(check, Rejected):
            return Rejected(check.reason, CHECKER)
        output, code = self._compile(root, path, check.text)
        if output is None:
            return Rejected(f"`lake env lean` ran past {self.timeout_s:.0f} s", CHECKER)
        messages = messages_from_lean_output(output, check.print_line)
        verdict = judge_compile(
            {"messages": messages, "env": 0},
            name=check.name,
            span=check.span,
            print_line=check.print_line,
            allow_native_decide=self.allow_native_decide,
        )
        if isinstance(verdict, Verified) and code != 0:
            return Rejected(f"`lake env lean` exited {code}: {' '.join(output.split())[:300]}", CHECKER)
        if isinstance(verdict, Rejected):  # the messages' positions are those of the text compiled
            return dataclasses.replace(verdict, checker=CHECKER, source=check.text)
        return dataclasses.replace(verdict, checker=CHECKER)

    def _compile(self, root: Path, traced_file: Path, text: str) -> tuple[str | None, int]:
        """Compile `text` as a sibling of `traced_file` (its imports resolve the same way); (output, exit code)."""
        fd, name = tempfile.mkstemp(prefix=traced_file.stem + "_check_", suffix=".lean", dir=traced_file.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            rel = Path(name).relative_to(root)
            try:
                # `lake env lean` runs `lean` as lake's child: a timeout kills the group, not just `lake`.
                done = processes.run(
                    ["lake", "env", "lean", "--threads=1", str(rel)], timeout_s=self.timeout_s, cwd=root
                )
            except subprocess.TimeoutExpired:
                return None, -1
            return done.stdout + done.stderr, done.returncode
        finally:
            with contextlib.suppress(OSError):
                os.unlink(name)

    def close(self) -> None:
        if self._fallback is not None and hasattr(self._fallback, "close"):
            self._fallback.close()
