"""Lean project set-up: REPL version planning, Lake project creation, Lean-side doctor probes."""
