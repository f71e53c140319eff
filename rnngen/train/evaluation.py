"""Evaluation over a whole split, carrying the state through its streams.

Every tokenization is reported on one scale: bits per character, the split's
total negative log-likelihood in bits divided by the characters its predicted
tokens cover (``EncodedSplit.num_chars``).

How much context a model uses: :func:`evaluate_with_resets` resets the state every
k characters. A model that carries information over long distances loses more when
its state is cut often; resets fall where a token's start offset crosses a multiple
of k characters, so the same k means the same text span for every tokenization.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import jax
import numpy as np

from rnngen.data.batching import eval_batches
from rnngen.data.corpus import EncodedSplit


def summarize_nll(total_nll: float, num_tokens: float, num_chars: float, num_unk: float = 0.0) -> dict[str, float]:
    """Total nll in nats over ``num_tokens`` predicted tokens covering ``num_chars`` characters ->
    loss (nats/token), bits_per_token, bpc (bits/character), perplexity (per token), unk_rate."""
    loss = total_nll / max(num_tokens, 1.0)
    return {
        "loss": loss,
        "bits_per_token": loss / math.log(2.0),
        "bpc": total_nll / math.log(2.0) / max(num_chars, 1.0),
        "perplexity": math.exp(min(loss, 700.0)),
        "unk_rate": num_unk / max(num_tokens, 1.0),
        "tokens": num_tokens,
        "characters": num_chars,
    }


def add_up(pending: list) -> tuple[float, float]:
    """(nll, count) pairs of device scalars -> their float64 totals (one host transfer)."""
    sums = np.asarray(jax.device_get(pending), dtype=np.float64).reshape(-1, 2)
    return float(sums[:, 0].sum()), float(sums[:, 1].sum())


def total_nll(eval_step: Callable, params: Any, zero_carry: Any, ids: np.ndarray, batch_size: int, seq_len: int):
    """(total nll in nats, number of predicted tokens) of every token of ``ids`` [n] after the first.

    The split is cut into ``batch_size`` contiguous streams; the carry flows from
    one window to the next, so each token is predicted from its whole stream.
    """
    carry, pending = zero_carry, []
    for inputs, targets, mask in eval_batches(ids, batch_size, seq_len):
        nll_sum, count, carry = eval_step(params, carry, inputs, targets, mask)
        pending.append((nll_sum, count))
    return add_up(pending)


def evaluate(
    eval_step: Callable, params: Any, zero_carry: Any, split: EncodedSplit, batch_size: int, seq_len: int,
    unk_id: int | None = None,
) -> dict[str, float]:
    """Metrics of :func:`summarize_nll` over a whole encoded split; ``unk_id`` counts unknown targets."""
    nll, num_tokens = total_nll(eval_step, params, zero_carry, split.ids, batch_size, seq_len)
    num_unk = 0.0 if unk_id is None or unk_id < 0 else float(np.sum(split.ids[1:] == unk_id))
    return summarize_nll(nll, num_tokens, split.num_chars, num_unk)


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
