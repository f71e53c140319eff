"""Beam search: the ``num_beams`` most likely continuations, one compiled ``lax.scan``.

Every beam of a prompt has the same length (the models have no end token), so
the ranking is by the summed log-probability; the length penalty (Hugging Face's
convention, score = sum of log-probabilities / length ** length_penalty, length
= the new tokens) only rescales the reported scores. Deterministic: ties go to
the lower beam and token index (``lax.top_k``).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rnngen.decoding.filters import ban_token


class BeamState(NamedTuple):
    """logits [batch * beams, vocab] for the next token; the model carry of batch * beams rows;
    log_probs float32 [batch, beams] (summed so far); tokens int32 [batch, beams, num_new]; step []."""

    logits: jax.Array
    carry: Any
    log_probs: jax.Array
    tokens: jax.Array
    step: jax.Array


class Beams(NamedTuple):
    """tokens int32 [batch, beams, num_new], best first; log_probs float32 [batch, beams];
    scores float32 [batch, beams] (log_probs / num_new ** length_penalty)."""

    tokens: jax.Array
    log_probs: jax.Array
    scores: jax.Array


def repeat_rows(tree: Any, times: int) -> Any:
    """Each leaf [batch, ...] -> [batch * times, ...], every row repeated ``times`` times in place."""
    return jax.tree_util.tree_map(lambda x: jnp.repeat(x, times, axis=0), tree)


def take_rows(tree: Any, rows: jax.Array) -> Any:
    """Each leaf [n, ...] -> leaf[rows] ([len(rows), ...])."""
    return jax.tree_util.tree_map(lambda x: jnp.take(x, rows, axis=0), tree)


def extend_beams(state: BeamState, banned_id: jax.Array, num_beams: int):
    """(parent beam [batch, beams], token [batch, beams], log_probs [batch, beams]) of the best extensions."""
    batch = state.log_probs.shape[0]
    vocab = state.logits.shape[-1]
    token_log_probs = jax.nn.log_softmax(ban_token(state.logits.astype(jnp.float32), banned_id), axis=-1)
    candidates = state.log_probs[:, :, None] + token_log_probs.reshape(batch, num_beams, vocab)
    log_probs, flat = jax.lax.top_k(candidates.reshape(batch, num_beams * vocab), num_beams)
    return flat // vocab, (flat % vocab).astype(jnp.int32), log_probs


@functools.partial(jax.jit, static_argnames=("apply_fn", "num_new_tokens", "num_beams"))
def beam_search(
    apply_fn, params: Any, initial_carry: Any, prompt_ids: jax.Array, num_new_tokens: int, num_beams: int,
    length_penalty: float | jax.Array = 1.0, banned_id: int | jax.Array = -1,
) -> Beams:
    """The ``num_beams`` best continuations by ``num_new_tokens`` tokens of each prompt.

    apply_fn (params, tokens [batch, time], carry) -> (logits [batch, time, vocab], carry);
    initial_carry: the carry of ``batch`` streams; prompt_ids int32 [batch, prompt_len];
    banned_id: a token never generated (-1: none). Returns :class:`Beams`, best first.
    """
    banned_id = jnp.asarray(banned_id, jnp.int32)
    prompt_ids = jnp.asarray(prompt_ids, jnp.int32)
    batch = prompt_ids.shape[0]
    prompt_logits, carry = apply_fn(params, prompt_ids, initial_carry)
    # All beams start as the prompt; only the first is live, so the first step does not repeat itself.
    first = jnp.where(jnp.arange(num_beams) == 0, 0.0, -jnp.inf)
    state = BeamState(
        repeat_rows(prompt_logits[:, -1], num_beams), repeat_rows(carry, num_beams),
        jnp.broadcast_to(first, (batch, num_beams)).astype(jnp.float32),
        jnp.zeros((batch, num_beams, num_new_tokens), jnp.int32), jnp.int32(0),
    )

    def step(state: BeamState, _):
        parent, token, log_probs = extend_beams(state, banned_id, num_beams)
        tokens = jnp.take_along_axis(state.tokens, parent[:, :, None], axis=1).at[:, :, state.step].set(token)
        rows = (jnp.arange(batch)[:, None] * num_beams + parent).reshape(-1)
        logits, carry = apply_fn(params, token.reshape(-1, 1), take_rows(state.carry, rows))
        return BeamState(logits[:, -1], carry, log_probs, tokens, state.step + 1), None

    final, _ = jax.lax.scan(step, state, None, length=num_new_tokens)
    scores = final.log_probs / jnp.float32(num_new_tokens) ** jnp.asarray(length_penalty, jnp.float32)
    return Beams(final.tokens, final.log_probs, scores)
