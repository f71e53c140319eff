"""Helpers shared by the tests: small configs, the real command as a subprocess, readers of what a run wrote."""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp

from rnngen.config import base_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "PYTHONPATH": REPO}  # the package is importable from any working directory
RNNGEN = [sys.executable, "-m", "rnngen.cli"]  # the real command: rnngen.cli.command, as the console script


def rnngen(*args, check=True, cwd=REPO, env=ENV) -> subprocess.CompletedProcess:
    """Runs ``rnngen ARGS`` in a subprocess; with ``check``, a failure is an AssertionError showing its stderr."""
    result = subprocess.run(RNNGEN + list(args), capture_output=True, text=True, timeout=300, cwd=cwd, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"rnngen {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result

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


def weighted_sum(hs, carry, key):
    """A scalar that depends on every output and every final carry entry with distinct weights."""
    leaves = [hs] + jax.tree.leaves(carry)
    keys = jax.random.split(key, len(leaves))
    return sum(jnp.sum(x * jax.random.normal(k, x.shape)) for k, x in zip(keys, leaves))
