"""Everything ``train_and_evaluate`` checks before it writes anything, in one place.

A user's mistake (a bad config value, a batch size the devices do not divide, a
workdir that cannot be written, a cell that cannot be imported, a resume that
changes the model, a corpus that is missing, binary, or too short for one training
window) is found here, so it leaves the workdir exactly as it was. The corpus is
loaded and tokenized once, here, and handed to the :class:`~rnngen.train.loop.Trainer`.
"""

from __future__ import annotations

import json
import os
from typing import Any, NamedTuple

import jax

from rnngen.checkpoints.integrity import CorruptCheckpoint
from rnngen.checkpoints.manager import (
    CHECKPOINT_DIR,
    Checkpointer,
    checkpoint_dir,
    config_from_meta,
)
from rnngen.data.batching import TBPTTBatcher
from rnngen.data.chunks import ENCODING_ERRORS
from rnngen.data.corpus import EncodedSplit
from rnngen.data.errors import DataError
from rnngen.data.token_store import prepare_splits
from rnngen.data.tokenizers import TOKENIZERS
from rnngen.errors import UsageError
from rnngen.models.cells import resolve_recurrence
from rnngen.models.language_model import INPUT_KINDS, check_tying
from rnngen.models.plugins import import_cell_module
from rnngen.train.optimizer import make_optimizer
from rnngen.train.train import COMPUTE_DTYPES

# What training writes in a workdir; each must be writable if it is already there.
WRITTEN = (CHECKPOINT_DIR, "tensorboard", "metrics.jsonl")


class PreparedData(NamedTuple):
    """A run's tokenized corpus: the tokenizer, the encoded training and validation
    splits, and the TBPTT batcher over the training ids."""

    tokenizer: Any
    train_split: EncodedSplit
    val_split: EncodedSplit
    batcher: TBPTTBatcher


def preflight(config, workdir: str) -> PreparedData:
    """Checks the batch sizes against the device count, the workdir, the model's pieces, resume
    compatibility and the corpus; returns the prepared data. Writes nothing: a UsageError or
    DataError leaves the workdir as it was."""
    check_divisible_by_devices(config, jax.device_count())
    check_workdir(workdir)
    check_buildable(config)
    meta = saved_meta(workdir)
    if meta is not None:
        check_resumable(config, config_from_meta(meta))
    return prepare_data(config, meta and meta["tokenizer"])


def check_workdir(workdir: str) -> None:
    """A UsageError unless ``workdir`` is a writable directory, or could be created as one
    (its nearest existing ancestor is a writable directory). Creates nothing."""
    path = os.path.abspath(workdir)
    existing = path
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        what = "is" if existing == path else f"cannot be created: {existing} is"
        raise UsageError(f"--workdir {workdir} {what} a file, not a directory; choose another --workdir")
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "is not writable" if existing == path else f"cannot be created: {existing} is not writable"
        raise UsageError(f"--workdir {workdir} {what}; fix its permissions or choose another --workdir")
    for name in WRITTEN if existing == path else ():
        item = os.path.join(path, name)
        if os.path.lexists(item) and not os.access(item, os.W_OK):
            raise UsageError(f"{item} is not writable; fix its permissions or choose another --workdir")


def check_buildable(config) -> None:
    """Imports ``model.cell_module`` and checks the cell and its recurrence, the input kind, the
    optimizer, the schedule and the compute dtype by name, so that building the model later cannot
    fail on a setting."""
    import_cell_module(config.model.cell_module)
    resolve_recurrence(config.model.cell, config.model.recurrence)
    if config.model.input not in INPUT_KINDS:
        raise UsageError(f"--config.model.input must be one of {', '.join(INPUT_KINDS)}, got {config.model.input!r}")
    make_optimizer(config.train)
    dtype = config.train.compute_dtype
    if dtype not in COMPUTE_DTYPES:
        raise UsageError(f"--config.train.compute_dtype must be one of {', '.join(COMPUTE_DTYPES)}, got {dtype!r}")


def saved_meta(workdir: str) -> dict | None:
    """The meta (config, tokenizer, data position) of the newest readable checkpoint in ``workdir``,
    or None for a fresh run. Reads only. Every checkpoint of a run holds the same tokenizer."""
    if not os.path.isdir(checkpoint_dir(workdir)):
        return None
    checkpointer = Checkpointer(workdir, create=False)
    try:
        for step in sorted(checkpointer.manager.all_steps(), reverse=True):
            try:
                return checkpointer.restore_checked_meta(step)
            except CorruptCheckpoint:  # the Trainer warns about it and sets it aside
                continue
        return None
    finally:
        checkpointer.close()


def prepare_data(config, tokenizer_json: dict | None = None) -> PreparedData:
    """Loads the corpus, learns the tokenizer (or restores ``tokenizer_json``, a checkpoint's),
    encodes the training and validation splits and checks that both are long enough:
    the training split for one window of ``train.batch_size`` x ``train.seq_len``, the
    validation split for one prediction."""
    tokenizer, splits = prepare_splits(config.data, config.tokenizer, tokenizer_json)
    train_split, val_split = splits["train"], splits["validation"]
    if not len(val_split.ids):
        raise DataError(
            f"the validation split of source {config.data.source!r} is empty: use a larger corpus or a larger "
            "validation fraction in --config.data.split_fractions"
        )
    if len(val_split.ids) < 2:
        raise DataError(
            f"the validation split has only {len(val_split.ids)} token(s), evaluation needs at least 2: "
            "use a larger corpus or a larger validation fraction in --config.data.split_fractions"
        )
    batcher = TBPTTBatcher(train_split.ids, config.train.batch_size, config.train.seq_len, config.seed)
    return PreparedData(tokenizer, train_split, val_split, batcher)


POSITIVE_INTS = (
    "train.batch_size", "train.seq_len", "train.num_steps", "train.log_every", "train.eval_every",
    "train.eval_batch_size", "train.checkpoint_every", "train.keep_checkpoints", "train.sample_length",
    "model.num_layers", "model.hidden_size", "model.embed_dim",
)

# Batch sizes whose streams are split over the devices.
DEVICE_SPLIT_KEYS = ("train.batch_size", "train.eval_batch_size")

DROPOUT_KEYS = ("model.dropout", "model.input_dropout", "model.hidden_dropout", "model.output_dropout",
                "model.embed_dropout", "model.weight_drop")


# What a checkpoint's state and data position depend on: resuming with other values is refused.
# Where the data lives (data.manual_dir, data.data_dir) may change.
RESUME_KEYS = (
    "seed", "data.source", "data.path", "data.train_path", "data.validation_path", "data.test_path",
    "data.split_fractions", "data.split_bytes", "data.max_chars",
    "tokenizer.kind", "tokenizer.lowercase", "tokenizer.min_count", "tokenizer.max_size",
    "tokenizer.pretokenized", "tokenizer.unk_token",
    "tokenizer.vocab_size", "tokenizer.subword_model",
    "model.cell", "model.cell_module", "model.num_layers", "model.hidden_size", "model.input",
    "model.embed_dim", *DROPOUT_KEYS, "model.locked_dropout", "model.forget_bias", "model.init", "model.tie_embeddings",
    "train.ar_alpha", "train.tar_beta",
    "train.batch_size", "train.seq_len", "train.optimizer", "train.grad_clip", "train.schedule",
)


def lookup(config, key: str):
    node = config
    for part in key.split("."):
        node = node[part]
    return node


def resume_value(config, key: str):
    """The part of a setting the saved state depends on: for grad_clip only whether it is on, for
    the schedule only whether it is plateau (whose state the optimizer state holds)."""
    value = lookup(config, key)
    if key == "train.grad_clip":
        return value > 0
    return value == "plateau" if key == "train.schedule" else value


def validate_config(config) -> None:
    """Raises a UsageError naming the first out-of-range training setting."""
    for key in POSITIVE_INTS:
        if lookup(config, key) <= 0:
            raise UsageError(f"--config.{key} must be > 0, got {lookup(config, key)}")
    for key in DROPOUT_KEYS:
        value = lookup(config, key)
        if value is not None and not 0.0 <= value < 1.0:
            raise UsageError(f"--config.{key} must be in [0, 1), got {value}")
    for key in ("train.ar_alpha", "train.tar_beta"):
        if lookup(config, key) < 0:
            raise UsageError(f"--config.{key} must be >= 0 (0 is off), got {lookup(config, key)}")
    if config.train.learning_rate <= 0:
        raise UsageError(f"--config.train.learning_rate must be > 0, got {config.train.learning_rate}")
    if config.train.plateau_factor <= 1.0 or config.train.plateau_patience < 0:
        raise UsageError("--config.train.plateau_factor must be > 1 and --config.train.plateau_patience >= 0, got "
                         f"{config.train.plateau_factor} and {config.train.plateau_patience}")
    if config.train.grad_clip < 0:
        raise UsageError(f"--config.train.grad_clip must be >= 0 (0 is off), got {config.train.grad_clip}")
    if config.train.loss_chunk_size < -1:
        raise UsageError(
            "--config.train.loss_chunk_size must be >= -1 (0: auto, -1: never chunk), "
            f"got {config.train.loss_chunk_size}"
        )
    check_tying(config.model)
    if config.data.encoding_errors not in ENCODING_ERRORS:
        raise UsageError(
            f"--config.data.encoding_errors must be one of {', '.join(ENCODING_ERRORS)}, "
            f"got {config.data.encoding_errors!r}"
        )
    if config.tokenizer.kind not in TOKENIZERS:
        raise UsageError(f"--config.tokenizer.kind must be one of {sorted(TOKENIZERS)}, got {config.tokenizer.kind!r}")
    if config.train.fsdp_min_size < 0:
        raise UsageError(f"--config.train.fsdp_min_size must be >= 0, got {config.train.fsdp_min_size}")


def check_divisible_by_devices(config, num_devices: int) -> None:
    """Raises a UsageError unless ``num_devices`` (the size of the mesh's data axis) divides the
    training and evaluation batch sizes, naming the nearest sizes that work."""
    for key in DEVICE_SPLIT_KEYS:
        value = lookup(config, key)
        if value % num_devices:
            below, above = value - value % num_devices, value - value % num_devices + num_devices
            examples = f"{below} or {above}" if below else str(above)
            raise UsageError(
                f"--config.{key}={value} is not divisible by the {num_devices} devices of the data axis; "
                f"use a multiple of {num_devices} such as {examples}"
            )


def check_resumable(config, saved_config) -> None:
    """Refuses to resume a run saved with settings its state depends on changed."""
    for key in RESUME_KEYS:
        if json.dumps(resume_value(config, key)) != json.dumps(resume_value(saved_config, key)):
            old, new = lookup(saved_config, key), lookup(config, key)
            raise UsageError(
                f"the workdir holds a run trained with {key}={old!r}, not {new!r}: "
                "resume with the saved value or use a new --workdir"
            )


def absolutize_paths(config) -> None:
    """Makes the config's paths absolute, so the saved config works from any directory."""
    keys = ("path", "train_path", "validation_path", "test_path", "manual_dir", "data_dir", "cache_dir")
    paths = [("data", key) for key in keys]
    for section, name in (*paths, ("model", "cell_module")):
        value = config[section][name]
        if value and (name != "cell_module" or value.endswith(".py")):
            config[section][name] = os.path.abspath(os.path.expanduser(value))
