"""AWD-LSTM's regularizers against hand-computed cases: locked, embedding and weight dropout, AR and TAR."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rnngen.config import base_config
from rnngen.models.language_model import build_model
from rnngen.models.regularization import (
    DropoutRates, activation_penalty, dropout, embedding_dropout, weight_drop,
)
from rnngen.train.optimizer import make_optimizer, make_schedule
from rnngen.train.train import create_train_state, make_loss_fn, make_train_step

KEY = jax.random.PRNGKey(7)


def test_locked_dropout_keeps_one_mask_for_every_step():
    x = jnp.ones((6, 3, 40))
    locked = np.asarray(dropout(x, 0.5, KEY, locked=True))
    assert all(np.array_equal(locked[t], locked[0]) for t in range(6))
    assert set(np.unique(locked)) == {0.0, 2.0}
    free = np.asarray(dropout(x, 0.5, KEY))
    assert not all(np.array_equal(free[t], free[0]) for t in range(6))
    assert dropout(x, 0.5, None, locked=True) is x


def test_embedding_dropout_drops_whole_rows():
    table = jnp.arange(1.0, 1 + 50 * 4).reshape(50, 4)
    dropped = np.asarray(embedding_dropout(table, 0.4, KEY))
    zero_rows = np.all(dropped == 0, axis=1)
    assert 0 < zero_rows.sum() < 50
    np.testing.assert_allclose(dropped[~zero_rows], np.asarray(table)[~zero_rows] / 0.6, rtol=1e-6)


def test_activation_penalty_by_hand():
    dropped = jnp.array([[[1.0, 2.0]], [[3.0, 0.0]]])  # [time 2, batch 1, hidden 2]
    raw = jnp.array([[[1.0, 1.0]], [[4.0, -1.0]]])
    # AR: 0.5 * mean(1, 4, 9, 0) = 0.5 * 3.5; TAR: 2 * mean((3)^2, (-2)^2) = 2 * 6.5
    assert float(activation_penalty(dropped, raw, 0.5, 2.0)) == pytest.approx(0.5 * 3.5 + 2 * 6.5)
    assert float(activation_penalty(dropped, raw, 0.0, 0.0)) == 0.0


def config(**model):
    config = base_config()
    config.model.update({"num_layers": 2, "hidden_size": 8, "embed_dim": 4, **model})
    return config


def test_unset_rates_follow_model_dropout():
    assert DropoutRates.from_config(config(dropout=0.3).model) == (0.3, 0.3, 0.3, 0.0, 0.0)
    rates = DropoutRates.from_config(config(dropout=0.3, input_dropout=0.1, output_dropout=0.0).model)
    assert rates == (0.1, 0.3, 0.0, 0.0, 0.0)


def test_weight_drop_is_the_model_on_masked_hidden_to_hidden_weights():
    """With weight drop alone, a keyed forward pass equals the plain model whose every layer's w_hh
    was masked once (one mask for all steps and rows)."""
    dropped_model = build_model(11, config(weight_drop=0.5).model, seed=0)
    plain = build_model(11, config().model, seed=0)
    tokens = jnp.asarray(np.random.default_rng(0).integers(0, 11, (3, 9)), jnp.int32)
    got, _, _ = dropped_model.layered_features(tokens.T, dropped_model.zero_carry(3), KEY)
    for index, layer in enumerate(plain.layers):
        layer.w_hh[...] = weight_drop(layer.w_hh[...], 0.5, KEY, index)
    # the plain model has no dropout, so its key only reaches the weights through the masking above
    want, _, _ = plain.layered_features(tokens.T, plain.zero_carry(3), None)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)
    unkeyed, _, _ = dropped_model.layered_features(tokens.T, dropped_model.zero_carry(3), None)
    assert not np.allclose(np.asarray(unkeyed), np.asarray(want))


def test_the_train_loss_is_the_nll_and_the_gradient_also_follows_ar_and_tar():
    cfg = config(dropout=0.2, locked_dropout=True)
    model = build_model(11, cfg.model, seed=0)
    graphdef, params = nnx.split(model)
    state = create_train_state(model, nnx.to_pure_dict(params), make_optimizer(cfg.train), 2, 0)
    rng = np.random.default_rng(1)
    batch = {"inputs": jnp.asarray(rng.integers(0, 11, (2, 7)), jnp.int32),
             "targets": jnp.asarray(rng.integers(0, 11, (2, 7)), jnp.int32), "reset": jnp.array(False)}
    results = {}
    for alpha, beta in ((0.0, 0.0), (2.0, 1.0)):
        loss_fn = make_loss_fn(graphdef, 0, "float32", alpha, beta)
        step = jax.jit(make_train_step(loss_fn, make_optimizer(cfg.train), make_schedule(cfg.train)))
        results[alpha] = step(state, batch, KEY)
    (_, plain), (_, penalized) = results[0.0], results[2.0]
    assert float(penalized["loss"]) == float(plain["loss"])  # the same nll: same masks
    assert float(plain["activation_penalty"]) == 0.0 and float(penalized["activation_penalty"]) > 0.0
    assert float(penalized["grad_norm"]) != float(plain["grad_norm"])


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_pytorch_initialisation_draws_as_pytorch_does(cell):
    model = build_model(50, config(cell=cell, init="pytorch", hidden_size=64, embed_dim=32).model, seed=0)
    bound = 64 ** -0.5
    for layer in model.layers:
        for name, param in nnx.to_flat_state(nnx.state(layer, nnx.Param)):
            values = np.asarray(param[...])
            limit = 2 * bound if (cell == "lstm" and name[-1] == "b") else bound  # b_ih + b_hh in one
            assert np.abs(values).max() <= limit and np.abs(values).max() > 0.8 * bound
    assert abs(float(np.std(np.asarray(model.embed.embedding[...]))) - 1.0) < 0.05
    assert np.abs(np.asarray(model.output.kernel[...])).max() <= bound
    default = build_model(50, config(cell=cell, hidden_size=64, embed_dim=32).model, seed=0)
    assert not np.allclose(np.asarray(default.layers[0].w_hh[...]), np.asarray(model.layers[0].w_hh[...]))
