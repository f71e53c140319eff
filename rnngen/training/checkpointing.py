"""Orbax checkpoints that make a workdir self-describing.

Each checkpoint (``WORKDIR/checkpoints/STEP``) holds two items:

- ``state``: the :class:`TrainState` pytree (params, optimizer state, step,
  carry, RNG key);
- ``meta``: JSON with the config, the tokenizer and the data position.

The latest ``keep`` checkpoints are kept, and the best one by validation loss.
"""

from __future__ import annotations

import json
import os
from typing import Any

import jax
import ml_collections
import orbax.checkpoint as ocp
from orbax.checkpoint.checkpoint_managers import preservation_policy as policies

from rnngen.config import base_config
from rnngen.errors import UsageError

CHECKPOINT_DIR = "checkpoints"
VAL_LOSS = "val_loss"


def _val_loss(metrics: dict) -> float:
    return metrics[VAL_LOSS]


def checkpoint_dir(workdir: str) -> str:
    return os.path.join(os.path.abspath(workdir), CHECKPOINT_DIR)


class Checkpointer:
    """Saves and restores train states and their metadata in ``workdir``."""

    def __init__(self, workdir: str, keep: int = 3, create: bool = True):
        policy = policies.AnyPreservationPolicy(
            [
                policies.LatestN(n=keep),
                # BestN keeps the last n after sorting: descending, so the lowest loss.
                policies.BestN(
                    get_metric_fn=_val_loss, reverse=True, n=1,
                    keep_checkpoints_without_metrics=False,
                ),
            ]
        )
        options = ocp.CheckpointManagerOptions(
            best_fn=_val_loss,  # also what makes Orbax record the metrics at all
            best_mode="min",
            preservation_policy=policy,
            create=create,
            enable_async_checkpointing=False,
        )
        self.manager = ocp.CheckpointManager(checkpoint_dir(workdir), options=options)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def best_step(self) -> int | None:
        """The step with the lowest validation loss (the latest if none has one)."""
        best = self.manager.best_step()
        return self.latest_step() if best is None else best

    def resolve(self, which: str | int) -> int:
        """'latest', 'best' or a step number -> an existing step, or a UsageError."""
        steps = self.manager.all_steps()
        if not steps:
            raise UsageError(f"no checkpoint in {self.manager.directory}: train first with `rnngen train --workdir ...`")
        if which == "latest":
            return self.latest_step()
        if which == "best":
            return self.best_step()
        try:
            step = int(which)
        except ValueError:
            raise UsageError(f"--checkpoint must be best, latest or a step number, got {which!r}") from None
        if step not in steps:
            raise UsageError(f"no checkpoint at step {step}; available steps: {', '.join(map(str, sorted(steps)))}")
        return step

    def save(self, state: Any, meta: dict, val_loss: float | None = None) -> None:
        """Saves ``state`` at its step with ``meta`` (JSON-able) and the optional validation loss."""
        step = int(jax.device_get(state.step))
        metrics = None if val_loss is None else {VAL_LOSS: float(val_loss)}
        self.manager.save(
            step,
            args=ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)),
            metrics=metrics,
            force=True,
        )
        self.manager.wait_until_finished()

    def restore_meta(self, step: int) -> dict:
        return self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta

    def restore_state(self, step: int, abstract_state: Any) -> Any:
        """Restores the state of ``step`` into the structure of ``abstract_state``."""
        restored = self.manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract_state)))
        return restored.state

    def close(self) -> None:
        self.manager.close()


def make_meta(config: ml_collections.ConfigDict, tokenizer_json: dict, data_position: dict) -> dict:
    """The JSON item saved next to every state."""
    return {"config": json.loads(config.to_json()), "tokenizer": tokenizer_json, "data_position": data_position}


def config_from_meta(meta: dict) -> ml_collections.ConfigDict:
    """The config a checkpoint was trained with (lists stand where tuples were).

    Keys added to rnngen after the checkpoint was written take their defaults,
    which reproduce the behaviour of the version that wrote it.
    """
    return ml_collections.ConfigDict(_merged(base_config().to_dict(), meta["config"]))


def _merged(defaults: dict, saved: dict) -> dict:
    """``saved`` with the keys only ``defaults`` has filled in, section by section."""
    merged = dict(defaults)
    for key, value in saved.items():
        is_section = isinstance(value, dict) and isinstance(defaults.get(key), dict)
        merged[key] = _merged(defaults[key], value) if is_section else value
    return merged
