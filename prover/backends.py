"""Build a Lean backend and its verifier from the user's `[lean]` config."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from lean_env.checks.verdict import ProofVerifier
from lean_env.types import Env
from prover.config import LeanConfig

if TYPE_CHECKING:
    from lean_env.cassette.store import Cassette


def repl_settings(cfg: LeanConfig, tactic_timeout_s: float = 5.0):  # type: ignore[no-untyped-def]
    from lean_env.backends.repl import ReplSettings

    return ReplSettings(
        project=cfg.project,
        repl_binary=cfg.repl_binary,
        memory_limit_mb=cfg.memory_limit_mb,
        start_timeout_s=cfg.start_timeout_s,
        command_timeout_s=cfg.command_timeout_s,
        tactic_timeout_s=tactic_timeout_s,
        allow_native_decide=cfg.allow_native_decide,
    )


def _cassette_path(cfg: LeanConfig) -> Path:
    if not cfg.cassette:
        raise ValueError("the replay backend needs a cassette: pass --cassette PATH (or set lean.cassette)")
    path = Path(cfg.cassette).expanduser()
    if not path.is_file():
        raise ValueError(f"cassette not found: {path}")
    return path


def _cassette(cfg: LeanConfig) -> Cassette:
    """The configured cassette, read once for the backend and its verifier (both only look records up)."""
    path = _cassette_path(cfg).resolve()
    stat = path.stat()
    return _load_cassette(path, stat.st_mtime_ns, stat.st_size)


# Keyed by the file's modification time and size as well, so a cassette rewritten on disk is read again.
@functools.lru_cache(maxsize=2)
def _load_cassette(path: Path, mtime_ns: int, size: int) -> Cassette:
    from lean_env.cassette.store import Cassette

    return Cassette.load(path)


def make_env(cfg: LeanConfig) -> Env:
    """The configured backend. Raises LeanNotFoundError (with the fix command) when Lean is missing."""
    if cfg.backend == "replay":
        from lean_env.backends.replay import ReplayEnv

        return ReplayEnv(_cassette(cfg), allow_native_decide=cfg.allow_native_decide)
    if cfg.backend == "dojo":
        from lean_env.backends.dojo import DojoEnv

        return DojoEnv(timeout=cfg.command_timeout_s, allow_native_decide=cfg.allow_native_decide)
    from lean_env.backends.repl import ReplEnv, ReplPool

    settings = repl_settings(cfg)
    settings.resolve_argv()  # fail now, with the set-up command, rather than at the first theorem
    if cfg.pool_size > 1:
        return ReplPool(settings, cfg.pool_size)
    return ReplEnv(settings)


def make_verifier(cfg: LeanConfig, infotree: str | None = None) -> ProofVerifier:
    """An independent checker: replay re-runs the proof through the cassette; otherwise a fresh Lean REPL.
    `infotree`: the REPL verifier asks for each compile's info tree of that kind (kept on a rejection).

    With `cfg.strict` every proof the REPL verifier accepts is also kernel-replayed (`lean_env.checks.validate`);
    `ValidatorError` (one line, with the install command) when no tool is installed or the backend is replay.
    """
    if cfg.strict and cfg.backend == "dojo":  # the tools re-check a module of the Lean project, not a traced repo
        from lean_env.checks.validate import ValidatorError

        raise ValidatorError(
            "--strict is not available with the dojo backend (proofs are checked in traced repositories)"
        )
    tool = None
    if cfg.strict:
        from lean_env.checks.validate import check_strict

        tool, _ = check_strict(cfg.backend, cfg.validator, Path(cfg.project).expanduser())  # fail before starting Lean
    if cfg.backend == "replay":
        from lean_env.backends.replay import ReplayVerifier

        return ReplayVerifier(_cassette(cfg), allow_native_decide=cfg.allow_native_decide)
    if cfg.backend == "dojo":
        # A dojo theorem is checked where it lives: its traced repository at its commit.
        from lean_env.checks.dojo_verify import DojoVerifier

        return DojoVerifier(timeout_s=cfg.command_timeout_s, allow_native_decide=cfg.allow_native_decide)
    from lean_env.checks.verifier import ReplVerifier, VerifierPolicy

    settings = repl_settings(cfg)
    settings.resolve_argv()
    # Headers with command macros or meta code are checked only by comparator, which reads the axioms from the
    # compiled environment instead of the verifier's `#print axioms` line (lean_env.checks.static.header_problem).
    policy = VerifierPolicy(
        max_checks=cfg.verifier_max_checks,
        restart_memory_mb=cfg.verifier_restart_mb,
        restart_growth_mb=cfg.verifier_restart_growth_mb,
        command_extensions=tool == "comparator",
        infotree=infotree,
    )
    verifier = ReplVerifier(settings, policy=policy)
    if cfg.strict:
        from lean_env.checks.validate import strict_verifier

        return strict_verifier(verifier, Path(cfg.project).expanduser(), tool)
    return verifier
