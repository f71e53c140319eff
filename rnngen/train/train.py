"""The train state, the pure train and eval steps, and the setup that builds them from a config.

- :class:`TrainState`: one explicit pytree of arrays (static settings stay out of it).
- :func:`make_loss_fn` gives the
  summed nll, running the output layer in chunks so that a large vocabulary's
  ``[batch, time, vocab]`` logits are never held at once (:mod:`rnngen.train.losses`).
- :func:`make_train_step` and :func:`make_eval_step`: pure steps, jitted once by
  :mod:`rnngen.train.sharding` with the state's shardings.
- :func:`build_setup`: the model, optimizer and a fresh state from a config.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from rnngen.models.language_model import ApplyFn, RNNLanguageModel, build_model, make_apply_fn, output_layer
from rnngen.models.plugins import import_cell_module
from rnngen.models.regularization import activation_penalty
from rnngen.models.wavefront import MIN_BATCH as WAVEFRONT_MIN_BATCH
from rnngen.train.losses import nll_sum, resolve_chunk_size
from rnngen.train.optimizer import learning_rate_scale, make_optimizer, make_schedule


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


LossFn = Callable[..., tuple[jax.Array, Any]]


COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def make_loss_fn(graphdef: nnx.GraphDef, loss_chunk_size: int, compute_dtype: str = "float32",
                 ar_alpha: float = 0.0, tar_beta: float = 0.0) -> LossFn:
    """(params, tokens [batch, time], carry, targets [batch, time], mask [batch, time], dropout_key=None,
    wavefront=False) -> (nll in nats summed over masked tokens [], (final carry, penalty [])).

    ``penalty`` is AR + TAR (``train.ar_alpha``, ``train.tar_beta``;
    :func:`rnngen.models.regularization.activation_penalty`) when a ``dropout_key`` is
    given (training), else 0; the train step adds it to the mean nll.

    The output layer and the loss run in chunks of tokens (``rnngen.train.losses``);
    ``loss_chunk_size`` is the ``train.loss_chunk_size`` setting, resolved against
    each traced batch shape, so train and eval batches each get their own chunks.
    ``compute_dtype`` (``train.compute_dtype``) is the dtype of the matmul operands;
    the parameters, their gradients, the carry and the loss stay float32.
    ``wavefront`` runs the layers in the wavefront schedule (evaluation; see
    :mod:`rnngen.models.wavefront`).
    """
    dtype = COMPUTE_DTYPES[compute_dtype]

    penalized = bool(ar_alpha or tar_beta)

    def loss_fn(params, tokens, carry, targets, mask, dropout_key=None, wavefront=False):
        model = nnx.merge(graphdef, params)
        model.set_compute_dtype(dtype)
        penalty = jnp.zeros((), jnp.float32)
        if penalized and dropout_key is not None:
            hidden, raw, carry = model.layered_features(tokens.T, carry, dropout_key)
            penalty = activation_penalty(hidden, raw, ar_alpha, tar_beta)
        else:
            hidden, carry = model.features(tokens, carry, dropout_key=dropout_key, time_major=True, wavefront=wavefront)
        chunk_size = resolve_chunk_size(loss_chunk_size, targets.size, model.vocab_size)
        arrays = jax.tree.map(lambda array: array.astype(dtype), model.output_params())
        total = nll_sum(output_layer, arrays, hidden.astype(dtype), targets.T, mask.T, chunk_size)
        return total, (carry, penalty)

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
    """Returns the pure ``train_step(state, batch, key) -> (state, metrics)``, not jitted:
    :func:`rnngen.train.sharding.keep_state_shardings` jits it once, donating the state.

    batch: {"inputs": int32 [batch, time], "targets": int32 [batch, time],
    "reset": bool []}; key: the step's dropout key. The final carry, gradient stopped,
    becomes the next batch's initial carry. ``loss_fn`` is :func:`make_loss_fn`'s;
    metrics["loss"] is the mean nll per token in nats; the gradient is that of the loss plus
    metrics["activation_penalty"] (AR + TAR, 0 when off).

    With ``skip_nonfinite``, a step whose loss, gradient norm or updated parameters
    are not finite leaves the parameters, optimizer state and carry as they were
    before it (the carry after a stream reset; the step counter still advances)
    and reports metrics["skipped"] = 1, else 0 (float32 []). The state's
    structure is the same either way, so the setting may change on resume.
    """

    def objective(params, carry, inputs, targets, key):
        total, (carry, penalty) = loss_fn(params, inputs, carry, targets, jnp.ones(targets.shape, jnp.float32), key)
        mean_nll = total / targets.size
        return mean_nll + penalty, (carry, mean_nll, penalty)

    def train_step(state: TrainState, batch: dict, key: jax.Array):
        carry_in = reset_carry(state.carry, batch["reset"])
        grad_fn = jax.value_and_grad(objective, has_aux=True)
        (_, (carry, loss, penalty)), grads = grad_fn(state.params, carry_in, batch["inputs"], batch["targets"], key)
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
            "learning_rate": schedule(state.step) * learning_rate_scale(state.opt_state),
            "activation_penalty": penalty,
        }
        if skip_nonfinite:
            ok = jnp.isfinite(loss) & jnp.isfinite(metrics["grad_norm"]) & all_finite(new_state.params)
            new_state = keep_if(ok, new_state, state._replace(step=new_state.step, carry=carry_in))
            metrics["skipped"] = (~ok).astype(jnp.float32)
        return new_state, metrics

    return train_step


def make_eval_step(loss_fn: LossFn):
    """Returns the pure ``eval_step(params, carry, inputs, targets, mask) -> (nll_sum [], count [], carry)``,
    not jitted: :func:`rnngen.train.sharding.sharded_eval_step` jits it once.

    inputs, targets: int32 [batch, time]; mask: float32 [batch, time], 1 for real targets;
    nll_sum: nats summed over the masked tokens; count: the number of those tokens.
    ``loss_fn`` is :func:`make_loss_fn`'s; the layers run in the wavefront schedule when the batch
    has at least ``rnngen.models.wavefront.MIN_BATCH`` rows.
    """

    def eval_step(params, carry, inputs, targets, mask):
        wavefront = inputs.shape[0] >= WAVEFRONT_MIN_BATCH
        total, (carry, _) = loss_fn(params, inputs, carry, targets, mask, wavefront=wavefront)
        return total, jnp.sum(mask), carry

    return eval_step


class Setup(NamedTuple):
    """The static pieces of a run: the module (for its zero carry), its pure apply
    function (logits, for sampling), the optimizer and schedule, a fresh train
    state, and its pure loss function (for the train and eval steps)."""

    model: RNNLanguageModel
    apply_fn: ApplyFn
    optimizer: optax.GradientTransformation
    schedule: optax.Schedule
    state: TrainState
    loss_fn: LossFn


def build_setup(config, vocab_size: int) -> Setup:
    """Initialises the model from ``config.seed`` and a step-0 train state."""
    import_cell_module(config.model.cell_module)
    model = build_model(vocab_size, config.model, config.seed)
    graphdef, params = nnx.split(model)
    optimizer = make_optimizer(config.train)
    state = create_train_state(model, nnx.to_pure_dict(params), optimizer, config.train.batch_size, config.seed)
    train = config.train
    loss_fn = make_loss_fn(graphdef, train.loss_chunk_size, train.compute_dtype, train.ar_alpha, train.tar_beta)
    return Setup(model, make_apply_fn(graphdef), optimizer, make_schedule(config.train), state, loss_fn)


def abstract_state(state: Any, shardings: Any = None) -> Any:
    """The shapes and dtypes of ``state``, a restore target for Orbax.

    ``shardings`` (a pytree like ``state``, :func:`rnngen.train.sharding.state_shardings`)
    places the restored arrays on the current mesh, whatever mesh wrote them.
    """
    if shardings is None:
        return jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), state)
    return jax.tree_util.tree_map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), state, shardings)
