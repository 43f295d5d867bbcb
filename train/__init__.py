"""Fine-tune tactic models on proofsteps data."""
