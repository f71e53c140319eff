"""The chunked output layer + loss: the same loss and gradients as the plain one, in less memory."""

import functools
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rnngen.config import base_config
from rnngen.errors import UsageError
from rnngen.models import build_model
from rnngen.train.losses import nll_sum, resolve_chunk_size, token_nll
from rnngen.train.preflight import validate_config
from rnngen.train.train import build_setup
from rnngen.train.train import make_eval_step, make_loss_fn, make_train_step

VOCAB, BATCH, TIME, HIDDEN = 50, 4, 16, 16  # N = 64 tokens; N * VOCAB = 3200 > HIDDEN * VOCAB = 800


def small_config(**changes):
    config = base_config()
    config.model.num_layers, config.model.hidden_size, config.model.embed_dim = 1, HIDDEN, 8
    config.train.batch_size = BATCH
    for key, value in changes.items():
        section, name = key.split(".")
        config[section][name] = value
    return config


def batch(seed=0):
    """inputs, targets [BATCH, TIME] and a mask with some zeros, as evaluation pads."""
    rng = np.random.default_rng(seed)
    window = rng.integers(0, VOCAB, (BATCH, TIME + 1))
    mask = np.ones((BATCH, TIME), np.float32)
    mask[-1, TIME // 2 :] = 0.0
    return jnp.asarray(window[:, :-1], jnp.int32), jnp.asarray(window[:, 1:], jnp.int32), jnp.asarray(mask)


@functools.lru_cache(maxsize=None)
def loss_and_grads(tie: bool, chunk_setting: int):
    """(nll sum, gradients w.r.t. every parameter) of a small model on one batch."""
    config = small_config(**{"model.tie_embeddings": tie})
    model = build_model(VOCAB, config.model, seed=0)
    graphdef, params = nnx.split(model)
    loss_fn = make_loss_fn(graphdef, chunk_setting)
    inputs, targets, mask = batch()
    carry = model.zero_carry(BATCH)
    value_and_grad = jax.jit(jax.value_and_grad(lambda p: loss_fn(p, inputs, carry, targets, mask)[0]))
    return value_and_grad(nnx.to_pure_dict(params))


def assert_trees_close(got, want):
    assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(want)
    for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("tie", [False, True])
@pytest.mark.parametrize("chunk", [8, 5, 63, 100])  # divides 64 tokens, pads, pads by one, covers all
def test_chunked_loss_and_gradients_equal_the_plain_ones(tie, chunk):
    plain_loss, plain_grads = loss_and_grads(tie, -1)
    loss, grads = loss_and_grads(tie, chunk)
    np.testing.assert_allclose(loss, plain_loss, rtol=1e-6)
    assert_trees_close(grads, plain_grads)
    assert any(np.abs(g).max() > 0 for g in jax.tree_util.tree_leaves(grads))


def test_nll_sum_weights_each_token_by_its_mask():
    rng = np.random.default_rng(1)
    hidden = jnp.asarray(rng.normal(size=(3, 5, 4)), jnp.float32)
    kernel = jnp.asarray(rng.normal(size=(4, 11)), jnp.float32)
    targets = jnp.asarray(rng.integers(0, 11, (3, 5)), jnp.int32)
    mask = jnp.asarray(rng.integers(0, 2, (3, 5)), jnp.float32)
    want = np.sum(np.asarray(token_nll(hidden @ kernel, targets)) * np.asarray(mask))
    for chunk in (15, 4, 2):
        np.testing.assert_allclose(nll_sum(lambda k, h: h @ k, kernel, hidden, targets, mask, chunk), want, rtol=1e-5)


def intermediate_shapes(jaxpr) -> list[tuple[int, ...]]:
    """Shapes of every array a jaxpr and its sub-jaxprs (scan, remat, ...) compute."""
    shapes = []
    for eqn in jaxpr.eqns:
        shapes += [tuple(v.aval.shape) for v in eqn.outvars if hasattr(v.aval, "shape")]
        for param in eqn.params.values():
            for sub in param if isinstance(param, (tuple, list)) else [param]:
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    shapes += intermediate_shapes(inner)
    return shapes


@pytest.mark.parametrize("chunk, materialised", [(-1, True), (8, False)])
def test_chunked_gradient_never_holds_the_whole_logits(chunk, materialised):
    model = build_model(VOCAB, small_config().model, seed=0)
    graphdef, params = nnx.split(model)
    loss_fn = make_loss_fn(graphdef, chunk)
    inputs, targets, mask = batch()
    grad = jax.grad(lambda p: loss_fn(p, inputs, model.zero_carry(BATCH), targets, mask)[0])
    shapes = intermediate_shapes(jax.make_jaxpr(grad)(nnx.to_pure_dict(params)).jaxpr)
    # The largest array over the vocabulary: [chunk, vocab] logits, or the [hidden, vocab] kernel.
    largest = max(int(np.prod(shape)) for shape in shapes if shape and shape[-1] == VOCAB)
    assert largest == (BATCH * TIME * VOCAB if materialised else HIDDEN * VOCAB)


@pytest.mark.parametrize("tie", [False, True])
def test_eval_and_train_steps_agree_between_chunked_and_plain(tie):
    results = []
    for chunk in (-1, 6):
        setup = build_setup(small_config(**{"model.tie_embeddings": tie, "train.loss_chunk_size": chunk}), VOCAB)
        inputs, targets, mask = batch()
        eval_step = jax.jit(make_eval_step(setup.loss_fn))
        nll, count, _ = eval_step(setup.state.params, setup.model.zero_carry(BATCH), inputs, targets, mask)
        train_step = jax.jit(make_train_step(setup.loss_fn, setup.optimizer, setup.schedule))
        train_batch = {"inputs": inputs, "targets": targets, "reset": np.asarray(False)}
        state, metrics = train_step(setup.state, train_batch, jax.random.PRNGKey(0))
        results.append((nll, count, metrics, state.params))
    (nll, count, metrics, params), (nll_c, count_c, metrics_c, params_c) = results
    assert float(count) == float(count_c) == BATCH * TIME - TIME // 2
    np.testing.assert_allclose(nll_c, nll, rtol=1e-6)
    for name in ("loss", "perplexity", "grad_norm", "learning_rate"):
        np.testing.assert_allclose(metrics_c[name], metrics[name], rtol=1e-5)
    assert_trees_close(params_c, params)


@pytest.mark.parametrize(
    "setting, num_tokens, vocab, want",
    [
        (-1, 4096, 30000, 4096),  # never chunk
        (0, 6400, 65, 6400),  # auto, a char vocabulary: one chunk, the plain loss
        (0, 4096, 30000, 274),  # auto: 15 chunks of <= 279 tokens (32 MiB / 120,000 bytes per token)
        (0, 279 * 2, 30000, 279),  # auto, an exact fit
        (128, 4096, 30000, 128),  # explicit
        (10_000, 4096, 30000, 4096),  # explicit, larger than the batch: plain
    ],
)
def test_resolve_chunk_size(setting, num_tokens, vocab, want):
    assert resolve_chunk_size(setting, num_tokens, vocab) == want


@pytest.mark.parametrize("num_tokens", [1, 100, 4096, 4097, 100_000])
def test_auto_chunks_fit_in_32_mib_with_little_padding(num_tokens):
    chunk = resolve_chunk_size(0, num_tokens, 30000)
    num_chunks = -(-num_tokens // chunk)
    assert chunk * 30000 * 4 <= 32 * 2**20
    assert num_chunks * chunk - num_tokens < num_chunks


def test_a_chunk_size_below_minus_one_is_a_usage_error():
    with pytest.raises(UsageError, match="loss_chunk_size must be >= -1"):
        validate_config(small_config(**{"train.loss_chunk_size": -2}))
    with pytest.raises(UsageError, match="loss_chunk_size"):
        resolve_chunk_size(-2, 10, 10)
