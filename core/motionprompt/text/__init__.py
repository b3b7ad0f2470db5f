"""Prompt text as plain Python (no torch): how a prompt is cut into actions and clauses."""
