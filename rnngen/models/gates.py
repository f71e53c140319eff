"""The per-step math of the built-in cells, forward and backward, for :func:`fused_scan`.

Each function works on one time step of ``batch`` rows; ``x`` [batch, gates] is
the input projection, ``hz`` [batch, gates] the recurrent one
(``h_{t-1} @ w_hh (+ b_hh)``). Gate order and formulas are PyTorch's (see
:mod:`rnngen.models.cells`). The backward functions are the exact derivatives,
written out so that the backward pass keeps no more than the activated gates.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnngen.models.fused_scan import Gates


def sigmoid(x: jax.Array) -> jax.Array:
    """The logistic function as 0.5 * tanh(x / 2) + 0.5 (an identity; one tanh vectorises well on CPU)."""
    return 0.5 * jnp.tanh(0.5 * x) + 0.5


def _lstm_forward(x, hz, carry):
    """carry (h, c) [batch, hidden] each; residual: the activated gates i, f, g, o [batch, 4 * hidden], no extra.

    All four gates go through one tanh over the whole [batch, 4 * hidden] block:
    sigmoid(x) = 0.5 * tanh(0.5 * x) + 0.5 for i, f, o and tanh(x) for g (faster than four
    separate activations: docs/performance.md).
    """
    _, c = carry
    hidden = c.shape[-1]
    half, one = jnp.full((hidden,), 0.5, x.dtype), jnp.ones((hidden,), x.dtype)
    scale = jnp.concatenate([half, half, one, half])
    acts = jnp.tanh((x + hz) * scale) * scale + jnp.concatenate([half, half, 0 * one, half])
    i, f, g, o = jnp.split(acts, 4, axis=-1)
    c = f * c + i * g
    h = o * jnp.tanh(c)
    return (h, c), h, (acts, None)


def _lstm_backward(residual, dh, dc, before, after):
    (i, f, g, o), _ = residual
    tanh_c = jnp.tanh(after[1])
    dc = dc + dh * o * (1.0 - tanh_c * tanh_c)
    dz = (dc * g * i * (1.0 - i), dc * before[1] * f * (1.0 - f), dc * i * (1.0 - g * g), dh * tanh_c * o * (1.0 - o))
    return dz, None, None, dc * f


def _gru_forward(x, hz, carry):
    """carry (h, None); residual: r, z, n [batch, 3 * hidden] and, as the extra, the recurrent part of n."""
    h, _ = carry
    hidden = h.shape[-1]
    r, z = jnp.split(sigmoid(x[:, : 2 * hidden] + hz[:, : 2 * hidden]), 2, axis=-1)
    x_n, h_n = x[:, 2 * hidden :], hz[:, 2 * hidden :]
    n = jnp.tanh(x_n + r * h_n)
    h = (1.0 - z) * n + z * h
    return (h, None), h, (jnp.concatenate([r, z, n], axis=-1), h_n)


def _gru_backward(residual, dh, d_rest, before, after):
    """The gradient of n's recurrent part is ``dn * r``, not ``dn``: dhz replaces dx's n-block."""
    (r, z, n), h_n = residual
    dn = dh * (1.0 - z) * (1.0 - n * n)
    dr = dn * h_n * r * (1.0 - r)
    dz = dh * (before[0] - n) * z * (1.0 - z)
    return (dr, dz, dn), (None, None, dn * r), dh * z, None


def _rnn_forward(x, hz, carry):
    """carry (h, None); no residual: the backward pass reads h_t from the outputs."""
    h = jnp.tanh(x + hz)
    return (h, None), h, None


def _rnn_backward(residual, dh, d_rest, before, after):
    h = after[0]
    return dh * (1.0 - h * h), None, None, None


LSTM_GATES = Gates(_lstm_forward, _lstm_backward, in_place=True, blocks=4)  # every read of x feeds acts
GRU_GATES = Gates(_gru_forward, _gru_backward, in_place=True, blocks=3)  # every read of x feeds r, z or n
RNN_GATES = Gates(_rnn_forward, _rnn_backward)
