"""Optimizers and learning-rate schedules from the ``train`` config."""

from __future__ import annotations

import optax

from rnngen.errors import UsageError

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
SCHEDULES = ("constant", "warmup_cosine")


def make_schedule(train_config) -> optax.Schedule:
    """step -> learning rate."""
    cfg = train_config
    if cfg.schedule == "constant":
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
    if cfg.grad_clip > 0:
        return optax.chain(optax.clip_by_global_norm(cfg.grad_clip), base)
    return base
