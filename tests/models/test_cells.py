"""Each cell against a plain NumPy reference of its equations, and the cell registry."""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rnngen.models import GRUCell, LSTMCell, RecurrentCell, SimpleRNNCell, get_cell, register_cell

BATCH, TIME, INPUT, HIDDEN = 3, 5, 4, 6


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_rnn(cell, xs, h):
    w_ih, b, w_hh = (np.asarray(p[...]) for p in (cell.w_ih, cell.b, cell.w_hh))
    outputs = []
    for t in range(xs.shape[1]):
        h = np.tanh(xs[:, t] @ w_ih + b + h @ w_hh)
        outputs.append(h)
    return np.stack(outputs, 1), h


def numpy_gru(cell, xs, h):
    w_ih, b_ih, w_hh, b_hh = (np.asarray(p[...]) for p in (cell.w_ih, cell.b_ih, cell.w_hh, cell.b_hh))
    H = HIDDEN
    outputs = []
    for t in range(xs.shape[1]):
        gx = xs[:, t] @ w_ih + b_ih
        gh = h @ w_hh + b_hh
        r = sigmoid(gx[:, :H] + gh[:, :H])
        z = sigmoid(gx[:, H : 2 * H] + gh[:, H : 2 * H])
        n = np.tanh(gx[:, 2 * H :] + r * gh[:, 2 * H :])
        h = (1 - z) * n + z * h
        outputs.append(h)
    return np.stack(outputs, 1), h


def numpy_lstm(cell, xs, carry):
    w_ih, b, w_hh = (np.asarray(p[...]) for p in (cell.w_ih, cell.b, cell.w_hh))
    h, c = carry
    H = HIDDEN
    outputs = []
    for t in range(xs.shape[1]):
        g = xs[:, t] @ w_ih + b + h @ w_hh
        i, f, gg, o = g[:, :H], g[:, H : 2 * H], g[:, 2 * H : 3 * H], g[:, 3 * H :]
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(gg)
        h = sigmoid(o) * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, 1), (h, c)


@pytest.mark.parametrize("recurrence", ["scan", "fused"])
@pytest.mark.parametrize(
    "cell_class, reference", [(SimpleRNNCell, numpy_rnn), (GRUCell, numpy_gru), (LSTMCell, numpy_lstm)]
)
def test_cell_matches_numpy_reference(cell_class, reference, recurrence):
    cell = cell_class(INPUT, HIDDEN, rngs=nnx.Rngs(0))
    cell.recurrence = recurrence
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(BATCH, TIME, INPUT)).astype(np.float32)
    carry = cell.zero_carry(BATCH)
    carry = jax_tree_like(carry, rng)
    hs, final = cell(jnp.asarray(xs), carry)
    expected_hs, expected_final = reference(cell, xs.astype(np.float64), np_tree(carry))
    np.testing.assert_allclose(np.asarray(hs), expected_hs, rtol=1e-5, atol=1e-5)
    for got, want in zip(np_leaves(final), np_leaves(expected_final)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def jax_tree_like(carry, rng):
    """A random carry of the same structure (so the test does not start from zeros)."""
    if isinstance(carry, tuple):
        return tuple(jax_tree_like(c, rng) for c in carry)
    return jnp.asarray(rng.normal(size=carry.shape).astype(np.float32))


def np_tree(carry):
    return tuple(np_tree(c) for c in carry) if isinstance(carry, tuple) else np.asarray(carry, np.float64)


def np_leaves(carry):
    return [np.asarray(c) for c in carry] if isinstance(carry, tuple) else [np.asarray(carry)]


def test_lstm_forget_bias_initialisation():
    cell = LSTMCell(INPUT, HIDDEN, rngs=nnx.Rngs(0), forget_bias=2.5)
    bias = np.asarray(cell.b[...])
    np.testing.assert_array_equal(bias[HIDDEN : 2 * HIDDEN], 2.5)
    np.testing.assert_array_equal(np.delete(bias, np.s_[HIDDEN : 2 * HIDDEN]), 0.0)


def test_unknown_cell_names_the_registered_ones():
    with pytest.raises(ValueError, match="gru, lstm, rnn"):
        get_cell("nope")


def test_registered_cell_is_found_by_name():
    @register_cell("test_identity_cell")
    class IdentityCell(RecurrentCell):
        def __init__(self, input_size, hidden_size, *, rngs):
            self.hidden_size = hidden_size
            self.w = nnx.Param(jnp.ones((input_size, hidden_size)))

        def project_inputs(self, xs):
            return xs @ self.w[...]

        def step(self, h, x_t):
            return h + x_t, h + x_t

    assert get_cell("test_identity_cell") is IdentityCell
