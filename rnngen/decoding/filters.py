"""Token filters on logits [batch, vocab]: top-k, top-p, a banned id, and drawing a token."""

from __future__ import annotations

import jax
import jax.numpy as jnp

_MASKED = -jnp.inf
_MIN_TEMPERATURE = 1e-6


def top_k_filter(logits: jax.Array, top_k: jax.Array) -> jax.Array:
    """logits [batch, vocab]: keeps the top_k largest per row (ties kept); top_k <= 0 keeps all."""
    vocab = logits.shape[-1]
    sorted_desc = -jnp.sort(-logits, axis=-1)
    kth = jnp.take_along_axis(sorted_desc, jnp.full(logits.shape[:-1] + (1,), jnp.clip(top_k, 1, vocab) - 1), axis=-1)
    filtered = jnp.where(logits < kth, _MASKED, logits)
    return jnp.where(top_k > 0, filtered, logits)


def top_p_filter(logits: jax.Array, top_p: jax.Array) -> jax.Array:
    """logits [batch, vocab]: keeps the smallest set of most likely tokens whose mass reaches top_p.

    A token is kept when the probability mass of the tokens ranked above it is
    below top_p, so the most likely token always stays; top_p >= 1 keeps all.
    """
    sorted_desc = -jnp.sort(-logits, axis=-1)
    probs = jax.nn.softmax(sorted_desc, axis=-1)
    mass_above = jnp.cumsum(probs, axis=-1) - probs
    kept = mass_above < top_p
    threshold = jnp.min(jnp.where(kept, sorted_desc, jnp.inf), axis=-1, keepdims=True)
    filtered = jnp.where(logits < threshold, _MASKED, logits)
    return jnp.where(top_p < 1.0, filtered, logits)


def ban_token(logits: jax.Array, token_id: jax.Array) -> jax.Array:
    """logits [batch, vocab] with column ``token_id`` set to -inf; a negative id bans nothing."""
    return jnp.where(jnp.arange(logits.shape[-1]) == token_id, _MASKED, logits)


def sample_token(key: jax.Array, logits: jax.Array, temperature, top_k, top_p) -> jax.Array:
    """logits [batch, vocab] -> token ids int32 [batch]; temperature 0 is greedy (argmax)."""
    return pick_token(jax.random.gumbel(key, logits.shape, jnp.float32), logits, temperature, top_k, top_p)


def pick_token(gumbel: jax.Array, logits: jax.Array, temperature, top_k, top_p) -> jax.Array:
    """:func:`sample_token` with its noise given: gumbel float32 [batch, vocab] (standard Gumbel) ->
    token ids int32 [batch]: argmax(filtered logits / temperature + gumbel), a draw from their softmax."""
    scaled = logits.astype(jnp.float32) / jnp.maximum(temperature, _MIN_TEMPERATURE)
    # Each filter sorts the vocabulary: skip it at run time when it is off.
    filtered = jax.lax.cond(top_k > 0, top_k_filter, lambda x, _: x, scaled, top_k)
    filtered = jax.lax.cond(top_p < 1.0, top_p_filter, lambda x, _: x, filtered, top_p)
    sampled = jnp.argmax(filtered + gumbel, axis=-1)
    greedy = jnp.argmax(logits, axis=-1)
    return jnp.where(temperature > 0, sampled, greedy).astype(jnp.int32)
