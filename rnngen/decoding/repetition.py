"""Repetition control on logits [batch, vocab], from the token history.

Both controls look at the whole sequence, prompt included (as Hugging Face's
``RepetitionPenaltyLogitsProcessor`` and ``NoRepeatNGramLogitsProcessor`` do):

- repetition penalty (CTRL, Keskar et al. 2019): the logit of every token already
  seen is divided by the penalty when positive and multiplied by it when
  negative, so a penalty > 1 makes repeats less likely; 1 is off.
- no-repeat n-gram size n: a token that would complete an n-gram already present
  gets -inf; 0 is off.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

PENALTY_OFF = 1.0
NO_REPEAT_OFF = 0


def mark_seen(seen: jax.Array, tokens: jax.Array) -> jax.Array:
    """seen bool [batch, vocab] with the ids tokens int [batch, n] set."""
    rows = jnp.arange(seen.shape[0])[:, None]
    return seen.at[rows, tokens].set(True)


def penalize_repeats(logits: jax.Array, seen: jax.Array, penalty: jax.Array) -> jax.Array:
    """logits [batch, vocab], seen bool [batch, vocab]: CTRL's penalty on the seen tokens."""
    penalized = jnp.where(logits > 0, logits / penalty, logits * penalty)
    return jnp.where(seen, penalized, logits)


def repeated_ngram_ban(history: jax.Array, length: jax.Array, n: jax.Array, vocab: int) -> jax.Array:
    """bool [batch, vocab]: the tokens that would complete an n-gram already in ``history``.

    history int32 [batch, max_len] holds the sequence so far in its first
    ``length`` columns (a traced scalar); n (traced) <= 0 bans nothing. The
    n-gram starting at i is history[i : i + n]; it counts when it lies wholly in
    the sequence (i + n <= length) and its first n - 1 tokens equal the last
    n - 1 tokens of the sequence; its last token is then banned. O(n * max_len).
    """
    batch, max_len = history.shape
    starts = jnp.arange(max_len)

    def match_offset(j, match):
        ahead = jnp.take(history, jnp.minimum(starts + j, max_len - 1), axis=1)  # [batch, max_len]
        last = jax.lax.dynamic_index_in_dim(history, jnp.clip(length - n + 1 + j, 0, max_len - 1), 1)  # [batch, 1]
        return match & (ahead == last)

    match = jax.lax.fori_loop(0, n - 1, match_offset, jnp.ones((batch, max_len), bool))
    match = match & (starts + n <= length) & (n > 0)
    completions = jnp.take(history, jnp.clip(starts + n - 1, 0, max_len - 1), axis=1)
    rows = jnp.arange(batch)[:, None]
    return jnp.zeros((batch, vocab), bool).at[rows, completions].max(match)


def control_repeats(logits, seen, history, length, penalty, n) -> jax.Array:
    """logits [batch, vocab] after the repetition penalty and the n-gram ban; each is
    skipped at run time when off, so the logits stay bit-identical when both are."""
    logits = jax.lax.cond(penalty != PENALTY_OFF, penalize_repeats, lambda x, *_: x, logits, seen, penalty)
    banned = _ngram_ban_or_none(history, length, n, logits.shape[-1])
    return jnp.where(banned, -jnp.inf, logits)


def _ngram_ban_or_none(history, length, n, vocab: int) -> jax.Array:
    """:func:`repeated_ngram_ban`, or no ban without running it when n <= 0."""
    return jax.lax.cond(
        n > 0,
        lambda h, used, k: repeated_ngram_ban(h, used, k, vocab),
        lambda h, used, k: jnp.zeros((h.shape[0], vocab), bool),
        history, length, n,
    )
