"""Premises from the user's own Lean project: the declaration dump, its parser, the embedding index and
retrieval, and ReProver's retrieval-augmented input format (`reprover_format`)."""
