"""Checks of a training config before any work starts: values, and resume compatibility."""

from __future__ import annotations

import json
import os

from rnngen.errors import UsageError
from rnngen.data.text_files import ENCODING_ERRORS
from rnngen.data.tokenizers import TOKENIZERS
from rnngen.models.language_model import check_tying

POSITIVE_INTS = (
    "train.batch_size", "train.seq_len", "train.num_steps", "train.log_every", "train.eval_every",
    "train.eval_batch_size", "train.checkpoint_every", "train.keep_checkpoints", "train.sample_length",
    "model.num_layers", "model.hidden_size", "model.embed_dim",
)

# Batch sizes whose streams are split over the devices.
DEVICE_SPLIT_KEYS = ("train.batch_size", "train.eval_batch_size")

# What a checkpoint's state and data position depend on: resuming with other values is refused.
# Where the data lives (data.manual_dir, data.data_dir) may change.
RESUME_KEYS = (
    "seed", "data.source", "data.path", "data.split_fractions", "data.max_chars",
    "tokenizer.kind", "tokenizer.lowercase", "tokenizer.min_count", "tokenizer.max_size",
    "tokenizer.vocab_size", "tokenizer.subword_model",
    "model.cell", "model.cell_module", "model.num_layers", "model.hidden_size", "model.input",
    "model.embed_dim", "model.dropout", "model.forget_bias", "model.tie_embeddings",
    "train.batch_size", "train.seq_len", "train.optimizer", "train.grad_clip",
)


def lookup(config, key: str):
    node = config
    for part in key.split("."):
        node = node[part]
    return node


def resume_value(config, key: str):
    """The part of a setting the saved state depends on: for grad_clip only whether it is on."""
    value = lookup(config, key)
    return value > 0 if key == "train.grad_clip" else value


def validate_config(config) -> None:
    """Raises a UsageError naming the first out-of-range training setting."""
    for key in POSITIVE_INTS:
        if lookup(config, key) <= 0:
            raise UsageError(f"--config.{key} must be > 0, got {lookup(config, key)}")
    if not 0.0 <= config.model.dropout < 1.0:
        raise UsageError(f"--config.model.dropout must be in [0, 1), got {config.model.dropout}")
    if config.train.learning_rate <= 0:
        raise UsageError(f"--config.train.learning_rate must be > 0, got {config.train.learning_rate}")
    if config.train.grad_clip < 0:
        raise UsageError(f"--config.train.grad_clip must be >= 0 (0 is off), got {config.train.grad_clip}")
    if config.train.loss_chunk_size < -1:
        raise UsageError(
            "--config.train.loss_chunk_size must be >= -1 (0: auto, -1: never chunk), "
            f"got {config.train.loss_chunk_size}"
        )
    check_tying(config.model)
    if config.data.get("encoding_errors", "strict") not in ENCODING_ERRORS:
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
        new, old = resume_value(config, key), resume_value(saved_config, key)
        if json.dumps(new) != json.dumps(old):
            raise UsageError(
                f"the workdir holds a run trained with {key}={old!r}, not {new!r}: "
                "resume with the saved value or use a new --workdir"
            )


def absolutize_paths(config) -> None:
    """Makes the config's paths absolute, so the saved config works from any directory."""
    for section, name in (("data", "path"), ("data", "manual_dir"), ("data", "data_dir"), ("model", "cell_module")):
        value = config[section][name]
        if value and (name != "cell_module" or value.endswith(".py")):
            config[section][name] = os.path.abspath(os.path.expanduser(value))
