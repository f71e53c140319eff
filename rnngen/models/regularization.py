"""AWD-LSTM's regularizers (Merity et al. 2018), each off at rate 0, each with an explicit key.

- dropout, or locked (variational) dropout: one mask per sequence, the same at every
  step (Gal & Ghahramani 2016), on the inputs, between layers and on the outputs;
- embedding dropout: whole rows of the embedding dropped, so every occurrence of a word
  in the batch is dropped together;
- weight drop: DropConnect on the hidden-to-hidden weights, one mask per batch (Wan et
  al. 2013), which keeps the recurrence itself (and its fused form) unchanged;
- activation and temporal activation regularization (AR, TAR): penalties on the last
  layer's outputs.

Without a key (evaluation, sampling) each is the identity.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

EMBED_KEY, WEIGHT_KEY = 1_000_003, 2_000_003  # folded into the step's dropout key for these masks


class DropoutRates(NamedTuple):
    """The rates of one model: ``model.input_dropout``, ``hidden_dropout`` and ``output_dropout``
    (each ``model.dropout`` when unset), ``embed_dropout`` and ``weight_drop``."""

    input: float
    hidden: float
    output: float
    embed: float
    weight: float

    @classmethod
    def from_config(cls, cfg) -> DropoutRates:
        base = float(cfg.dropout)
        pick = lambda value: base if value is None else float(value)  # noqa: E731
        return cls(pick(cfg.input_dropout), pick(cfg.hidden_dropout), pick(cfg.output_dropout),
                   float(cfg.embed_dropout), float(cfg.weight_drop))


def dropout(x: jax.Array, rate: float, key: jax.Array | None, locked: bool = False) -> jax.Array:
    """Inverted dropout of x [time, ...]; ``locked``: one mask over x[0]'s shape, shared by every
    step. The identity when ``key`` is None or ``rate`` is 0."""
    if key is None or rate <= 0.0:
        return x
    keep = jax.random.bernoulli(key, 1.0 - rate, (1, *x.shape[1:]) if locked else x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)


def embedding_dropout(table: jax.Array, rate: float, key: jax.Array | None) -> jax.Array:
    """table [vocab, dim] with whole rows zeroed at ``rate``, the others scaled by 1 / (1 - rate)."""
    if key is None or rate <= 0.0:
        return table
    keep = jax.random.bernoulli(jax.random.fold_in(key, EMBED_KEY), 1.0 - rate, (table.shape[0], 1))
    return jnp.where(keep, table / (1.0 - rate), 0.0)


def weight_drop(w_hh: jax.Array, rate: float, key: jax.Array | None, layer: int) -> jax.Array:
    """w_hh [hidden, gates * hidden] with each weight zeroed at ``rate`` (one mask for the whole batch)."""
    return dropout(w_hh, rate, None if key is None else jax.random.fold_in(key, WEIGHT_KEY + layer))


def activation_penalty(dropped: jax.Array, raw: jax.Array, ar_alpha: float, tar_beta: float) -> jax.Array:
    """AR + TAR [] of the last layer's outputs [time, batch, hidden]: ``ar_alpha`` times the mean
    square of the dropped outputs plus ``tar_beta`` times the mean square of the raw outputs'
    step-to-step change (AWD-LSTM's ``alpha`` and ``beta``)."""
    penalty = jnp.zeros((), jnp.float32)
    if ar_alpha:
        penalty += ar_alpha * jnp.mean(jnp.square(dropped.astype(jnp.float32)))
    if tar_beta:
        penalty += tar_beta * jnp.mean(jnp.square((raw[1:] - raw[:-1]).astype(jnp.float32)))
    return penalty
