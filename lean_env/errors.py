"""Exceptions raised by lean_env. Each carries a one-line message fit for a CLI error."""

from __future__ import annotations

SETUP_HINT = "prover setup --lean-project DIR"


class LeanEnvError(Exception):
    """Base class for everything lean_env raises."""


class LeanNotFoundError(LeanEnvError):
    """No usable Lean toolchain, Lean project or REPL binary."""

    def __init__(self, what: str, fix: str = SETUP_HINT) -> None:
        super().__init__(f"{what}; to set it up run: {fix}")
        self.fix = fix


class LeanStartError(LeanEnvError):
    """The Lean process or the header (imports) failed to start."""


class BackendUnavailableError(LeanStartError):
    """The backend cannot work at all (its library fails to import, its Lean rejects how it is started).

    Not a property of any theorem: searches re-raise it instead of recording a failed start, and the CLI
    stops with this one line (exit 2). Raised by lean_env.backends.dojo.
    """


class TheoremStartError(LeanEnvError):
    """A theorem could not be started (its statement does not elaborate, unknown name, ...)."""


class RepositoryUnavailableError(TheoremStartError):
    """The repository holding the theorem cannot be opened (LeanDojo's `LeanGitRepo`: bad URL, no network).

    Every theorem of that repository fails the same way: `prover prove` (one file, one repository) stops
    at the first one instead of reporting one failed start per theorem; a sweep records it per problem.
    """


class LeanCrashError(LeanEnvError):
    """The Lean process died and could not be brought back."""


class LeanTimeoutError(LeanEnvError):
    """A request other than a tactic (a command, a header) ran past its limit."""


class ProtocolError(LeanEnvError):
    """Lean (or something pretending to be it) answered with output we cannot parse."""


class LeanParseError(LeanEnvError):
    """A .lean file could not be parsed. `line` and `column` are 1-based."""

    def __init__(self, path: str, line: int, column: int, reason: str) -> None:
        super().__init__(f"{path}:{line}:{column}: {reason}")
        self.path = path
        self.line = line
        self.column = column
        self.reason = reason


class SetupError(Exception):
    """A set-up step failed or cannot start; the message is one line naming the step."""

    def __init__(self, message: str, step: str | None = None, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.exit_code = exit_code
