"""The pure sampler: keys in, tokens out.

It knows nothing of training or of a particular model: it takes an
``apply_fn(params, tokens [batch, time], carry) -> (logits [batch, time, vocab], carry)``.
The prompt runs through the model in one call (one scan), then generation is one
compiled ``lax.while_loop`` (:mod:`rnngen.decoding.loop`), which ends early once every
row has produced a stop string. Temperature, top_k, top_p, repetition_penalty and
no_repeat_ngram_size are traced runtime values, so changing them does not recompile.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax

from rnngen.decoding.loop import Generated, decode
from rnngen.decoding.repetition import NO_REPEAT_OFF, PENALTY_OFF
from rnngen.decoding.settings import Settings, make_settings

ApplyFn = Callable[[Any, jax.Array, Any], tuple[jax.Array, Any]]


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
    repetition_penalty: float | jax.Array = PENALTY_OFF,
    no_repeat_ngram_size: int | jax.Array = NO_REPEAT_OFF,
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
      repetition_penalty: CTRL's penalty on every token already in the prompt or
        generated; 1 means off (see :mod:`rnngen.decoding.repetition`).
      no_repeat_ngram_size: n > 0 forbids any n-gram from occurring twice in
        prompt + generated tokens; 0 means off.

    Returns:
      int32 [batch, num_new_tokens], the generated ids (the prompt not included).
    """
    settings = make_settings(temperature, top_k, top_p, banned_id, repetition_penalty, no_repeat_ngram_size)
    return decode(apply_fn, params, initial_carry, key, prompt_ids, num_new_tokens, settings, None).tokens


@functools.partial(jax.jit, static_argnames=("apply_fn", "num_new_tokens"))
def sample_until(
    apply_fn: ApplyFn, params: Any, initial_carry: Any, key: jax.Array, prompt_ids: jax.Array,
    num_new_tokens: int, settings: Settings, stops: Any,
) -> Generated:
    """:func:`sample` that also ends each row at a stop string.

    settings: :func:`make_settings`; stops: a :class:`rnngen.decoding.stop_strings.StopTable`
    or None. Returns a :class:`rnngen.decoding.loop.Generated`: tokens int32
    [batch, num_new_tokens] (0 after a row's end) and lengths int32 [batch] (the
    tokens up to and including the one that completed a stop string, else
    ``num_new_tokens``). The loop ends as soon as every row has stopped.
    """
    return decode(apply_fn, params, initial_carry, key, prompt_ids, num_new_tokens, settings, stops)
