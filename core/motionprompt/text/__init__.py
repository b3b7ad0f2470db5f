"""Prompt text as plain Python (no torch): how a prompt is cut into actions and clauses
(``segments``), whether it is in the encoders' language (``language``), and a model's own
vocabulary of training captions with the nearest-caption rewrite (``vocabulary``)."""
