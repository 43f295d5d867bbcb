import Mathlib
import Aesop

set_option maxHeartbeats 0

open BigOperators Real Nat Topology Rat

/-! Repair demo: the model's proof has one failing `have`; its body becomes a hole the tactic search fills
(examples/repair.cassette.jsonl, examples/repair.outputs.jsonl). -/

theorem mathd_algebra_455 (x : ℝ) (h₀ : 2 * (2 * (2 * (2 * x))) = 48) : x = 3 := by
  sorry
