"""Pure, jit-compiled train and eval steps built around a model's graph definition."""

from __future__ import annotations

import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from rnngen.training.state import TrainState

ApplyFn = Callable[..., tuple[jax.Array, Any]]


def make_apply_fn(graphdef: nnx.GraphDef) -> ApplyFn:
    """(params, tokens [batch, time], carry, dropout_key=None) -> (logits [batch, time, vocab], carry)."""

    def apply_fn(params, tokens, carry, dropout_key=None):
        return nnx.merge(graphdef, params)(tokens, carry, dropout_key=dropout_key)

    return apply_fn


def token_nll(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """logits [batch, time, vocab], targets [batch, time] -> nll in nats [batch, time]."""
    return optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), targets)


def reset_carry(carry: Any, reset: jax.Array) -> Any:
    """Zeroes the carry when ``reset`` (a scalar bool) is set: a new stream begins."""
    return jax.tree_util.tree_map(lambda c: jnp.where(reset, jnp.zeros_like(c), c), carry)


def make_train_step(apply_fn: ApplyFn, optimizer: optax.GradientTransformation, schedule: optax.Schedule):
    """Returns the jitted ``train_step(state, batch, key) -> (state, metrics)``.

    batch: {"inputs": int32 [batch, time], "targets": int32 [batch, time],
    "reset": bool []}. The state is donated; the final carry, gradient stopped,
    becomes the next batch's initial carry.
    """

    def loss_fn(params, carry, inputs, targets, key):
        logits, carry = apply_fn(params, inputs, carry, dropout_key=key)
        return token_nll(logits, targets).mean(), carry

    def train_step(state: TrainState, batch: dict, key: jax.Array):
        carry = reset_carry(state.carry, batch["reset"])
        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
        (loss, carry), grads = grad_fn(state.params, carry, batch["inputs"], batch["targets"], key)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        new_state = TrainState(
            step=state.step + 1,
            params=optax.apply_updates(state.params, updates),
            opt_state=opt_state,
            carry=jax.lax.stop_gradient(carry),
            rng=state.rng,
        )
        metrics = {
            "loss": loss,
            "bpc": loss / math.log(2.0),
            "perplexity": jnp.exp(loss),
            "grad_norm": optax.tree.norm(grads),
            "learning_rate": schedule(state.step),
        }
        return new_state, metrics

    return jax.jit(train_step, donate_argnums=0)


def make_eval_step(apply_fn: ApplyFn):
    """Returns the jitted ``eval_step(params, carry, inputs, targets, mask) -> (nll_sum, count, carry)``.

    inputs, targets: int32 [batch, time]; mask: float32 [batch, time], 1 for real targets.
    """

    def eval_step(params, carry, inputs, targets, mask):
        logits, carry = apply_fn(params, inputs, carry)
        nll = token_nll(logits, targets)
        return jnp.sum(nll * mask), jnp.sum(mask), carry

    return jax.jit(eval_step)
