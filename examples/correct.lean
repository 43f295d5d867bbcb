import Mathlib
import Aesop

set_option maxHeartbeats 0

open BigOperators Real Nat Topology Rat

/-! Self-correction demo: the model's first proof is rejected with Lean's error, its correction is verified
(examples/correct.cassette.jsonl, examples/correct.outputs.jsonl). -/

theorem mathd_algebra_455 (x : ℝ) (h₀ : 2 * (2 * (2 * (2 * x))) = 48) : x = 3 := by
  sorry
