"""Orbax checkpoints that make a workdir self-describing.

Each checkpoint (``WORKDIR/checkpoints/STEP``) holds two items:

- ``state``: the :class:`TrainState` pytree (params, optimizer state, step,
  carry, RNG key);
- ``meta``: JSON with the config, the tokenizer and the data position.

The latest ``keep`` checkpoints are kept, and the best one by validation loss.
A save is atomic: Orbax writes ``STEP.orbax-checkpoint-tmp`` and renames it to
``STEP`` when complete, so a process killed mid-save leaves only a temporary
directory, which Orbax never lists as a step and a training Checkpointer
deletes on start. Dropping an old checkpoint is atomic too: Orbax renames it into
``checkpoints/deleting/`` and it is deleted from there, so a kill mid-deletion
never leaves a half-deleted step. Every meta item records a digest of its state
(:mod:`rnngen.checkpoints.integrity`), so a corrupt checkpoint is
recognised when restored.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from typing import Any, Callable, Iterator

import jax
import ml_collections
import orbax.checkpoint as ocp
from orbax.checkpoint.checkpoint_managers import preservation_policy as policies

from rnngen.checkpoints.integrity import (
    DIGEST_KEYS,
    CorruptCheckpoint,
    check_meta,
    check_params,
    check_state,
    one_line,
    sealed_meta,
)
from rnngen.config import base_config
from rnngen.devices import fetch, wait_for_all_processes
from rnngen.errors import UsageError

CHECKPOINT_DIR = "checkpoints"
CORRUPT_DIR = "corrupt_checkpoints"
TMP_SUFFIX = ".orbax-checkpoint-tmp"  # Orbax's name for a save in progress: STEP.orbax-checkpoint-tmp
TRASH_DIR = "deleting"  # checkpoints/deleting/STEP: dropped checkpoints, moved here in one rename
VAL_LOSS = "val_loss"
# A failed save's sibling writes (TensorStore threads) may still create files after the failure:
# its temporary directory counts as gone once it has stayed absent this long (seconds).
SETTLED_S = 1.0
REMOVAL_TIMEOUT_S = 30.0



ORBAX_DIR = f"{os.sep}orbax{os.sep}"


class _OrbaxErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno >= logging.ERROR and ORBAX_DIR in record.pathname)


@contextlib.contextmanager
def orbax_errors_dropped() -> Iterator[None]:
    """Drops the ERROR records Orbax logs through absl inside the block."""
    logger, only_orbax = logging.getLogger("absl"), _OrbaxErrors()
    logger.addFilter(only_orbax)
    try:
        yield
    finally:
        logger.removeFilter(only_orbax)


def _val_loss(metrics: dict) -> float:
    return metrics[VAL_LOSS]


def checkpoint_dir(workdir: str) -> str:
    return os.path.join(os.path.abspath(workdir), CHECKPOINT_DIR)


def remove_for_good(path: str, settled_s: float = SETTLED_S, timeout_s: float = REMOVAL_TIMEOUT_S) -> None:
    """Deletes the directory ``path``, again whenever late writes recreate it, until it has stayed
    absent for ``settled_s`` seconds (or ``timeout_s`` have passed)."""
    deadline, absent_since = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        if os.path.lexists(path):
            shutil.rmtree(path, ignore_errors=True)
            absent_since = None
        elif absent_since is None:
            absent_since = time.monotonic()
        elif time.monotonic() - absent_since >= settled_s:
            return
        time.sleep(0.02)


class Checkpointer:
    """Saves and restores train states and their metadata in ``workdir``.

    ``cleanup=True`` (training only: it writes) deletes the temporary
    directories of saves that a killed process left unfinished.
    """

    def __init__(self, workdir: str, keep: int = 3, create: bool = True, cleanup: bool = False):
        self.workdir = os.path.abspath(workdir)
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
            cleanup_tmp_directories=cleanup,
            todelete_subdir=TRASH_DIR,
            enable_async_checkpointing=False,
        )
        self.manager = ocp.CheckpointManager(checkpoint_dir(workdir), options=options)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def steps(self) -> list[int]:
        return sorted(self.manager.all_steps())

    def step_path(self, step: int) -> str:
        return os.path.join(checkpoint_dir(self.workdir), str(step))

    def val_loss(self, step: int) -> float | None:
        metrics = self.manager.metrics(step)
        return None if not metrics else metrics.get(VAL_LOSS)

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

    def candidates(self, which: str | int) -> list[int]:
        """The steps to try for 'latest', 'best' or a step number, in order of preference.

        A step number is the only candidate. 'latest' goes on to the older steps;
        'best' to the next lowest validation losses, then to the steps without one,
        newest first.
        """
        first = self.resolve(which)
        if which not in ("latest", "best"):
            return [first]

        def preference(step: int):
            loss = self.val_loss(step) if which == "best" else None
            return (loss is None, loss or 0.0, -step)

        return [first, *sorted((s for s in self.steps() if s != first), key=preference)]

    def save(self, state: Any, meta: dict, val_loss: float | None = None) -> None:
        """Saves ``state`` at its step with ``meta`` (JSON-able; the digests of the state and meta
        are added) and the optional validation loss. A save that fails leaves no partial files behind."""
        step = int(jax.device_get(state.step))
        metrics = None if val_loss is None else {VAL_LOSS: float(val_loss)}
        meta = sealed_meta(meta, fetch(state))  # the digest of the global arrays, however they are split
        self._empty_trash()
        try:
            with orbax_errors_dropped():  # a failure is the caller's to report, in one line
                self.manager.save(
                    step,
                    args=ocp.args.Composite(state=ocp.args.PyTreeSave(state), meta=ocp.args.JsonSave(meta)),
                    metrics=metrics,
                    force=True,
                )
                self.manager.wait_until_finished()
        except Exception:
            remove_for_good(self.step_path(step) + TMP_SUFFIX)
            raise
        self._empty_trash()

    def _empty_trash(self) -> None:
        """Deletes the checkpoints Orbax dropped (and any a killed process left half-deleted); process 0's job."""
        if jax.process_index() == 0:
            shutil.rmtree(os.path.join(checkpoint_dir(self.workdir), TRASH_DIR), ignore_errors=True)

    def restore_meta(self, step: int) -> dict:
        """The meta item of ``step`` (config, tokenizer, data position)."""
        meta = self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta
        return {key: value for key, value in meta.items() if key not in DIGEST_KEYS}

    def restore_checked_meta(self, step: int) -> dict:
        """The meta item of ``step`` with its digests, checked; a CorruptCheckpoint if unreadable."""
        try:
            meta = self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta
            check_meta(meta)
        except Exception as error:
            raise CorruptCheckpoint(step, self.step_path(step), one_line(error)) from error
        return meta

    def restore_checked_state(self, step: int, abstract_state: Any, meta: dict) -> Any:
        """:meth:`restore_state`, checked against the digest in ``meta``; a CorruptCheckpoint if bad."""
        return self._checked(step, lambda: self.restore_state(step, abstract_state), check_state, meta)

    def restore_checked_params(self, step: int, abstract_params: Any, meta: dict) -> Any:
        """:meth:`restore_params`, checked against the parameters' digest in ``meta``; a CorruptCheckpoint if bad."""
        return self._checked(step, lambda: self.restore_params(step, abstract_params), check_params, meta)

    def _checked(self, step: int, restore: Callable[[], Any], check: Callable[[Any, dict], None], meta: dict) -> Any:
        try:
            restored = restore()
            check(fetch(restored), meta)
        except Exception as error:
            raise CorruptCheckpoint(step, self.step_path(step), one_line(error)) from error
        return restored

    def set_aside(self, step: int) -> str | None:
        """Moves the checkpoint of ``step`` to ``WORKDIR/corrupt_checkpoints/STEP`` (``STEP.1``... if
        taken), so the step can be saved again; returns the new path. Nothing is deleted.

        With several processes sharing the workdir, process 0 moves it (and gets the path; the
        others get None) while the others wait for it."""
        target = None
        if jax.process_index() == 0:
            target_dir = os.path.join(self.workdir, CORRUPT_DIR)
            os.makedirs(target_dir, exist_ok=True)
            target, n = os.path.join(target_dir, str(step)), 0
            while os.path.exists(target):
                n += 1
                target = os.path.join(target_dir, f"{step}.{n}")
            os.rename(self.step_path(step), target)
        wait_for_all_processes(f"rnngen: checkpoint {step} set aside")
        self.manager.reload()
        return target

    def restore_state(self, step: int, abstract_state: Any) -> Any:
        """Restores the state of ``step`` into the structure of ``abstract_state``; ShapeDtypeStructs
        with shardings place it on the current mesh, whatever devices wrote it."""
        return self._restore_tree(step, abstract_state)

    def restore_params(self, step: int, abstract_params: Any) -> Any:
        """Restores only the parameters of ``step`` (the ``params`` of its state) into the structure of
        ``abstract_params``: the optimizer state is never read, so inference reads a third of an
        Adam checkpoint."""
        return self._restore_tree(step, {"params": abstract_params}, partial=True)["params"]

    def _restore_tree(self, step: int, item: Any, partial: bool = False) -> Any:
        """The ``state`` item of ``step`` in the structure of ``item``, only its keys with ``partial``
        (one handler, PyTree's, saves and restores it, so one Checkpointer can do both)."""
        restore_args = ocp.checkpoint_utils.construct_restore_args(item)
        args = ocp.args.PyTreeRestore(item=item, restore_args=restore_args, partial_restore=partial)
        return self.manager.restore(step, args=ocp.args.Composite(state=args)).state

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
