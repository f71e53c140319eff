"""Per-step Gumbel noise for the sampling loop, as one fused elementwise computation.

``jax.random`` on CPU lowers every Threefry call to a rolled loop of five
iterations (about twenty small kernels), and the sampling loop used to call it
twice per token (a key split and the categorical draw): at batch 1 that was
most of a token's time. Here the noise of step ``t`` is Threefry-2x32 (20
rounds, Salmon et al. 2011, the generator behind ``jax.random``) of the counter
``(t, row * vocab + column)`` under the sampler's key, written out in
``jnp`` so that XLA fuses it into one kernel. It is a pure function of (key,
step, row, column): the same for any batch sharding and for the loop run in
blocks (streaming). Drawing ``argmax(logits + gumbel)`` is sampling from
``softmax(logits)`` (the Gumbel-max trick, as ``jax.random.categorical`` does).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = 0x1BD11BDA


def _rotate_left(x: jax.Array, bits: int) -> jax.Array:
    return (x << bits) | (x >> (32 - bits))


def threefry2x32(key: jax.Array, count0: jax.Array, count1: jax.Array) -> jax.Array:
    """The first output word of Threefry-2x32 (20 rounds): key uint32 [2], counters uint32 [...] -> uint32 [...]."""
    ks = (key[0], key[1], key[0] ^ key[1] ^ jnp.uint32(_PARITY))
    x0, x1 = count0 + ks[0], count1 + ks[1]
    for group in range(5):
        for bits in _ROTATIONS[group % 2]:
            x0 = x0 + x1
            x1 = _rotate_left(x1, bits) ^ x0
        x0 = x0 + ks[(group + 1) % 3]
        x1 = x1 + ks[(group + 2) % 3] + jnp.uint32(group + 1)
    return x0


def uniform_from_bits(bits: jax.Array) -> jax.Array:
    """uint32 [...] -> float32 [...] in [0, 1): the top 23 bits as a mantissa."""
    return jax.lax.bitcast_convert_type((bits >> 9) | jnp.uint32(0x3F800000), jnp.float32) - 1.0


def step_gumbel(key: jax.Array, step: jax.Array, shape: tuple[int, int]) -> jax.Array:
    """Standard Gumbel noise float32 [batch, vocab] for sampling step ``step`` (int32 []) under ``key``.

    ``key`` is a PRNG key (uint32 [2] or a typed key).
    """
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    key = key.reshape(-1)[:2].astype(jnp.uint32)
    batch, vocab = shape
    cells = jnp.arange(batch, dtype=jnp.uint32)[:, None] * jnp.uint32(vocab) + jnp.arange(vocab, dtype=jnp.uint32)
    uniform = uniform_from_bits(threefry2x32(key, jnp.full(shape, step, jnp.uint32), cells))
    tiny = jnp.finfo(jnp.float32).tiny
    return -jnp.log(-jnp.log(jnp.clip(uniform, tiny, 1.0 - 2.0**-24)))
