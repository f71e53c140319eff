"""Optimizers and learning-rate schedules from the ``train`` config.

``train.schedule=plateau`` is the schedule of PyTorch's ``word_language_model``: a
constant rate divided by ``train.plateau_factor`` whenever the validation loss has not
improved for more than ``train.plateau_patience`` evaluations. Its state (the scale, the
best loss, the evaluations without improvement) is a :class:`PlateauState` inside the
optimizer state, so checkpoints keep it and resuming is exact; the train step scales
its updates by it, and :func:`after_evaluation` updates it on the host.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rnngen.errors import UsageError

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
SCHEDULES = ("constant", "warmup_cosine", "plateau")


class PlateauState(NamedTuple):
    """scale: float32 [] (the learning rate's factor); best: float32 [] (the lowest validation loss so
    far, inf before the first); bad_evals: int32 [] (evaluations since it last improved)."""

    scale: jax.Array
    best: jax.Array
    bad_evals: jax.Array


def plateau_scale() -> optax.GradientTransformation:
    """Scales the updates by the :class:`PlateauState`'s ``scale`` (1 at first); the state changes only
    in :func:`after_evaluation`."""

    def init(params):
        return PlateauState(jnp.ones((), jnp.float32), jnp.full((), jnp.inf, jnp.float32), jnp.zeros((), jnp.int32))

    def update(updates, state, params=None):
        return jax.tree_util.tree_map(lambda u: u * state.scale.astype(u.dtype), updates), state

    return optax.GradientTransformation(init, update)


def is_plateau(node) -> bool:
    return isinstance(node, PlateauState)


def learning_rate_scale(opt_state: Any) -> jax.Array:
    """The plateau schedule's scale in ``opt_state``, or 1 without one."""
    found = [s.scale for s in jax.tree_util.tree_leaves(opt_state, is_leaf=is_plateau) if is_plateau(s)]
    return found[0] if found else jnp.ones((), jnp.float32)


def after_evaluation(opt_state: Any, val_loss: float, factor: float, patience: int) -> Any:
    """``opt_state`` with its :class:`PlateauState` (if any) told the validation loss: a new best resets
    the count, else the count grows, and past ``patience`` the scale is divided by ``factor`` and the
    count restarts. Every process computes the same values and keeps each array's sharding."""

    def told(state):
        if not is_plateau(state):
            return state
        scale, best, bad = (float(x) for x in jax.device_get((state.scale, state.best, state.bad_evals)))
        bad = 0 if val_loss < best else int(bad) + 1
        if bad > patience:
            scale, bad = scale / factor, 0
        values = (np.float32(scale), np.float32(min(best, val_loss)), np.int32(bad))
        return PlateauState(*(jax.make_array_from_callback((), old.sharding, lambda _, v=v: v)
                              for old, v in zip(state, values)))

    return jax.tree_util.tree_map(told, opt_state, is_leaf=is_plateau)


def make_schedule(train_config) -> optax.Schedule:
    """step -> learning rate."""
    cfg = train_config
    if cfg.schedule in ("constant", "plateau"):  # plateau: scaled on top, by plateau_scale
        return optax.constant_schedule(cfg.learning_rate)
    if cfg.schedule == "warmup_cosine":
        return optax.warmup_cosine_decay_schedule(
            init_value=0.0,
            peak_value=cfg.learning_rate,
            warmup_steps=cfg.warmup_steps,
            decay_steps=max(cfg.num_steps, cfg.warmup_steps + 1),
            end_value=cfg.learning_rate * cfg.final_lr_fraction,
        )
    raise UsageError(f"train.schedule must be one of {', '.join(SCHEDULES)}, got {cfg.schedule!r}")


def make_optimizer(train_config) -> optax.GradientTransformation:
    """Gradient clipping by global norm (if grad_clip > 0) followed by the optimizer."""
    cfg = train_config
    schedule = make_schedule(cfg)
    if cfg.optimizer == "adam":
        base = optax.adam(schedule)
    elif cfg.optimizer == "adamw":
        base = optax.adamw(schedule, weight_decay=cfg.weight_decay)
    elif cfg.optimizer == "rmsprop":
        base = optax.rmsprop(schedule, momentum=cfg.momentum)
    elif cfg.optimizer == "sgd":
        base = optax.sgd(schedule, momentum=cfg.momentum)
    else:
        raise UsageError(f"train.optimizer must be one of {', '.join(OPTIMIZERS)}, got {cfg.optimizer!r}")
    parts = [optax.clip_by_global_norm(cfg.grad_clip)] if cfg.grad_clip > 0 else []
    parts += [base, plateau_scale()] if cfg.schedule == "plateau" else [base]
    return optax.chain(*parts) if len(parts) > 1 else base
