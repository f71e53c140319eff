"""The train state: one explicit pytree of arrays (static settings stay out of it)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from rnngen.models.language_model import RNNLanguageModel


class TrainState(NamedTuple):
    """Everything that changes during training.

    step: int32 []; params: nested dict of arrays; opt_state: the optimizer's
    pytree; carry: the recurrent state after the last batch, one entry per layer of
    [batch, hidden] arrays (it is the next batch's initial carry); rng: uint32 [2],
    the base key that per-step dropout keys are folded from.
    """

    step: jax.Array
    params: Any
    opt_state: Any
    carry: Any
    rng: jax.Array


def create_train_state(
    model: RNNLanguageModel, params: Any, optimizer: optax.GradientTransformation, batch_size: int, seed: int
) -> TrainState:
    """A fresh state at step 0 with a zero carry for ``batch_size`` streams."""
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        opt_state=optimizer.init(params),
        carry=model.zero_carry(batch_size),
        rng=jax.random.fold_in(jax.random.PRNGKey(seed), 1),
    )
