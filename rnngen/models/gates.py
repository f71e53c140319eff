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
    """x: the blocks i, f, g, o [batch, hidden]; carry (h, c); residual: the activated gates, no extra."""
    _, c = carry
    i, f, g, o = (x_k + hz_k for x_k, hz_k in zip(x, jnp.split(hz, 4, axis=-1)))
    i, f, g, o = sigmoid(i), sigmoid(f), jnp.tanh(g), sigmoid(o)
    c = f * c + i * g
    h = o * jnp.tanh(c)
    return (h, c), h, ((i, f, g, o), None)


def _lstm_backward(residual, dh, dc, before, after):
    (i, f, g, o), _ = residual
    tanh_c = jnp.tanh(after[1])
    dc = dc + dh * o * (1.0 - tanh_c * tanh_c)
    dz = (dc * g * i * (1.0 - i), dc * before[1] * f * (1.0 - f), dc * i * (1.0 - g * g), dh * tanh_c * o * (1.0 - o))
    return dz, None, None, dc * f


def _gru_forward(x, hz, carry):
    """x: the blocks r, z, n [batch, hidden]; carry (h, None); residual: r, z, n and, as the extra, the
    recurrent part of n."""
    h, _ = carry
    x_r, x_z, x_n = x
    hz_r, hz_z, h_n = jnp.split(hz, 3, axis=-1)
    r, z = sigmoid(x_r + hz_r), sigmoid(x_z + hz_z)
    n = jnp.tanh(x_n + r * h_n)
    h = (1.0 - z) * n + z * h
    return (h, None), h, ((r, z, n), h_n)


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
