"""Everything ``train_and_evaluate`` checks before it writes anything.

A user's mistake (a batch size the devices do not divide, a workdir that
cannot be written, a cell that cannot be imported, a resume that changes the
model, a corpus that is missing, binary, or too short for one training window)
is found here, so it leaves the workdir exactly as it was. The corpus is loaded and tokenized once, here, and handed
to the :class:`~rnngen.training.loop.Trainer`.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import jax

from rnngen.data.batching import TBPTTBatcher
from rnngen.data.corpus import EncodedSplit, encode_split, load_corpus
from rnngen.data.errors import DataError
from rnngen.errors import UsageError
from rnngen.models.cells import get_cell
from rnngen.models.language_model import INPUT_KINDS
from rnngen.plugins import import_cell_module
from rnngen.training.checkpoint_integrity import CorruptCheckpoint
from rnngen.training.checkpointing import CHECKPOINT_DIR, Checkpointer, checkpoint_dir, config_from_meta
from rnngen.training.optimizer import make_optimizer
from rnngen.training.run_checks import check_divisible_by_devices, check_resumable
from rnngen.training.steps import COMPUTE_DTYPES

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
    """Imports ``model.cell_module`` and checks the cell, the input kind, the optimizer, the
    schedule and the compute dtype by name, so that building the model later cannot fail on a
    setting."""
    import_cell_module(config.model.cell_module)
    get_cell(config.model.cell)
    if config.model.input not in INPUT_KINDS:
        raise UsageError(f"--config.model.input must be one of {', '.join(INPUT_KINDS)}, got {config.model.input!r}")
    make_optimizer(config.train)
    dtype = config.train.get("compute_dtype", "float32")
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
    tokenizer, texts = load_corpus(config.data, config.tokenizer, tokenizer_json)
    train_split = encode_split(tokenizer, texts["train"])
    batcher = TBPTTBatcher(train_split.ids, config.train.batch_size, config.train.seq_len, config.seed)
    val_split = encode_split(tokenizer, texts["validation"])
    if len(val_split.ids) < 2:
        raise DataError(
            f"the validation split has only {len(val_split.ids)} token(s), evaluation needs at least 2: "
            "use a larger corpus or a larger validation fraction in --config.data.split_fractions"
        )
    return PreparedData(tokenizer, train_split, val_split, batcher)
