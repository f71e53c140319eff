"""What makes a checkpoint trustworthy: a digest of its state, and a meta item with its keys.

Every checkpoint's meta records the SHA-256 of its state's arrays (shapes,
dtypes and bytes, in pytree order), of its parameters alone (so that inference,
which restores only them, checks what it reads) and of its own JSON. A state or meta that
cannot be read, or whose digest differs, or a meta without its keys (the digests
among them) marks the checkpoint corrupt.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import jax
import numpy as np

DIGEST_KEY = "state_sha256"
PARAMS_DIGEST_KEY = "params_sha256"
META_DIGEST_KEY = "meta_sha256"
DIGEST_KEYS = (DIGEST_KEY, PARAMS_DIGEST_KEY, META_DIGEST_KEY)
META_KEYS = ("config", "tokenizer", "data_position")


class CorruptCheckpoint(Exception):
    """The checkpoint of ``step`` at ``path`` cannot be used; ``reason`` says why, on one line."""

    def __init__(self, step: int, path: str, reason: str):
        super().__init__(f"checkpoint step {step} ({path}) is unreadable: {reason}")
        self.step, self.path, self.reason = step, path, reason


def one_line(error: BaseException, limit: int = 240) -> str:
    """'TypeName: first line of the message' of the root cause of ``error`` (Orbax wraps the
    TensorStore error that says what is wrong), cut to ``limit`` characters."""
    while error.__cause__ is not None:
        error = error.__cause__
    lines = str(error).strip().splitlines()
    text = f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def state_digest(state: Any) -> str:
    """SHA-256 (hex) of every array of ``state``: dtype, shape and bytes, leaf by leaf."""
    digest = hashlib.sha256()
    for leaf in jax.tree_util.tree_leaves(jax.device_get(state)):
        array = np.ascontiguousarray(np.asarray(leaf))
        digest.update(f"{array.dtype.str}{array.shape}".encode("ascii"))
        digest.update(array.tobytes())
    return digest.hexdigest()


def meta_digest(meta: dict) -> str:
    """SHA-256 (hex) of ``meta``'s canonical JSON, its own digest left out."""
    content = {key: value for key, value in meta.items() if key != META_DIGEST_KEY}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode("utf-8")).hexdigest()


def sealed_meta(meta: dict, state: Any) -> dict:
    """``meta`` as saved: JSON values (tuples become lists), with the digests of ``state`` (a
    :class:`~rnngen.train.train.TrainState` of host arrays), of its ``params`` and of itself."""
    digests = {DIGEST_KEY: state_digest(state), PARAMS_DIGEST_KEY: state_digest(state.params)}
    meta = {**json.loads(json.dumps(meta)), **digests}
    return {**meta, META_DIGEST_KEY: meta_digest(meta)}


def check_meta(meta: Any) -> None:
    """Raises ValueError unless ``meta`` is a dict with the keys every checkpoint's meta has, its
    digests included, matching its own digest."""
    missing = [key for key in META_KEYS + DIGEST_KEYS if not isinstance(meta, dict) or key not in meta]
    if missing:
        raise ValueError(f"the meta item lacks {', '.join(missing)}")
    if meta_digest(meta) != meta[META_DIGEST_KEY]:
        raise ValueError("the meta item does not match the digest saved with it")


def check_state(state: Any, meta: dict) -> None:
    """Raises ValueError when ``state`` does not match the digest recorded in ``meta`` (checked by
    :func:`check_meta`)."""
    if state_digest(state) != meta[DIGEST_KEY]:
        raise ValueError("the state's arrays do not match the digest saved with them")


def check_params(params: Any, meta: dict) -> None:
    """Raises ValueError when ``params`` (restored alone) do not match their digest in ``meta``."""
    if state_digest(params) != meta[PARAMS_DIGEST_KEY]:
        raise ValueError("the parameters do not match the digest saved with them")
