"""The verifier's answer: the only way a proof becomes "proved"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from lean_env.messages import LeanMessage
from lean_env.types import Theorem

# The validation ladder, lowest rung first (README, Soundness): Lean compiled the proof with no error and
# no sorry warning; its `#print axioms` listing held only allowed axioms; an external tool
# (`lean4checker`, `comparator`) replayed the compiled declarations through the kernel.
RUNG_COMPILED = "compiled"
RUNG_AXIOMS = "axioms audited"
RUNG_KERNEL = "kernel replayed"
RUNG_REPLAYED = "replayed recording"  # the replay backend: recorded real-Lean steps, not a rung of a real run
RUNGS = (RUNG_COMPILED, RUNG_AXIOMS, RUNG_KERNEL)
# Checkers that audit the axiom listing of what they compile (`lean_env.checks.judge.judge_compile`).
AXIOM_AUDITING_CHECKERS = frozenset({"lean-repl", "lean"})


@dataclass(frozen=True)
class Verified:
    """The whole proof was checked independently of the search.

    `checker` names what checked it: "lean-repl", "lean" (lake env lean) or "replay"
    (recorded real-Lean results; never a substitute for Lean in a real run). `kernel` names the tool
    that kernel-replayed it (`lean4checker`, `comparator`; `lean_env.checks.validate`), empty when none did.
    """

    checker: str
    axioms: tuple[str, ...] = ()
    kernel: str = ""

    @property
    def rung(self) -> str:
        """The highest rung of the validation ladder this proof reached (`RUNGS`, or `RUNG_REPLAYED`)."""
        if self.kernel:
            return RUNG_KERNEL
        if self.checker in AXIOM_AUDITING_CHECKERS:
            return RUNG_AXIOMS
        return RUNG_REPLAYED if self.checker == "replay" else RUNG_COMPILED


@dataclass(frozen=True)
class Rejected:
    """The proof was not accepted: `reason` in one line; `messages`, Lean's messages of the compile that
    rejected it where the checker has them (empty otherwise). A message never turns a rejection into a proof."""

    reason: str
    checker: str = ""
    messages: tuple[LeanMessage, ...] = ()
    # The text Lean compiled, to which the messages' positions refer ("" when nothing was compiled).
    source: str = ""
    # The REPL's info tree of that compile (JSON nodes), where the verifier asked for one (`VerifierPolicy.infotree`).
    infotree: tuple[Any, ...] = ()


Verdict = Verified | Rejected


@runtime_checkable
class ProofVerifier(Protocol):
    """Checks a complete proof of `theorem` from scratch, sharing nothing with the search."""

    def verify(self, theorem: Theorem, proof: str) -> Verdict: ...


# What a verifier can check besides one whole proof. Callers ask with `isinstance` (the protocols are
# runtime-checkable: the method's presence is what is checked) and fall back to what the verifier lacks.


@runtime_checkable
class FileVerifier(ProofVerifier, Protocol):
    """Compiles a whole rewritten file: the REPL verifier (and the kernel ladder around it)."""

    def verify_file(self, original_source: str, new_source: str, names: Sequence[str]) -> dict[str, Verdict]:
        """A verdict for each of `names` as it stands in `new_source`, judged against `original_source`."""
        ...


@runtime_checkable
class HoleVerifier(ProofVerifier, Protocol):
    """Checks a proof skeleton with every `sorry` filled, hole by hole: the replay verifier, which cannot compile."""

    def verify_holes(self, theorem: Theorem, skeleton: str, fills: Mapping[int, str]) -> Verdict:
        """`skeleton` with `sorry` number i replaced by `fills[i]`, for every hole."""
        ...


@runtime_checkable
class PartialVerifier(ProofVerifier, Protocol):
    """Checks a skeleton with only some holes filled: whether it compiles with just the others left."""

    def verify_partial(self, theorem: Theorem, skeleton: str, fills: Mapping[int, str]) -> str | None:
        """Why `skeleton` with only `fills` filled would not compile with just its other holes left, or None."""
        ...
