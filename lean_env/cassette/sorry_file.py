"""A .lean file stating a cassette's theorems with `sorry` proofs (`prover cassette build --lean-out`)."""

from __future__ import annotations

from dataclasses import dataclass

from lean_env.cassette.format import CassetteError
from lean_env.cassette.store import Cassette


@dataclass(frozen=True)
class SorryFile:
    """A .lean file of cassette theorems with `sorry` proofs: `source`, how many it states, and the theorems
    left out because the cassette cannot start them (no recorded initial state, or no statement)."""

    source: str
    stated: int
    left_out: tuple[str, ...]


def lean_source_with_sorry(cassette: Cassette, comment: str = "") -> SorryFile:
    """A .lean file stating every cassette theorem the replay backend can start, with `sorry` proofs.

    Only theorems with a statement and a recorded initial state are stated: `ReplayEnv.start` refuses the
    others ("no recorded initial state"), so `prover prove` on the file would fail them all. Raises
    CassetteError when no theorem qualifies or the stated theorems do not share one header.
    """
    theorems = [t for t in cassette.theorems.values() if t.statement and t.initial_state is not None]
    left_out = tuple(t.name for t in cassette.theorems.values() if not (t.statement and t.initial_state is not None))
    if not theorems:
        raise CassetteError(
            f"none of the cassette's {len(cassette.theorems)} theorems has a statement and a recorded initial "
            "state (the replay backend could not start them)"
        )
    headers = {t.header.strip() for t in theorems}
    if len(headers) != 1:
        raise CassetteError(
            f"the cassette's theorems do not share one header ({len(headers)} headers); cannot write them as one file"
        )
    parts = [headers.pop(), ""]
    if comment:
        parts += [f"/-! {comment} -/", ""]
    for thm in theorems:
        parts += [f"{thm.statement} := by", "  sorry", ""]
    return SorryFile("\n".join(parts), len(theorems), left_out)
