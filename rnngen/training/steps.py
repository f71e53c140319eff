"""Pure, jit-compiled train and eval steps built around a model's graph definition.

``make_apply_fn`` gives the logits (for the sampler); ``make_loss_fn`` gives the
summed nll, running the output layer in chunks so that a large vocabulary's
``[batch, time, vocab]`` logits are never held at once (``rnngen.training.losses``).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from rnngen.models.language_model import output_layer
from rnngen.models.wavefront import MIN_BATCH as WAVEFRONT_MIN_BATCH
from rnngen.training.losses import nll_sum, resolve_chunk_size
from rnngen.training.losses import token_nll  # noqa: F401  (re-exported: it used to live here)
from rnngen.training.state import TrainState

ApplyFn = Callable[..., tuple[jax.Array, Any]]
LossFn = Callable[..., tuple[jax.Array, Any]]


def make_apply_fn(graphdef: nnx.GraphDef) -> ApplyFn:
    """(params, tokens [batch, time], carry, dropout_key=None) -> (logits [batch, time, vocab], carry)."""

    def apply_fn(params, tokens, carry, dropout_key=None):
        return nnx.merge(graphdef, params)(tokens, carry, dropout_key=dropout_key)

    return apply_fn


COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def make_loss_fn(graphdef: nnx.GraphDef, loss_chunk_size: int, compute_dtype: str = "float32") -> LossFn:
    """(params, tokens [batch, time], carry, targets [batch, time], mask [batch, time], dropout_key=None,
    wavefront=False) -> (nll in nats summed over masked tokens [], final carry).

    The output layer and the loss run in chunks of tokens (``rnngen.training.losses``);
    ``loss_chunk_size`` is the ``train.loss_chunk_size`` setting, resolved against
    each traced batch shape, so train and eval batches each get their own chunks.
    ``compute_dtype`` (``train.compute_dtype``) is the dtype of the matmul operands;
    the parameters, their gradients, the carry and the loss stay float32.
    ``wavefront`` runs the layers in the wavefront schedule (evaluation; see
    :mod:`rnngen.models.wavefront`).
    """
    dtype = COMPUTE_DTYPES[compute_dtype]

    def loss_fn(params, tokens, carry, targets, mask, dropout_key=None, wavefront=False):
        model = nnx.merge(graphdef, params)
        model.set_compute_dtype(dtype)
        hidden, carry = model.features(tokens, carry, dropout_key=dropout_key, time_major=True, wavefront=wavefront)
        chunk_size = resolve_chunk_size(loss_chunk_size, targets.size, model.vocab_size)
        arrays = jax.tree.map(lambda array: array.astype(dtype), model.output_params())
        total = nll_sum(output_layer, arrays, hidden.astype(dtype), targets.T, mask.T, chunk_size)
        return total, carry

    return loss_fn


def reset_carry(carry: Any, reset: jax.Array) -> Any:
    """Zeroes the carry when ``reset`` (a scalar bool) is set: a new stream begins."""
    return jax.tree_util.tree_map(lambda c: jnp.where(reset, jnp.zeros_like(c), c), carry)


def all_finite(tree: Any) -> jax.Array:
    """True [] when every element of every array in ``tree`` is finite."""
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(tree)]))


def keep_if(ok: jax.Array, new: Any, old: Any) -> Any:
    """``new`` where ``ok`` (a scalar bool) is set, else ``old``, leaf by leaf."""
    return jax.tree_util.tree_map(lambda n, o: jnp.where(ok, n, o), new, old)


def make_train_step(
    loss_fn: LossFn, optimizer: optax.GradientTransformation, schedule: optax.Schedule, skip_nonfinite: bool = False
):
    """Returns the jitted ``train_step(state, batch, key) -> (state, metrics)``.

    batch: {"inputs": int32 [batch, time], "targets": int32 [batch, time],
    "reset": bool []}. The state is donated; the final carry, gradient stopped,
    becomes the next batch's initial carry. ``loss_fn`` is :func:`make_loss_fn`'s;
    metrics["loss"] is the mean nll per token in nats.

    With ``skip_nonfinite``, a step whose loss, gradient norm or updated parameters
    are not finite leaves the parameters, optimizer state and carry as they were
    before it (the carry after a stream reset; the step counter still advances)
    and reports metrics["skipped"] = 1, else 0 (float32 []). The state's
    structure is the same either way, so the setting may change on resume.
    """

    def mean_nll(params, carry, inputs, targets, key):
        total, carry = loss_fn(params, inputs, carry, targets, jnp.ones(targets.shape, jnp.float32), key)
        return total / targets.size, carry

    def train_step(state: TrainState, batch: dict, key: jax.Array):
        carry_in = reset_carry(state.carry, batch["reset"])
        grad_fn = jax.value_and_grad(mean_nll, has_aux=True)
        (loss, carry), grads = grad_fn(state.params, carry_in, batch["inputs"], batch["targets"], key)
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
            "perplexity": jnp.exp(loss),
            "grad_norm": optax.tree.norm(grads),
            "learning_rate": schedule(state.step),
        }
        if skip_nonfinite:
            ok = jnp.isfinite(loss) & jnp.isfinite(metrics["grad_norm"]) & all_finite(new_state.params)
            new_state = keep_if(ok, new_state, state._replace(step=new_state.step, carry=carry_in))
            metrics["skipped"] = (~ok).astype(jnp.float32)
        return new_state, metrics

    return jax.jit(train_step, donate_argnums=0)


def make_eval_step(loss_fn: LossFn):
    """Returns the jitted ``eval_step(params, carry, inputs, targets, mask) -> (nll_sum, count, carry)``.

    inputs, targets: int32 [batch, time]; mask: float32 [batch, time], 1 for real targets;
    nll_sum: nats summed over the masked tokens; count: the number of those tokens.
    ``loss_fn`` is :func:`make_loss_fn`'s; the layers run in the wavefront schedule when the batch
    has at least ``rnngen.models.wavefront.MIN_BATCH`` rows.
    """

    def eval_step(params, carry, inputs, targets, mask):
        wavefront = inputs.shape[0] >= WAVEFRONT_MIN_BATCH
        total, carry = loss_fn(params, inputs, carry, targets, mask, wavefront=wavefront)
        return total, jnp.sum(mask), carry

    return jax.jit(eval_step)
