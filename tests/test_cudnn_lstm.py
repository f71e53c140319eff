"""The cuDNN backend (``train.rnn_backend``): its weight layout, checked on any machine against
JAX's own reference of cuDNN's LSTM, and the whole model through cuDNN against the XLA path on a
CUDA GPU (skipped elsewhere)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.experimental import rnn

from rnngen.errors import UsageError
from rnngen.models import build_model
from rnngen.models.cudnn_lstm import pack_weights, resolve_rnn_backend
from rnngen.training.steps import make_loss_fn
from test_fused_scan import BATCH, HIDDEN, INPUT, TIME, VOCAB, model_config

on_gpu = pytest.mark.skipif(jax.default_backend() != "gpu", reason="cuDNN needs a CUDA GPU")


def random_carry(model, key):
    """A nonzero (h, c) per layer, so that the carry's path is tested too."""
    keys = jax.random.split(key, 2 * len(model.layers))
    return tuple((jax.random.normal(keys[2 * i], (BATCH, HIDDEN)), jax.random.normal(keys[2 * i + 1], (BATCH, HIDDEN)))
                 for i in range(len(model.layers)))


def reference_stack(model, tokens, carry):
    """The layers through ``jax.experimental.rnn.lstm_ref`` fed the packed weights unpacked by JAX's own
    reading of cuDNN's layout: (hs [batch, time, hidden], final carry)."""
    layers = list(model.layers)
    weights = rnn.unpack_lstm_weights(pack_weights(layers), INPUT, HIDDEN, len(layers), False)
    h_0, c_0 = jnp.stack([h for h, _ in carry]), jnp.stack([c for _, c in carry])
    hs, h_n, c_n = rnn.lstm_ref(model.embed_tokens(tokens), h_0, c_0, *weights, jnp.full((BATCH,), TIME, jnp.int32),
                                INPUT, HIDDEN, len(layers), 0.0, False)
    return hs, tuple((h_n[i], c_n[i]) for i in range(len(layers)))


def test_packed_weights_read_back_by_cudnns_reference_give_our_lstm_in_values_and_gradients():
    model = build_model(VOCAB, model_config("lstm"), seed=0)
    graphdef, params = nnx.split(model)
    tokens = jax.random.randint(jax.random.PRNGKey(1), (BATCH, TIME), 0, VOCAB)
    carry = random_carry(model, jax.random.PRNGKey(2))
    weights = jax.random.normal(jax.random.PRNGKey(3), (BATCH, TIME, HIDDEN))

    def scalar(run, params, carry):
        hs, final = run(nnx.merge(graphdef, params), tokens, carry)
        return jnp.sum(hs * weights) + sum(jnp.sum(x * (i + 2)) for i, x in enumerate(jax.tree.leaves(final)))

    ours = jax.value_and_grad(lambda p, c: scalar(lambda m, t, k: m.features(t, k), p, c), argnums=(0, 1))
    theirs = jax.value_and_grad(lambda p, c: scalar(reference_stack, p, c), argnums=(0, 1))
    (value, grads), (ref_value, ref_grads) = ours(params, carry), theirs(params, carry)
    np.testing.assert_allclose(value, ref_value, rtol=1e-5)
    for got, want in zip(jax.tree.leaves(grads), jax.tree.leaves(ref_grads)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("requested,cell,dtype,platform,devices,expected", [
    ("xla", "lstm", "float32", "gpu", 1, "xla"),
    ("auto", "lstm", "float32", "gpu", 1, "cudnn"),
    ("auto", "lstm", "float32", "cpu", 1, "xla"),
    ("auto", "gru", "float32", "gpu", 1, "xla"),
    ("auto", "lstm", "bfloat16", "gpu", 1, "xla"),
    ("auto", "lstm", "float32", "gpu", 8, "xla"),
    ("cudnn", "lstm", "float32", "gpu", 1, "cudnn"),
])
def test_the_backend_that_runs_is_cudnn_only_where_it_can(requested, cell, dtype, platform, devices, expected):
    assert resolve_rnn_backend(requested, cell, dtype, platform, devices) == expected


@pytest.mark.parametrize("cell,dtype,platform,devices,needle", [
    ("gru", "float32", "gpu", 1, "runs the built-in lstm cell only, and model.cell is 'gru'"),
    ("lstm", "bfloat16", "gpu", 1, "runs in float32 only"),
    ("lstm", "float32", "cpu", 1, "needs a CUDA GPU, and this process's devices are cpu"),
    ("lstm", "float32", "gpu", 8, "runs on one device"),
])
def test_cudnn_where_it_cannot_run_is_a_one_line_error(cell, dtype, platform, devices, needle):
    with pytest.raises(UsageError, match="rnn_backend=cudnn") as refused:
        resolve_rnn_backend("cudnn", cell, dtype, platform, devices)
    assert needle in str(refused.value) and "use --config.train.rnn_backend=xla" in str(refused.value)
    with pytest.raises(UsageError, match="must be one of auto, xla, cudnn, got 'cuda'"):
        resolve_rnn_backend("cuda", cell, dtype, platform, devices)


def model_loss_and_grads(backend, dropout_key=None, dropout=0.0, num_layers=2):
    """The model's summed nll from a nonzero carry, with its gradients for the parameters and the carry."""
    config = model_config("lstm", num_layers=num_layers)
    config.dropout = dropout
    model = build_model(VOCAB, config, seed=0)
    graphdef, params = nnx.split(model)
    loss_fn = make_loss_fn(graphdef, -1, "float32", backend)
    tokens = jax.random.randint(jax.random.PRNGKey(4), (BATCH, TIME), 0, VOCAB)
    targets, mask = jnp.roll(tokens, -1, axis=1), jnp.ones((BATCH, TIME), jnp.float32)
    carry = random_carry(model, jax.random.PRNGKey(5))

    def total(params, carry):
        value, final = loss_fn(params, tokens, carry, targets, mask, dropout_key)
        return value, final

    with jax.default_matmul_precision("highest"):  # cuDNN and XLA both in full float32 (no TF32)
        (value, final), grads = jax.jit(jax.value_and_grad(total, argnums=(0, 1), has_aux=True))(params, carry)
    return value, final, grads


@on_gpu
@pytest.mark.parametrize("dropout,num_layers", [(0.0, 2), (0.3, 2), (0.0, 1)])
def test_the_model_through_cudnn_equals_the_xla_path_in_values_and_gradients(dropout, num_layers):
    key = jax.random.PRNGKey(6) if dropout else None
    results = {backend: model_loss_and_grads(backend, key, dropout, num_layers) for backend in ("cudnn", "xla")}
    for got, want in zip(jax.tree.leaves(results["cudnn"]), jax.tree.leaves(results["xla"])):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)
