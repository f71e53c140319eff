"""Decoding pieces: token filters, repetition control, stop strings, the compiled
sampling loop, beam search, streaming and scoring. ``rnngen.decoding.sampler`` is the public
sampler; the API (``rnngen.api``) and the CLI put the pieces together."""
