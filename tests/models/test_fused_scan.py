"""The optimized recurrence (custom VJP, folded first-layer projection, bfloat16)
against the plain reference: autodiff through ``lax.scan`` of each cell's ``step``."""


import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from helpers import weighted_sum
from rnngen.config import base_config
from rnngen.models import GRUCell, LSTMCell, SimpleRNNCell, build_model
from rnngen.train.train import make_loss_fn

BATCH, TIME, INPUT, HIDDEN, VOCAB = 3, 7, 4, 5, 11
CELLS = [LSTMCell, GRUCell, SimpleRNNCell]


def random_carry(cell, key):
    """A nonzero carry of the cell's structure, so that the carry's gradient is tested too."""
    zeros = cell.zero_carry(BATCH)
    leaves, tree = jax.tree.flatten(zeros)
    keys = jax.random.split(key, len(leaves))
    return jax.tree.unflatten(tree, [jax.random.normal(k, x.shape) for k, x in zip(keys, leaves)])


@pytest.mark.parametrize("cell_class", CELLS)
def test_fused_recurrence_equals_the_plain_scan_in_values_and_gradients(cell_class):
    cell = cell_class(INPUT, HIDDEN, rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(cell)
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    projected = cell.project_inputs(jax.random.normal(keys[0], (TIME, BATCH, INPUT)))
    carry = random_carry(cell, keys[1])

    def loss(recurrence, params, projected, carry):
        module = nnx.merge(graphdef, params)
        module.recurrence = recurrence
        hs, final = module.recur(projected, carry)
        return weighted_sum(hs, final, keys[2]), (hs, final)

    fused = jax.value_and_grad(lambda *a: loss("fused", *a), argnums=(0, 1, 2), has_aux=True)
    plain = jax.value_and_grad(lambda *a: loss("scan", *a), argnums=(0, 1, 2), has_aux=True)
    (value, outputs), grads = fused(params, projected, carry)
    (ref_value, ref_outputs), ref_grads = plain(params, projected, carry)
    np.testing.assert_allclose(value, ref_value, rtol=1e-5)
    for got, want in zip(jax.tree.leaves((outputs, grads)), jax.tree.leaves((ref_outputs, ref_grads))):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert cell_class.has_fused()


def model_config(cell, input_kind="embedding", num_layers=2, recurrence="auto"):
    config = base_config().model
    config.update(cell=cell, num_layers=num_layers, hidden_size=HIDDEN, embed_dim=INPUT, input=input_kind,
                  recurrence=recurrence)
    return config


def loss_and_grads(model_cfg, tokens, targets, compute_dtype="float32", plain=False, monkeypatch=None):
    """The model's summed nll and its gradients, through the optimized or (``plain``) the reference path:
    ``model.recurrence=scan`` and the unfolded first-layer projection."""
    if plain:
        model_cfg.recurrence = "scan"
    model = build_model(VOCAB, model_cfg, seed=0)
    graphdef, params = nnx.split(model)
    if plain:
        monkeypatch.setattr(type(model), "first_projection", plain_first_projection)
    loss_fn = make_loss_fn(graphdef, -1, compute_dtype)
    carry = model.zero_carry(tokens.shape[0])
    mask = jnp.ones(targets.shape, jnp.float32)
    value, grads = jax.value_and_grad(lambda p: loss_fn(p, tokens, carry, targets, mask)[0])(params)
    return value, grads


def plain_first_projection(model, tokens, dropout_key):
    """The unfolded first-layer projection: every embedded token through the input matmul."""
    return model.layers[0].project_inputs(model.embed_tokens(tokens))


@pytest.mark.parametrize("cell,input_kind", [("lstm", "embedding"), ("gru", "one_hot"), ("rnn", "embedding")])
def test_optimized_model_loss_and_gradients_equal_the_reference(cell, input_kind, monkeypatch):
    tokens = jax.random.randint(jax.random.PRNGKey(2), (BATCH, TIME), 0, VOCAB)
    targets = jnp.roll(tokens, -1, axis=1)
    value, grads = loss_and_grads(model_config(cell, input_kind), tokens, targets)
    ref_value, ref_grads = loss_and_grads(model_config(cell, input_kind), tokens, targets, plain=True,
                                          monkeypatch=monkeypatch)
    np.testing.assert_allclose(value, ref_value, rtol=1e-5)
    for got, want in zip(jax.tree.leaves(grads), jax.tree.leaves(ref_grads)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_bfloat16_compute_keeps_float32_gradients_close_to_float32(cell):
    tokens = jax.random.randint(jax.random.PRNGKey(3), (BATCH, TIME), 0, VOCAB)
    targets = jnp.roll(tokens, -1, axis=1)
    value, grads = loss_and_grads(model_config(cell), tokens, targets)
    bf16_value, bf16_grads = loss_and_grads(model_config(cell), tokens, targets, compute_dtype="bfloat16")
    assert bf16_value.dtype == jnp.float32
    np.testing.assert_allclose(bf16_value, value, rtol=2e-2)
    for got, want in zip(jax.tree.leaves(bf16_grads), jax.tree.leaves(grads)):
        assert got.dtype == jnp.float32
        np.testing.assert_allclose(got, want, atol=0.05 * float(jnp.max(jnp.abs(want))) + 1e-6)
    assert not all(bool(jnp.all(a == b)) for a, b in zip(jax.tree.leaves(bf16_grads), jax.tree.leaves(grads)))


def test_in_place_gates_whose_residual_does_not_fit_the_inputs_are_refused():
    from rnngen.models.fused_scan import Gates, fused_scan
    from rnngen.models.gates import RNN_GATES

    w_hh, xs, h = jnp.eye(HIDDEN), jnp.ones((TIME, BATCH, HIDDEN)), jnp.zeros((BATCH, HIDDEN))
    gates = Gates(*RNN_GATES[:2], in_place=True)
    with pytest.raises(ValueError, match=r"in_place=True.*forward's residual"):
        jax.grad(lambda xs: jnp.sum(fused_scan(gates, w_hh, None, xs, (h, None), jnp.float32)[0]))(xs)


def test_in_place_gates_that_replace_gradient_blocks_without_an_extra_residual_are_refused():
    from rnngen.models.fused_scan import Gates, fused_scan

    def forward(x, hz, carry):
        h = jnp.tanh(x + hz)
        return (h, None), h, (h, None)

    def backward(residual, dh, d_rest, before, after):
        dx = dh * (1.0 - residual[0] ** 2)
        return dx, (2.0 * dx,), None, None

    w_hh, xs, h = jnp.eye(HIDDEN), jnp.ones((TIME, BATCH, HIDDEN)), jnp.zeros((BATCH, HIDDEN))
    gates = Gates(forward, backward, in_place=True)
    with pytest.raises(ValueError, match=r"in_place=True.*extra residual"):
        jax.grad(lambda xs: jnp.sum(fused_scan(gates, w_hh, None, xs, (h, None), jnp.float32)[0]))(xs)
