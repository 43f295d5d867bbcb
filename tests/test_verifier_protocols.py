"""What each verifier can check besides one whole proof, as the protocols callers ask with `isinstance`."""

from __future__ import annotations

from lean_env.backends.replay import ReplayVerifier
from lean_env.checks.dojo_verify import DojoVerifier
from lean_env.checks.validate import LadderVerifier
from lean_env.checks.verdict import FileVerifier, HoleVerifier, PartialVerifier, ProofVerifier
from lean_env.checks.verifier import ReplVerifier


def test_the_repl_verifier_compiles_files_and_replay_checks_holes() -> None:
    # Methods only, so the runtime-checkable protocols support issubclass: no verifier has to be started.
    assert issubclass(ReplVerifier, FileVerifier) and issubclass(LadderVerifier, FileVerifier)
    assert not issubclass(ReplVerifier, HoleVerifier) and not issubclass(ReplVerifier, PartialVerifier)
    assert issubclass(ReplayVerifier, HoleVerifier) and issubclass(ReplayVerifier, PartialVerifier)
    assert not issubclass(ReplayVerifier, FileVerifier)
    assert not any(issubclass(DojoVerifier, p) for p in (FileVerifier, HoleVerifier, PartialVerifier))


def test_an_extra_check_alone_is_no_verifier() -> None:
    class OnlyHoles:
        def verify_holes(self, theorem: object, skeleton: str, fills: object) -> None: ...

    assert not isinstance(OnlyHoles(), HoleVerifier) and not isinstance(OnlyHoles(), ProofVerifier)
