"""Truncated-BPTT training windows and stateful evaluation batches (numpy).

A window `w` [batch, seq_len + 1] gives inputs `w[:, :-1]` and targets
`w[:, 1:]`; consecutive windows of a stream overlap by one token, so that
every target in a stream is predicted once.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from rnngen.data.errors import DataError


class TBPTTBatcher:
    """Contiguous streams of a token stream, window after window, per epoch.

    Epoch e draws an offset `o` in [0, seq_len) from (seed, e). Stream b starts
    at `o + b * stride` with `stride = (n - seq_len + 1) // batch_size`, and
    batch k holds positions [k * seq_len, k * seq_len + seq_len] of every
    stream. `window(position)` is a pure function of the position
    `{"epoch": e, "batch": k}`, so resuming from a saved position is exact.
    """

    def __init__(self, ids: np.ndarray, batch_size: int, seq_len: int, seed: int):
        """`ids`: int token ids [n], in memory or memory-mapped (windows are read from it as needed)."""
        if batch_size < 1 or seq_len < 1:
            raise DataError(f"batch_size={batch_size} and seq_len={seq_len} must be positive")
        self.ids = ids.reshape(-1) if isinstance(ids, np.ndarray) else np.asarray(ids, np.int32).reshape(-1)
        self.batch_size, self.seq_len, self.seed = batch_size, seq_len, seed
        need = min_tokens(batch_size, seq_len)
        if len(self.ids) < need:
            raise DataError(
                f"the training split has {len(self.ids)} tokens but batch_size="
                f"{batch_size}, seq_len={seq_len} need at least {need} "
                "(batch_size * (seq_len + 1) + seq_len - 1): use a larger corpus or "
                "a smaller --config.train.batch_size / --config.train.seq_len"
            )
        self.stride = (len(self.ids) - seq_len + 1) // batch_size
        self.batches_per_epoch = (self.stride - 1) // seq_len

    def offset(self, epoch: int) -> int:
        """The epoch's start offset in [0, seq_len), from (seed, epoch)."""
        return int(np.random.default_rng([self.seed, epoch]).integers(self.seq_len))

    def window(self, position: dict) -> tuple[np.ndarray, bool]:
        """Returns (int32 windows [batch, seq_len + 1], starts_stream).

        `starts_stream` is True for batch 0 of an epoch, where streams begin and
        the model's carry must be reset.
        """
        epoch, k = self._check(position)
        starts = self.offset(epoch) + k * self.seq_len + self.stride * np.arange(self.batch_size)
        return self.ids[starts[:, None] + np.arange(self.seq_len + 1)].astype(np.int32), k == 0

    def next_position(self, position: dict) -> dict:
        """The position after `position` (the next epoch after its last batch)."""
        epoch, k = self._check(position)
        if k + 1 == self.batches_per_epoch:
            return {"epoch": epoch + 1, "batch": 0}
        return {"epoch": epoch, "batch": k + 1}

    def _check(self, position: dict) -> tuple[int, int]:
        epoch, k = int(position["epoch"]), int(position["batch"])
        if epoch < 0 or not 0 <= k < self.batches_per_epoch:
            raise DataError(
                f"position {position} is outside epochs >= 0, batches [0, {self.batches_per_epoch})"
            )
        return epoch, k


def min_tokens(batch_size: int, seq_len: int) -> int:
    """Fewest tokens for one TBPTT batch at any epoch offset."""
    return batch_size * (seq_len + 1) + seq_len - 1


def eval_batches(
    ids: np.ndarray, batch_size: int, seq_len: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yields (inputs [B, T] int32, targets [B, T] int32, mask [B, T] float32).

    The n - 1 predictions (target ids[p + 1] from input ids[p]) are cut into
    `min(B, n - 1)` contiguous streams of `ceil((n - 1) / streams)`
    predictions; windows of each stream come in order, so a caller can carry
    the state across them. Padding (id 0, mask 0) fills the ends of short
    streams and any unused rows; every real target has mask 1 exactly once.
    """
    ids = ids.reshape(-1) if isinstance(ids, np.ndarray) else np.asarray(ids, np.int32).reshape(-1)
    if len(ids) < 2:
        raise DataError(
            f"an evaluation split needs at least 2 tokens, "
            f"got {len(ids)}: use a larger corpus or validation split"
        )
    m = len(ids) - 1
    per_stream = -(-m // min(batch_size, m))
    n_windows = -(-per_stream // seq_len)
    for w in range(n_windows):  # one window at a time: a memory-mapped split is never read whole
        t = np.arange(w * seq_len, (w + 1) * seq_len)
        p = np.arange(batch_size)[:, None] * per_stream + t
        valid = (t < per_stream) & (p < m)
        inputs = np.where(valid, ids[np.minimum(p, m - 1)], 0).astype(np.int32)
        targets = np.where(valid, ids[np.minimum(p + 1, m)], 0).astype(np.int32)
        yield inputs, targets, valid.astype(np.float32)
