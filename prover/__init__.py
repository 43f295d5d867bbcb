"""Propose tactics (HF, vLLM, fixed), prompt templates, and the user-facing CLI."""
