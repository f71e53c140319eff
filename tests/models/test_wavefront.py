"""The wavefront schedule (``rnngen.models.wavefront``) against the layered one, and the eval step's use of it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rnngen.config import base_config
from rnngen.models import RecurrentCell, build_model, register_cell
from rnngen.models.wavefront import MIN_BATCH
from rnngen.train.train import build_setup
from rnngen.train.train import make_eval_step


def model_config(cell="lstm", num_layers=2, **changes):
    config = base_config().model
    config.cell, config.num_layers, config.hidden_size, config.embed_dim = cell, num_layers, 16, 8
    for key, value in changes.items():
        config[key] = value
    return config


def random_tokens(vocab, shape, seed=0):
    return jnp.asarray(np.random.default_rng(seed).integers(0, vocab, shape), jnp.int32)


def random_carry(model, batch, seed=1):
    """A non-zero carry of ``model`` for ``batch`` streams, so that each layer's initial state matters."""
    leaves, tree = jax.tree.flatten(model.zero_carry(batch))
    keys = jax.random.split(jax.random.PRNGKey(seed), len(leaves))
    return jax.tree.unflatten(tree, [jax.random.normal(key, leaf.shape) * 0.5 for key, leaf in zip(keys, leaves)])


def assert_trees_close(got, want):
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6)


@register_cell("test_wavefront_leaky_cell")
class LeakyCell(RecurrentCell):
    """A cell of the users' kind: ``project_inputs`` and ``step`` only (no fused form: ``scan_step`` is ``step``)."""

    def __init__(self, input_size, hidden_size, *, rngs):
        self.hidden_size = hidden_size
        self.w_ih = nnx.Param(jax.random.normal(rngs.params(), (input_size, hidden_size)) * 0.3)
        self.w_hh = nnx.Param(jax.random.normal(rngs.params(), (hidden_size, hidden_size)) * 0.3)

    def project_inputs(self, xs):
        return xs @ self.w_ih[...]

    def step(self, h, x_t):
        h = 0.5 * h + 0.5 * jnp.tanh(x_t + h @ self.w_hh[...])
        return h, h


@pytest.mark.parametrize("cell, recurrence", [
    ("lstm", "fused"), ("gru", "fused"), ("rnn", "fused"), ("lstm", "scan"), ("gru", "scan"), ("rnn", "scan"),
    ("test_wavefront_leaky_cell", "scan"),
])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_the_wavefront_equals_the_layered_schedule(cell, recurrence, num_layers):
    model = build_model(13, model_config(cell, num_layers, recurrence=recurrence), seed=0)
    tokens, carry = random_tokens(13, (3, 9)), random_carry(model, 3)
    want = model.features(tokens, carry)
    got = model.features(tokens, carry, wavefront=True)
    assert got[0].shape == (3, 9, 16)
    assert_trees_close(got, want)


def test_the_wavefront_equals_the_layered_schedule_without_the_vocabulary_table():
    """A large vocabulary and few tokens: the first layer projects each embedded token (no folded table)."""
    model = build_model(600, model_config("lstm", 2), seed=0)
    tokens, carry = random_tokens(600, (2, 5)), random_carry(model, 2)
    assert not model.folds_first_projection(tokens.T)
    assert_trees_close(model.features(tokens, carry, time_major=True, wavefront=True),
                       model.features(tokens, carry, time_major=True))


def test_autodiff_through_the_wavefront_equals_the_layered_gradient():
    graphdef, params = nnx.split(build_model(13, model_config("lstm", 2), seed=0))
    tokens = random_tokens(13, (2, 6))

    def loss(params, wavefront):
        model = nnx.merge(graphdef, params)
        hidden, _ = model.features(tokens, model.zero_carry(2), wavefront=wavefront)
        return jnp.sum(jnp.sin(hidden))

    assert_trees_close(jax.grad(loss)(params, True), jax.grad(loss)(params, False))


def test_the_wavefront_takes_no_dropout_key():
    model = build_model(13, model_config("lstm", 2, dropout=0.5), seed=0)
    with pytest.raises(ValueError, match="no dropout_key"):
        model.features(random_tokens(13, (2, 4)), model.zero_carry(2), dropout_key=jax.random.PRNGKey(0),
                       wavefront=True)


def scan_lengths(jaxpr) -> list[int]:
    """The lengths of every scan in a closed jaxpr, nested ones included."""
    lengths = []
    for eqn in jaxpr.jaxpr.eqns:
        if eqn.primitive.name == "scan":
            lengths.append(eqn.params["length"])
        for param in eqn.params.values():
            for inner in param if isinstance(param, (list, tuple)) else [param]:
                if isinstance(inner, jax.extend.core.ClosedJaxpr):
                    lengths += scan_lengths(inner)
    return lengths


@pytest.mark.parametrize("batch, scans", [(MIN_BATCH, [11]), (MIN_BATCH - 1, [10, 10])])
def test_the_eval_step_runs_the_wavefront_from_min_batch_rows_and_sums_the_layered_nll(batch, scans):
    """One scan of time + layers - 1 iterations (the wavefront), or one per layer below MIN_BATCH rows."""
    config = base_config()
    config.model.update(dict(model_config("gru", 2)))
    setup = build_setup(config, 13)
    inputs, targets = random_tokens(13, (batch, 10)), random_tokens(13, (batch, 10), seed=2)
    mask, carry = jnp.ones((batch, 10)), random_carry(setup.model, batch)
    eval_step = make_eval_step(setup.loss_fn)
    assert scan_lengths(jax.make_jaxpr(eval_step)(setup.state.params, carry, inputs, targets, mask)) == scans
    total, count, final = jax.jit(eval_step)(setup.state.params, carry, inputs, targets, mask)
    want_total, (want_final, _) = setup.loss_fn(setup.state.params, inputs, carry, targets, mask)
    assert float(count) == batch * 10 and float(total) == pytest.approx(float(want_total), rel=1e-5)
    assert_trees_close(final, want_final)
