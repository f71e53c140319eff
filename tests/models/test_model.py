"""The stacked language model: shapes, carry continuity, dropout, one-hot input, tied embeddings."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rnngen.config import base_config
from rnngen.errors import UsageError
from rnngen.models import build_model, parameter_counts
from rnngen.train.preflight import validate_config
from rnngen.train.train import build_setup
from rnngen.train.train import make_train_step

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
    whole, whole_carry = model(sequence, model.zero_carry(3))
    first, carry = model(sequence[:, :12], model.zero_carry(3))
    second, carry = model(sequence[:, 12:], carry)
    assert whole.shape == (3, 20, VOCAB)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, rtol=1e-5, atol=1e-6)
    for got, want in zip(jax.tree_util.tree_leaves(carry), jax.tree_util.tree_leaves(whole_carry)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_dropout_only_with_a_key():
    model = build_model(VOCAB, small_model_config(dropout=0.5), seed=0)
    sequence = tokens((2, 7))
    carry = model.zero_carry(2)
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
    train_step = jax.jit(make_train_step(setup.loss_fn, setup.optimizer, setup.schedule))
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


def pure_params(model):
    return nnx.to_pure_dict(nnx.split(model)[1])


def test_call_is_the_output_layer_on_the_features():
    model = build_model(VOCAB, small_model_config(dropout=0.5), seed=0)
    sequence, key = tokens((2, 7)), jax.random.PRNGKey(3)
    hidden, carry = model.features(sequence, model.zero_carry(2), dropout_key=key)
    logits, call_carry = model(sequence, model.zero_carry(2), dropout_key=key)
    assert hidden.shape == (2, 7, 16)
    np.testing.assert_allclose(model.logits(hidden), logits, rtol=1e-6)
    for got, want in zip(jax.tree_util.tree_leaves(call_carry), jax.tree_util.tree_leaves(carry)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("embed_dim, output_keys", [(8, {"output_bias", "output_projection"}), (16, {"output_bias"})])
def test_tied_output_layer_reuses_the_embedding(embed_dim, output_keys):
    untied = build_model(VOCAB, small_model_config(embed_dim=embed_dim), seed=0)
    tied = build_model(VOCAB, small_model_config(embed_dim=embed_dim, tie_embeddings=True), seed=0)
    assert set(pure_params(untied)) == {"embed", "layers", "output"}
    assert set(pure_params(tied)) == {"embed", "layers"} | output_keys
    hidden, _ = tied.features(tokens((2, 5)), tied.zero_carry(2))
    projected = hidden @ tied.output_projection.kernel[...] if embed_dim != 16 else hidden
    want = projected @ tied.embed.embedding[...].T + tied.output_bias[...]
    np.testing.assert_allclose(tied.logits(hidden), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("embed_dim", [8, 16])
def test_tying_saves_the_output_kernel(embed_dim):
    hidden = 16
    untied = parameter_counts(pure_params(build_model(VOCAB, small_model_config(embed_dim=embed_dim), seed=0)))
    tied = parameter_counts(
        pure_params(build_model(VOCAB, small_model_config(embed_dim=embed_dim, tie_embeddings=True), seed=0))
    )
    assert untied["output"] == hidden * VOCAB + VOCAB
    assert tied["output"] == (hidden * embed_dim if embed_dim != hidden else 0) + VOCAB
    assert tied["embedding"] == untied["embedding"] == VOCAB * embed_dim
    assert tied["recurrent"] == untied["recurrent"]
    for counts in (tied, untied):
        assert counts["total"] == counts["embedding"] + counts["recurrent"] + counts["output"]
    assert untied["total"] - tied["total"] == untied["output"] - tied["output"]


@pytest.mark.parametrize("tie", [False, True])
def test_the_output_layer_trains_the_tied_embedding(tie):
    """Token 0 never comes in as input: only a tied output layer gives its embedding row a gradient."""
    model = build_model(VOCAB, small_model_config(tie_embeddings=tie), seed=0)
    graphdef, params = nnx.split(model)
    inputs = tokens((2, 6)) % (VOCAB - 1) + 1

    def loss(params):
        logits, _ = nnx.merge(graphdef, params)(inputs, model.zero_carry(2))
        return jnp.mean(-jax.nn.log_softmax(logits)[..., 0])

    grads = jax.grad(loss)(nnx.to_pure_dict(params))
    row_zero = np.abs(np.asarray(grads["embed"]["embedding"][0])).max()
    assert (row_zero > 0) == tie


def test_tying_needs_an_embedding_input():
    with pytest.raises(UsageError, match="model.input=embedding"):
        build_model(VOCAB, small_model_config(input="one_hot", tie_embeddings=True), seed=0)
    config = base_config()
    config.model.input, config.model.tie_embeddings = "one_hot", True
    with pytest.raises(UsageError, match="tie_embeddings"):
        validate_config(config)
