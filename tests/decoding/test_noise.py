"""The sampling loop's counter-based Gumbel noise."""

import jax
import jax.numpy as jnp
import numpy as np

from rnngen.decoding.filters import pick_token
from rnngen.decoding.noise import step_gumbel, threefry2x32


def test_threefry_matches_the_random123_known_answer():
    # Random123's kat_vectors: threefry2x32_20, key (0, 0), counter (0, 0) -> 0x6b200159 0x99ba4efe
    out = threefry2x32(jnp.zeros(2, jnp.uint32), jnp.uint32(0), jnp.uint32(0))
    assert int(out) == 0x6B200159
    # and key (-1, -1), counter (-1, -1) -> 0x1cb996fc ...
    ones = jnp.uint32(0xFFFFFFFF)
    assert int(threefry2x32(jnp.full(2, ones), ones, ones)) == 0x1CB996FC


def test_drawn_tokens_follow_the_softmax():
    probs = np.array([0.1, 0.2, 0.3, 0.4])
    logits = jnp.log(jnp.asarray(probs, jnp.float32))[None, :]
    key = jax.random.PRNGKey(7)
    draw = jax.jit(jax.vmap(lambda step: pick_token(step_gumbel(key, step, (1, 4)), logits, 1.0, 0, 1.0)[0]))
    tokens = np.asarray(draw(jnp.arange(40000)))
    np.testing.assert_allclose(np.bincount(tokens, minlength=4) / len(tokens), probs, atol=0.01)


def test_noise_depends_on_key_step_and_cell():
    key = jax.random.PRNGKey(0)
    noise = step_gumbel(key, jnp.int32(3), (2, 5))
    assert noise.shape == (2, 5) and noise.dtype == jnp.float32
    assert len(np.unique(np.asarray(noise))) == 10
    np.testing.assert_array_equal(noise, step_gumbel(key, jnp.int32(3), (2, 5)))
    assert not np.array_equal(noise, step_gumbel(key, jnp.int32(4), (2, 5)))
    assert not np.array_equal(noise, step_gumbel(jax.random.PRNGKey(1), jnp.int32(3), (2, 5)))
    # a row's noise does not depend on how many rows follow it (row-sharded batches draw the same)
    np.testing.assert_array_equal(noise[:1], step_gumbel(key, jnp.int32(3), (1, 5)))
