"""Small configs and readers shared by the training and CLI tests."""

import json
import os

from rnngen.config import base_config

TINY_OVERRIDES = {
    "model.num_layers": 1,
    "model.hidden_size": 16,
    "model.embed_dim": 8,
    "train.batch_size": 4,
    "train.eval_batch_size": 4,
    "train.seq_len": 16,
    "train.num_steps": 6,
    "train.log_every": 1,
    "train.eval_every": 3,
    "train.checkpoint_every": 3,
    "train.sample_length": 20,
}


def tiny_config(corpus_path: str, **changes):
    """A config that trains in seconds on a small text file."""
    config = base_config()
    config.data.source = "text"
    config.data.path = corpus_path
    for key, value in {**TINY_OVERRIDES, **changes}.items():
        section, name = key.split(".")
        config[section][name] = value
    return config


def cli_overrides(corpus_path: str, **changes) -> list[str]:
    """The same tiny config as --config.KEY=VALUE arguments."""
    values = {"data.source": "text", "data.path": corpus_path, **TINY_OVERRIDES, **changes}
    return [f"--config.{key}={value}" for key, value in values.items()]


def read_metrics(workdir: str, split: str) -> list[dict]:
    with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
        return [r for r in map(json.loads, f) if r["split"] == split]


def tree_snapshot(path) -> dict | None:
    """Every entry at and below ``path`` -> (size, mtime in ns); None when ``path`` does not exist.

    Equal snapshots before and after a command mean it created, deleted, resized and
    rewrote nothing there.
    """
    path = str(path)
    if not os.path.lexists(path):
        return None
    entries = [path]
    for root, dirs, files in os.walk(path):
        entries += [os.path.join(root, name) for name in dirs + files]
    return {os.path.relpath(entry, path): (os.lstat(entry).st_size, os.lstat(entry).st_mtime_ns) for entry in entries}
