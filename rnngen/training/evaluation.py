"""Evaluation over a whole split, carrying the state through its streams.

Every tokenization is reported on one scale: bits per character, the split's
total negative log-likelihood in bits divided by the characters its predicted
tokens cover (``EncodedSplit.num_chars``).
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
    num_unk = 0.0 if unk_id is None else float(np.sum(split.ids[1:] == unk_id))
    return summarize_nll(nll, num_tokens, split.num_chars, num_unk)
