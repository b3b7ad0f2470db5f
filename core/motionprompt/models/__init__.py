"""The model stack in torch: text encoders, the prefix-LM, FSQ and the VQ-VAE, checkpoint
loading and model specs (TOML). Nothing here samples or knows about motions as bodies.
"""
