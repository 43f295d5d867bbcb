import Mathlib

/-! A proof skeleton with two holes: `prover prove --write` fills each `sorry` where it stands.
The theorem is Mathlib's `CancelDenoms.cancel_factors_le` (leanprover-community/mathlib4 @ 5a919533,
Mathlib/Tactic/CancelDenoms/Core.lean) with its proof cut after the first step; skeleton.cassette.jsonl
holds LeanDojo's recording of that proof (`prover cassette build … --theorems CancelDenoms.cancel_factors_le
--statements skeleton.lean`: the trace records no statement text, this file states the traced one). -/

namespace CancelDenoms

theorem cancel_factors_le {α} [LinearOrderedField α] {a b ad bd a' b' gcd : α}
    (ha : ad * a = a') (hb : bd * b = b') (had : 0 < ad) (hbd : 0 < bd) (hgcd : 0 < gcd) :
    (a ≤ b) = (1 / gcd * (bd * a') ≤ 1 / gcd * (ad * b')) := by
  rw [mul_le_mul_left, ← ha, ← hb, ← mul_assoc, ← mul_assoc, mul_comm bd, mul_le_mul_left]
  · sorry
  · sorry

end CancelDenoms
