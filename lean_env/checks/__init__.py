"""Judging Lean output: the tactic filter, the whole-proof verifier and its verdicts, kernel re-checkers."""
