"""The pure sampler: keys in, tokens out.

It knows nothing of training or of a particular model: it takes an
``apply_fn(params, tokens [batch, time], carry) -> (logits [batch, time, vocab], carry)``.
The prompt runs through the model in one call (one scan), then generation is one
compiled ``lax.scan``. Temperature, top_k and top_p are traced runtime values,
so changing them does not recompile.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

ApplyFn = Callable[[Any, jax.Array, Any], tuple[jax.Array, Any]]

_MASKED = -jnp.inf
_MIN_TEMPERATURE = 1e-6


class SamplerState(NamedTuple):
    """The loop state: logits [batch, vocab] for the next token, the model carry, the key."""

    logits: jax.Array
    carry: Any
    key: jax.Array


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
    scaled = logits.astype(jnp.float32) / jnp.maximum(temperature, _MIN_TEMPERATURE)
    # Each filter sorts the vocabulary: skip it at run time when it is off.
    filtered = jax.lax.cond(top_k > 0, top_k_filter, lambda x, _: x, scaled, top_k)
    filtered = jax.lax.cond(top_p < 1.0, top_p_filter, lambda x, _: x, filtered, top_p)
    sampled = jax.random.categorical(key, filtered, axis=-1)
    greedy = jnp.argmax(logits, axis=-1)
    return jnp.where(temperature > 0, sampled, greedy).astype(jnp.int32)


@functools.partial(jax.jit, static_argnames=("apply_fn", "num_new_tokens"))
def sample(
    apply_fn: ApplyFn,
    params: Any,
    initial_carry: Any,
    key: jax.Array,
    prompt_ids: jax.Array,
    num_new_tokens: int,
    temperature: float | jax.Array = 1.0,
    top_k: int | jax.Array = 0,
    top_p: float | jax.Array = 1.0,
    banned_id: int | jax.Array = -1,
) -> jax.Array:
    """Continues each prompt by ``num_new_tokens`` sampled tokens.

    Args:
      apply_fn: the model, (params, tokens [batch, time], carry) -> (logits, carry).
      params: the model parameters.
      initial_carry: the model's carry before the prompt (usually zeros) for ``batch`` streams.
      key: a PRNG key; the same key gives the same output.
      prompt_ids: int32 [batch, prompt_len], prompt_len >= 1.
      num_new_tokens: how many tokens to generate (static).
      temperature: 0 means greedy; top_k: 0 means off; top_p: 1 means off.
      banned_id: a token never generated (the tokenizer's unknown id); -1 means none.

    Returns:
      int32 [batch, num_new_tokens], the generated ids (the prompt not included).
    """
    temperature = jnp.asarray(temperature, jnp.float32)
    top_k = jnp.asarray(top_k, jnp.int32)
    top_p = jnp.asarray(top_p, jnp.float32)
    banned_id = jnp.asarray(banned_id, jnp.int32)
    prompt_logits, carry = apply_fn(params, prompt_ids, initial_carry)

    def generate_one(state: SamplerState, _):
        key, token_key = jax.random.split(state.key)
        token = sample_token(token_key, ban_token(state.logits, banned_id), temperature, top_k, top_p)
        logits, carry = apply_fn(params, token[:, None], state.carry)
        return SamplerState(logits[:, -1], carry, key), token

    initial = SamplerState(prompt_logits[:, -1], carry, key)
    _, tokens = jax.lax.scan(generate_one, initial, None, length=num_new_tokens)
    return jnp.swapaxes(tokens, 0, 1)
