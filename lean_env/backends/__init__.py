"""Backends that run tactics: the Lean REPL (process + client), LeanDojo, and replay of recordings."""
