"""Building the model, optimizer and (abstract) train state from a config."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import optax
from flax import nnx

from rnngen.models.language_model import RNNLanguageModel, build_model
from rnngen.plugins import import_cell_module
from rnngen.training.losses import AUTO
from rnngen.training.optimizer import make_optimizer, make_schedule
from rnngen.training.state import TrainState, create_train_state
from rnngen.training.steps import ApplyFn, LossFn, make_apply_fn, make_loss_fn


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
    loss_fn = make_loss_fn(
        graphdef, config.train.get("loss_chunk_size", AUTO), config.train.get("compute_dtype", "float32")
    )
    return Setup(model, make_apply_fn(graphdef), optimizer, make_schedule(config.train), state, loss_fn)


def abstract_state(state: Any, shardings: Any = None) -> Any:
    """The shapes and dtypes of ``state``, a restore target for Orbax.

    ``shardings`` (a pytree like ``state``, :func:`rnngen.training.sharding.state_shardings`)
    places the restored arrays on the current mesh, whatever mesh wrote them.
    """
    if shardings is None:
        return jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), state)
    return jax.tree_util.tree_map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), state, shardings)
