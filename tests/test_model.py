"""The stacked language model: shapes, carry continuity, dropout, one-hot input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnngen.config import base_config
from rnngen.models import build_model, zero_carry
from rnngen.training.setup import build_setup
from rnngen.training.steps import make_train_step

VOCAB = 13


def small_model_config(cell="lstm", **changes):
    config = base_config().model
    config.cell, config.num_layers, config.hidden_size, config.embed_dim = cell, 2, 16, 8
    for key, value in changes.items():
        config[key] = value
    return config


def tokens(shape, seed=0):
    return jnp.asarray(np.random.default_rng(seed).integers(0, VOCAB, shape), jnp.int32)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("input_kind", ["embedding", "one_hot"])
def test_carrying_the_state_across_windows_equals_one_long_window(cell, input_kind):
    model = build_model(VOCAB, small_model_config(cell, input=input_kind), seed=0)
    sequence = tokens((3, 20))
    whole, whole_carry = model(sequence, zero_carry(model, 3))
    first, carry = model(sequence[:, :12], zero_carry(model, 3))
    second, carry = model(sequence[:, 12:], carry)
    assert whole.shape == (3, 20, VOCAB)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, rtol=1e-5, atol=1e-6)
    for got, want in zip(jax.tree_util.tree_leaves(carry), jax.tree_util.tree_leaves(whole_carry)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_dropout_only_with_a_key():
    model = build_model(VOCAB, small_model_config(dropout=0.5), seed=0)
    sequence = tokens((2, 7))
    carry = zero_carry(model, 2)
    plain, _ = model(sequence, carry)
    again, _ = model(sequence, carry)
    dropped, _ = model(sequence, carry, dropout_key=jax.random.PRNGKey(1))
    np.testing.assert_array_equal(plain, again)
    assert not np.allclose(plain, dropped)


def test_train_step_carries_the_final_state_and_resets_on_a_new_stream():
    config = base_config()
    config.model.update(dict(small_model_config()))
    config.train.batch_size = 2
    setup = build_setup(config, VOCAB)
    train_step = make_train_step(setup.apply_fn, setup.optimizer, setup.schedule)
    window = tokens((2, 9))
    batch = {"inputs": window[:, :-1], "targets": window[:, 1:], "reset": np.asarray(False)}
    params_before = setup.state.params
    _, expected_carry = setup.apply_fn(params_before, batch["inputs"], setup.model.zero_carry(2))
    expected_carry = jax.device_get(expected_carry)
    state, metrics = train_step(setup.state, batch, jax.random.PRNGKey(0))
    assert int(state.step) == 1 and np.isfinite(float(metrics["loss"]))
    for got, want in zip(jax.tree_util.tree_leaves(state.carry), jax.tree_util.tree_leaves(expected_carry)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # reset=True: the step starts from zeros, not from the carried state.
    params = state.params
    _, fresh_carry = setup.apply_fn(params, batch["inputs"], setup.model.zero_carry(2))
    fresh_carry = jax.device_get(fresh_carry)
    state, _ = train_step(state, {**batch, "reset": np.asarray(True)}, jax.random.PRNGKey(0))
    for got, want in zip(jax.tree_util.tree_leaves(state.carry), jax.tree_util.tree_leaves(fresh_carry)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_unknown_input_kind_is_rejected():
    with pytest.raises(ValueError, match="model.input"):
        build_model(VOCAB, small_model_config(input="bytes"), seed=0)
