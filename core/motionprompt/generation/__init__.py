"""Prompts -> motions: the token sampler and the ``Generator`` that runs text encoder, sampler
and decoder together.
"""
