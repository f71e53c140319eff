"""Scoring text: the surprisal of every token after the first, from the zero state, one stream.

The text is cut into windows of ``window`` tokens that one ``lax.scan`` runs in
order, the carry flowing from each window to the next (the model sees the whole
text, as ``evaluate`` with batch size 1 does); only one window's logits
[window, vocab] exist at a time. The number of windows is rounded up to a power
of two so that texts of similar lengths share one compiled function; padding
comes after the text and cannot change its tokens' values (the model is causal).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

WINDOW = 256


@functools.partial(jax.jit, static_argnames=("apply_fn",))
def window_nll(apply_fn, params: Any, zero_carry: Any, inputs: jax.Array, targets: jax.Array) -> jax.Array:
    """inputs, targets int32 [num_windows, window] (one stream, in order) -> nll in nats
    float32 [num_windows, window] of each target given everything before it."""

    def one_window(carry, window):
        window_inputs, window_targets = window
        logits, carry = apply_fn(params, window_inputs[None, :], carry)
        nll = optax.softmax_cross_entropy_with_integer_labels(logits[0].astype(jnp.float32), window_targets)
        return carry, nll

    _, nll = jax.lax.scan(one_window, zero_carry, (inputs, targets))
    return nll


def token_surprisals(apply_fn, params: Any, zero_carry: Any, ids: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """ids int [n], n >= 2 -> float64 [n - 1]: -log2 p(ids[i] | ids[:i]) for i >= 1; zero_carry of 1 stream."""
    num_targets = len(ids) - 1
    num_windows = 1 << max(0, math.ceil(math.log2(-(-num_targets // window))))
    padded = np.zeros(num_windows * window + 1, np.int32)
    padded[: len(ids)] = ids
    inputs = padded[:-1].reshape(num_windows, window)
    targets = padded[1:].reshape(num_windows, window)
    nll = np.asarray(window_nll(apply_fn, params, zero_carry, inputs, targets), np.float64).reshape(-1)
    return nll[:num_targets] / math.log(2.0)
