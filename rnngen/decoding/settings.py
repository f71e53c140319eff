"""The traced sampling settings, as arrays of fixed dtypes."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from rnngen.decoding.repetition import NO_REPEAT_OFF, PENALTY_OFF


class Settings(NamedTuple):
    """The traced sampling settings (scalars); see :func:`sample` for their meaning."""

    temperature: jax.Array
    top_k: jax.Array
    top_p: jax.Array
    banned_id: jax.Array
    repetition_penalty: jax.Array
    no_repeat_ngram_size: jax.Array


def make_settings(temperature=1.0, top_k=0, top_p=1.0, banned_id=-1, repetition_penalty=PENALTY_OFF,
                  no_repeat_ngram_size=NO_REPEAT_OFF) -> Settings:
    """Settings as arrays of fixed dtypes, so that new values never recompile."""
    return Settings(
        jnp.asarray(temperature, jnp.float32), jnp.asarray(top_k, jnp.int32), jnp.asarray(top_p, jnp.float32),
        jnp.asarray(banned_id, jnp.int32), jnp.asarray(repetition_penalty, jnp.float32),
        jnp.asarray(no_repeat_ngram_size, jnp.int32),
    )
