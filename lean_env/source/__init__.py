"""Lean source text without Lean: lexer, declaration parser, byte-exact span edits."""
