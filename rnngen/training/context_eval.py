"""How much context a model uses: evaluation with the state reset every k characters.

A model that carries information over long distances loses more when its
state is cut often. Resets fall where a token's start offset crosses a multiple
of k characters, so the same k means the same text span for every tokenization.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from rnngen.data.corpus import EncodedSplit
from rnngen.training.evaluation import add_up, summarize_nll


def reset_rows(split: EncodedSplit, every_chars: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row per segment: (inputs int32 [segments, L], targets int32 [segments, L], mask float32 [segments, L]).

    Target positions 1..n-1 are grouped by ``starts // every_chars``; a row's
    inputs are the tokens before its targets (the state starts from zero, the
    previous token is still the first input), L the longest segment.
    """
    positions = np.arange(1, len(split.ids))
    segment = split.starts[positions] // every_chars
    first = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]])
    lengths = np.diff(np.r_[first, len(positions)])
    row = np.repeat(np.arange(len(first)), lengths)
    col = np.arange(len(positions)) - first[row]
    shape = (len(first), int(lengths.max()))
    inputs, targets, mask = np.zeros(shape, np.int32), np.zeros(shape, np.int32), np.zeros(shape, np.float32)
    inputs[row, col] = split.ids[positions - 1]
    targets[row, col] = split.ids[positions]
    mask[row, col] = 1.0
    return inputs, targets, mask


def evaluate_with_resets(
    eval_step: Callable, params: Any, zero_carry: Any, split: EncodedSplit, every_chars: int, batch_size: int
) -> dict[str, float]:
    """Metrics of :func:`summarize_nll` when every segment of ``every_chars`` characters starts from
    the zero state. ``zero_carry`` is for ``batch_size`` rows; rows are padded to a multiple of it."""
    inputs, targets, mask = reset_rows(split, every_chars)
    pad = -len(inputs) % batch_size
    inputs, targets, mask = (np.pad(a, ((0, pad), (0, 0))) for a in (inputs, targets, mask))
    pending = []
    for rows in range(0, len(inputs), batch_size):
        block = slice(rows, rows + batch_size)
        nll_sum, count, _ = eval_step(params, zero_carry, inputs[block], targets[block], mask[block])
        pending.append((nll_sum, count))
    return summarize_nll(*add_up(pending), split.num_chars)
