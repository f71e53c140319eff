"""Evaluation over a whole split, carrying the state through its streams."""

from __future__ import annotations

import math
from typing import Any, Callable

import jax
import numpy as np

from rnngen.data.batching import eval_batches


def summarize_nll(total_nll: float, num_tokens: float) -> dict[str, float]:
    """Total nll in nats over ``num_tokens`` -> loss (nats/token), bpc, perplexity."""
    loss = total_nll / max(num_tokens, 1.0)
    return {"loss": loss, "bpc": loss / math.log(2.0), "perplexity": math.exp(min(loss, 700.0)), "tokens": num_tokens}


def evaluate(
    eval_step: Callable, params: Any, zero_carry: Any, ids: np.ndarray, batch_size: int, seq_len: int
) -> dict[str, float]:
    """Mean nll of every token of ``ids`` [n] given all tokens before it in its stream.

    The split is cut into ``batch_size`` contiguous streams; the carry flows from
    one window to the next, so each token is predicted from its whole stream.
    """
    carry = zero_carry
    total_nll, num_tokens = 0.0, 0.0
    pending = []
    for inputs, targets, mask in eval_batches(ids, batch_size, seq_len):
        nll_sum, count, carry = eval_step(params, carry, inputs, targets, mask)
        pending.append((nll_sum, count))
    for nll_sum, count in jax.device_get(pending):
        total_nll += float(nll_sum)
        num_tokens += float(count)
    return summarize_nll(total_nll, num_tokens)
