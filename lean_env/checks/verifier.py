"""The verifier process policy: `ReplVerifier`, the soundness gate's Lean side.

A proof is "proved" only when Lean compiles it from scratch and it passes here. `ReplVerifier` shares nothing
with the search (it has its own REPL process). It rebuilds the theorem's source (original header and statement +
the proof, `lean_env.checks.static.prepare_check`) and appends a `#print axioms` line; the header's imports are
elaborated once per verifier process (and import set) and every check is compiled as one command on that
imports-only environment, so nothing the search or an earlier check elaborated can leak in. The answer is judged
by `lean_env.checks.judge.judge_compile`. `VerifierPolicy` says when the process is replaced (after a number of
checks, or above a memory threshold).

`verify_file` does the same for a rewritten file in one compilation, judging each named theorem by the
messages inside its own span and its own appended `#print axioms` line.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lean_env.backends.repl import ReplEnv, ReplSettings
from lean_env.checks.judge import CHECKER, judge_compile, judged_name, message_line, response_messages
from lean_env.checks.static import (
    header_problem,
    normalize_space,
    plain_module_source,
    prelude_problem,
    prepare_check,
    static_check,
)
from lean_env.checks.verdict import Rejected, Verdict
from lean_env.errors import LeanCrashError, LeanEnvError, LeanParseError, LeanTimeoutError, ProtocolError
from lean_env.source.lexer import LexError, TokenKind, tokenize
from lean_env.types import ClosingContext, Theorem, indent_block

if TYPE_CHECKING:
    from lean_env.source.document import LeanFile, TheoremDecl

log = logging.getLogger(__name__)

# -- the verifier ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifierPolicy:
    """How the verifier's own REPL process is shared between checks and when it is replaced.

    `share_imports`: elaborate a header's imports once per process and distinct import set, and compile
    each check (rest of the header + theorem + `#print axioms`) on top of that environment; False sends
    every check as one fresh command, imports included (the old way, kept for comparison).
    `max_checks`: start a fresh process after this many checks (None: never). `restart_growth_mb`: start a
    fresh one when the process tree's resident memory, measured after a check, has grown this much above what
    it was right after the process's first import (None: never); the import alone is most of it (a Mathlib
    import is 6-8 GB), so a fixed threshold near it would re-import after nearly every check.
    `restart_memory_mb`: an absolute ceiling as well (None: none). The REPL never frees an environment, so
    without these a long run grows without bound.
    `command_extensions`: let a header (and the package modules it imports) hold command macros, elaborators and
    meta code (`header_problem` is skipped). Only for `--strict` with comparator, which reads the axioms from the
    compiled environment itself, so a forged `#print axioms` answer cannot make it accept
    (`prover.backends.make_verifier` sets it then and never otherwise).
    """

    share_imports: bool = True
    # Ask the REPL for each check's info tree (`"original"`: the tactics as written, with the goals before and
    # after each), kept on a rejection (`Rejected.infotree`) for a correction turn that shows the goal at the error.
    infotree: str | None = None
    max_checks: int | None = 100
    restart_memory_mb: int | None = None
    restart_growth_mb: int | None = 4096
    command_extensions: bool = False


class ReplVerifier(ClosingContext):
    """A `ProofVerifier` that compiles each proof in its own Lean REPL process (never the search's).

    Each check starts from the environment of the header's imports alone (`import Mathlib`), elaborated
    once per process and per distinct import set; the rest of the header, the theorem and its
    `#print axioms` line are compiled on top of it as one command with that `env`. REPL environments are
    immutable values (a command on `env` n makes a new one and leaves n as it was: repl `Command.env`,
    `REPL/JSON.lean` at leanprover-community/repl@8948401a), so nothing an earlier check elaborated is
    visible to the next, and nothing the search elaborated ever is (other process). Line numbers are kept:
    the imports' lines are sent as empty lines, so the judge reads positions exactly as in the whole source.
    """

    checker = CHECKER

    def __init__(
        self,
        settings: ReplSettings | None = None,
        *,
        env: ReplEnv | None = None,
        timeout_s: float | None = None,
        allow_native_decide: bool | None = None,
        policy: VerifierPolicy | None = None,
    ) -> None:
        if env is None and settings is None:
            raise ValueError("ReplVerifier needs ReplSettings or a ReplEnv of its own")
        self._env = env if env is not None else ReplEnv(settings)  # type: ignore[arg-type]
        self._owns_env = env is None
        self.settings = self._env.settings
        self.timeout_s = timeout_s if timeout_s is not None else self.settings.command_timeout_s
        self.allow_native_decide = (
            self.settings.allow_native_decide if allow_native_decide is None else allow_native_decide
        )
        self.policy = policy if policy is not None else VerifierPolicy()
        # The user's Lake package, whose own modules a header may import (`header_problem`); None for a stand-in.
        project = self.settings.project_dir
        self._project: Path | None = (
            project if any((project / f).is_file() for f in ("lakefile.lean", "lakefile.toml")) else None
        )
        # Only a real ReplEnv can hold environments between requests; a stand-in that just answers
        # `run_command` (tests of the judgment) gets every source whole, as one fresh command.
        self._shares = self.policy.share_imports and isinstance(self._env, ReplEnv)
        self._imports_envs: dict[str, tuple[int, int]] = {}  # imports text -> (process generation, env id)
        self._checks_in_process = 0
        self._baseline_mb: tuple[int, float] | None = None  # (process generation, resident MB after its first import)
        self.checks = 0
        self.imports_elaborated = 0  # import commands sent (one per process and import set when shared)
        self.recycles = 0  # planned process replacements (max_checks / restart_memory_mb)

    def verify(self, theorem: Theorem, proof: str, helpers: str = "") -> Verdict:
        """Verify `proof` of `theorem`; `helpers`: helper lemmas placed before it (`helper_declarations_problem`)."""
        source = prepare_check(theorem, proof, self.allow_native_decide, helpers)
        if isinstance(source, Rejected):
            return source
        problem = (
            None if self.policy.command_extensions else header_problem(f"{theorem.header}\n{helpers}", self._project)
        )
        if problem is not None:
            return Rejected(problem, CHECKER)
        response = self._check(source.text)
        if isinstance(response, Rejected):
            return response
        verdict = judge_compile(
            response,
            name=source.name,
            span=source.span,
            print_line=source.print_line,
            allow_native_decide=self.allow_native_decide,
        )
        if not isinstance(verdict, Rejected):
            return verdict
        tree = response.get("infotree") if self.policy.infotree is not None else None
        return dataclasses.replace(verdict, source=source.text, infotree=tuple(tree) if isinstance(tree, list) else ())

    def verify_file(self, original_source: str, new_source: str, names: Sequence[str]) -> dict[str, Verdict]:
        """Compile `new_source` once and judge each named theorem (`names` as `lean_env.source.declarations` names them)."""
        from lean_env.source.declarations import parse_lean_source
        from lean_env.source.document import pair_theorems

        try:
            old = parse_lean_source(original_source, "<original>")
            new = parse_lean_source(new_source, "<rewritten>")
        except LeanParseError as exc:
            return dict.fromkeys(names, Rejected(f"the file does not parse: {exc}", CHECKER))
        if (problem := self._rewritten_file_problem(new_source)) is not None:
            return dict.fromkeys(names, Rejected(problem, CHECKER))
        verdicts: dict[str, Verdict] = {}
        targets: dict[str, tuple[TheoremDecl, TheoremDecl]] = {}
        paired = pair_theorems(old, new)
        for name in names:
            target = self._file_target(old, paired, name)
            if isinstance(target, Rejected):
                verdicts[name] = target
            else:
                targets[name] = target
        if not targets:
            return verdicts
        if _outside_proofs(original_source, [d for d, _ in targets.values()]) != _outside_proofs(
            new_source, [d for _, d in targets.values()]
        ):
            reason = "the rewritten file differs from the original outside the rewritten proofs"
            return {**verdicts, **dict.fromkeys(targets, Rejected(reason, CHECKER))}
        verdicts.update(self._judge_file(new_source, new, {name: decl for name, (_, decl) in targets.items()}))
        return {name: verdicts[name] for name in names}

    def _rewritten_file_problem(self, new_source: str) -> str | None:
        """Why no theorem of the rewritten file can be judged (a `prelude`, or a header that may forge the
        appended `#print axioms` lines), or None."""
        if (prelude := prelude_problem(new_source)) is not None:
            return prelude
        # The rewritten file's text outside the judged proofs is its header for every judged theorem.
        return None if self.policy.command_extensions else header_problem(new_source, self._project)

    def _file_target(
        self, old: LeanFile, paired: Mapping[str, TheoremDecl], name: str
    ) -> tuple[TheoremDecl, TheoremDecl] | Rejected:
        """The original and rewritten declarations of the theorem `name`, or why it is refused before Lean."""
        try:
            old_decl = old.get(name)
        except KeyError as exc:
            return Rejected(str(exc.args[0]), CHECKER)
        new_decl = paired.get(old_decl.name)
        if new_decl is None:
            return Rejected("the rewritten file no longer has the same theorems", CHECKER)
        if normalize_space(old_decl.statement) != normalize_space(new_decl.statement):
            return Rejected("the statement in the rewritten file differs from the original", CHECKER)
        body = new_decl.proof.strip()
        body = body[2:] if body.startswith("by") and not body[2:3].isalnum() else body
        problem = static_check(
            new_decl.to_theorem(), indent_block(body.strip("\n"), 0) or body, self.allow_native_decide
        )
        if problem is None and new_decl.suffix.strip():
            problem = "text follows the proof outside its `by` block"
        if problem is not None:
            return Rejected(problem, CHECKER)
        return old_decl, new_decl

    def _judge_file(self, new_source: str, new: LeanFile, targets: Mapping[str, TheoremDecl]) -> dict[str, Verdict]:
        """Compile `new_source` once with one `#print axioms` line per target appended, and judge each target
        (name -> its rewritten declaration) by the messages inside its own span and on its own line."""
        # A module file is compiled as a plain file (same lines): `#print axioms` is refused in a module.
        text = plain_module_source(_name_examples(new_source, list(targets.values())))
        text = text if text.endswith("\n") else text + "\n"
        first_print = text.count("\n") + 1
        print_lines = {}
        for i, (name, decl) in enumerate(targets.items()):
            print_lines[name] = first_print + i
            text += f"#print axioms {judged_name(decl).print_argument}\n"
        response = self._check(text)  # on the imports' environment, like every check
        if isinstance(response, Rejected):
            return dict.fromkeys(targets, response)
        spans = [(d.span.start_line, d.span.end_line) for d in new.declarations]
        verdicts: dict[str, Verdict] = {}
        for name, decl in targets.items():
            # The whole declaration, its `where`/`termination_by`/`decreasing_by` part included: Lean reports its
            # `sorry`s and errors as the declaration's own.
            span = (decl.decl_span.start_line, decl.decl_span.end_line)
            verdicts[name] = judge_compile(
                response,
                name=judged_name(decl),
                span=span,
                print_line=print_lines[name],
                allow_native_decide=self.allow_native_decide,
                errors_anywhere=False,
                outside_ok=[s for s in spans if s != span],
                next_start=_next_start(new_source, decl.decl_span.end),
            )
        return verdicts

    def _check(self, text: str) -> dict[str, Any] | Rejected:
        """Compile one check source (header + theorem + `#print axioms`) and count it for the restart policy."""
        from lean_env.backends.repl import split_header

        imports, rest = split_header(text)
        try:
            if not self._shares or not imports.strip():
                self.imports_elaborated += 1 if imports.strip() else 0
                return self._compile(text)
            # The imports' lines become empty lines: positions in the answer are those of the whole source.
            return self._compile_on_imports(imports, "\n" * imports.count("\n") + rest)
        finally:
            self.checks += 1
            self._checks_in_process += 1
            self._maybe_recycle()

    def _compile_on_imports(self, imports: str, body: str) -> dict[str, Any] | Rejected:
        # One retry after a crash, protocol failure or a forgotten env: a fresh process re-imports.
        for attempt in (1, 2):
            env_id = self._imports_env(imports)
            if isinstance(env_id, Rejected):
                return env_id
            try:
                response = self._env.run_command(body, env=env_id, timeout=self.timeout_s, **self._tree())
            except LeanTimeoutError:
                return Rejected(f"Lean did not finish checking the proof within {self.timeout_s:g} s", CHECKER)
            except (LeanCrashError, ProtocolError) as exc:
                if attempt == 2:
                    return Rejected(f"Lean failed while checking the proof: {exc}", CHECKER)
                continue
            except LeanEnvError as exc:
                return Rejected(f"Lean failed while checking the proof: {exc}", CHECKER)
            if "env" not in response and "environment" in str(response.get("message", "")).lower():
                # `{"message": "Unknown environment."}`: the process is not the one that made env_id.
                self._imports_envs.pop(imports, None)
                if attempt == 1:
                    continue
            return response
        raise AssertionError("unreachable")

    def _imports_env(self, imports: str) -> int | Rejected:
        """The env id of `imports` elaborated alone in the current process (elaborated now if needed)."""
        generation = self._env.generation
        cached = self._imports_envs.get(imports)
        if cached is not None and cached[0] == generation and self._env.process_id is not None:
            return cached[1]
        try:
            response = self._env.run_command(imports, env=None, timeout=self.settings.start_timeout_s)
        except LeanTimeoutError:
            return Rejected(
                f"Lean did not finish elaborating the header's imports within {self.settings.start_timeout_s:g} s",
                CHECKER,
            )
        except LeanEnvError as exc:
            return Rejected(f"Lean failed while elaborating the header's imports: {exc}", CHECKER)
        self.imports_elaborated += 1
        errors = [m for m in response_messages(response) if m.get("severity") == "error"]
        if "message" in response and "env" not in response:
            return Rejected(f"the REPL refused the header's imports: {response['message']}", CHECKER)
        if errors:
            first = errors[0]
            return Rejected(
                f"Lean error in the header's imports at line {message_line(first)}: {str(first.get('data', '')).strip()}",
                CHECKER,
            )
        env_id = response.get("env")
        if not isinstance(env_id, int):
            return Rejected(f"the REPL answered the header's imports without an env id: {response!r:.200}", CHECKER)
        self._imports_envs[imports] = (self._env.generation, env_id)
        self._note_baseline()
        return env_id

    def _note_baseline(self) -> None:
        """Measure the process's resident memory right after its first import (the restart threshold's base)."""
        pid = self._env.process_id if isinstance(self._env, ReplEnv) else None
        if pid is None or self.policy.restart_growth_mb is None:
            return
        if self._baseline_mb is None or self._baseline_mb[0] != self._env.generation:
            from lean_env.backends.repl_process import tree_rss_mb

            self._baseline_mb = (self._env.generation, tree_rss_mb(pid))

    def _maybe_recycle(self) -> None:
        """Replace the process after `policy.max_checks` checks or above `policy.restart_memory_mb`."""
        if not isinstance(self._env, ReplEnv):
            return
        policy = self.policy
        why = None
        if policy.max_checks is not None and self._checks_in_process >= policy.max_checks:
            why = f"{self._checks_in_process} checks"
        elif (pid := self._env.process_id) is not None:
            from lean_env.backends.repl_process import tree_rss_mb

            if not self._shares:
                self._note_baseline()  # each check imports: the first one in the process is the baseline
            limits: list[tuple[float, str]] = []
            if policy.restart_memory_mb is not None:
                limits.append((policy.restart_memory_mb, ""))
            baseline = self._baseline_mb
            if policy.restart_growth_mb is not None and baseline is not None and baseline[0] == self._env.generation:
                limits.append((baseline[1] + policy.restart_growth_mb, f" ({baseline[1]:.0f} MB after the import)"))
            if limits:
                used = tree_rss_mb(pid)
                over = [(limit, how) for limit, how in limits if used > limit]
                if over:
                    why = f"{used:.0f} MB resident > {over[0][0]:.0f} MB{over[0][1]}"
        if why is not None:
            log.info("verifier: starting a fresh Lean REPL after %s", why)
            self._env.recycle()
            self._imports_envs.clear()
            self._checks_in_process = 0
            self.recycles += 1

    def _tree(self) -> dict[str, str]:
        """The request's `infotree` option where the policy asks for one (a stand-in backend never sees it else)."""
        return {} if self.policy.infotree is None else {"infotree": self.policy.infotree}

    def _compile(self, text: str) -> dict[str, Any] | Rejected:
        # One retry on a crash or protocol failure: a long-lived REPL that piled up environments can die
        # (or hit the memory limit) on an innocent proof; a fresh process decides. Timeouts are final.
        for attempt in (1, 2):
            try:
                return self._env.run_command(text, env=None, timeout=self.timeout_s, **self._tree())
            except LeanTimeoutError:
                return Rejected(f"Lean did not finish checking the proof within {self.timeout_s:g} s", CHECKER)
            except (LeanCrashError, ProtocolError) as exc:
                if attempt == 2:
                    return Rejected(f"Lean failed while checking the proof: {exc}", CHECKER)
            except LeanEnvError as exc:
                return Rejected(f"Lean failed while checking the proof: {exc}", CHECKER)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._owns_env:
            self._env.close()


def _next_start(source: str, offset: int) -> tuple[int, int] | None:
    """(line, 0-based column, as the REPL reports positions) of the first token at or after `offset`, or None."""
    try:
        # Comments are whitespace to Lean, doc comments are tokens (`/--` starts a docComment).
        tokens = [t for t in tokenize(source[offset:], keep_comments=True) if t.kind is not TokenKind.COMMENT]
    except LexError:
        return None
    if not tokens:
        return None
    start = offset + tokens[0].start
    line = source.count("\n", 0, start) + 1
    return line, start - (source.rfind("\n", 0, start) + 1)


def _outside_proofs(source: str, decls: Sequence[Any]) -> str:
    """The source with the given declarations' proofs cut out: what must not change."""
    cuts = sorted(((d.proof_span.start, d.proof_span.end) for d in decls if d.proof_span is not None), reverse=True)
    for start, end in cuts:
        source = source[:start] + "\0" + source[end:]
    return source.rstrip()


def _name_examples(source: str, decls: Sequence[Any]) -> str:
    """Rename each targeted `example` to `theorem <its parse name>` (same line) so it can be printed."""
    edits = []
    for d in decls:
        if d.kind != "example":
            continue
        region = source[d.statement_span.start : d.statement_span.end]
        m = re.search(r"\bexample\b", region)
        if m:
            edits.append((d.statement_span.start + m.start(), d.statement_span.start + m.end(), d.name))
    for start, end, name in sorted(edits, reverse=True):
        source = f"{source[:start]}theorem {name.rsplit('.', 1)[-1]}{source[end:]}"
    return source
