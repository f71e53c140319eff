"""The output layer and cross-entropy, computed in chunks of tokens.

For a large vocabulary the logits of a whole batch, ``[batch, time, vocab]``,
are the largest array of a train step (30,000 words x 64 x 64 tokens is 470 MiB
of float32, and the backward pass keeps a second copy). :func:`nll_sum` never
holds more than one chunk's ``[chunk, vocab]`` logits: it runs the output layer
and the loss in a ``lax.scan`` over chunks of tokens, and under differentiation
(a custom VJP) each chunk's gradients are computed in the same pass, right
after its logits, so no logits are kept for the backward pass and none are
recomputed. The loss and gradients equal the plain computation's up to float
rounding, for the same matmuls as the plain computation.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from rnngen.errors import UsageError

AUTO, PLAIN = 0, -1  # train.loss_chunk_size settings
AUTO_MAX_LOGITS_BYTES = 32 * 2**20  # auto: one chunk's float32 logits stay within 32 MiB


def token_nll(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """logits [..., vocab], targets [...] -> nll in nats [...], the softmax in float32."""
    return optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), targets)


def resolve_chunk_size(setting: int, num_tokens: int, vocab_size: int) -> int:
    """Tokens per chunk for ``train.loss_chunk_size`` = ``setting`` and ``num_tokens`` tokens.

    -1: ``num_tokens`` (one chunk: the plain loss). A positive setting: itself,
    at most ``num_tokens``. 0 (auto): the fewest chunks whose float32 logits
    [chunk, vocab] fit in 32 MiB, of equal size so that padding stays small.
    A result >= ``num_tokens`` means the plain, unchunked loss.
    """
    if setting < PLAIN:
        raise UsageError(f"--config.train.loss_chunk_size must be >= -1 (0: auto, -1: never chunk), got {setting}")
    if setting == PLAIN:
        return num_tokens
    if setting > 0:
        return min(setting, num_tokens)
    max_chunk = max(1, AUTO_MAX_LOGITS_BYTES // (4 * vocab_size))
    num_chunks = -(-num_tokens // max_chunk)
    return -(-num_tokens // num_chunks)


OutputFn = Callable[[Any, jax.Array], jax.Array]  # (output arrays, hidden [n, hidden]) -> logits [n, vocab]


def masked_nll_sum(output_fn: OutputFn, arrays: Any, hidden: jax.Array, targets: jax.Array, mask: jax.Array):
    """hidden [n, hidden], targets [n], mask [n] -> sum of nll * mask in nats, a float32 scalar."""
    return jnp.sum(token_nll(output_fn(arrays, hidden), targets) * mask)


def pad_into_chunks(x: jax.Array, num_chunks: int, chunk_size: int) -> jax.Array:
    """x [n, ...] -> [num_chunks, chunk_size, ...], zero-padded at the end."""
    pad = num_chunks * chunk_size - x.shape[0]
    x = jnp.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1))
    return x.reshape((num_chunks, chunk_size) + x.shape[1:])


def nll_sum(
    output_fn: OutputFn, arrays: Any, hidden: jax.Array, targets: jax.Array, mask: jax.Array, chunk_size: int
) -> jax.Array:
    """Sum over masked tokens of the nll in nats, a float32 scalar.

    hidden [batch, time, hidden] (any leading shape), targets int [batch, time],
    mask [batch, time] (1 for real targets, 0 for padding); ``output_fn(arrays,
    hidden [n, hidden]) -> logits [n, vocab]`` is the output layer and ``arrays``
    its parameters. With ``chunk_size`` >= batch * time the logits are computed
    at once; otherwise ``chunk_size`` tokens at a time (see
    :func:`resolve_chunk_size`), padding the last chunk with zero weight.
    """
    hidden = hidden.reshape(-1, hidden.shape[-1])
    targets, mask = targets.reshape(-1), mask.reshape(-1).astype(jnp.float32)
    num_tokens = targets.shape[0]
    if chunk_size >= num_tokens:
        return masked_nll_sum(output_fn, arrays, hidden, targets, mask)
    num_chunks = -(-num_tokens // chunk_size)
    chunks = tuple(pad_into_chunks(x, num_chunks, chunk_size) for x in (hidden, targets, mask))
    return chunked_nll_sum(output_fn, arrays, *chunks)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def chunked_nll_sum(output_fn: OutputFn, arrays: Any, hidden: jax.Array, targets: jax.Array, mask: jax.Array):
    """The nll sum over chunks: hidden [chunks, chunk, hidden], targets, mask [chunks, chunk].

    The forward pass of a gradient computation also computes the gradients of
    each chunk (a fused output layer and loss), so no chunk's logits are kept or
    recomputed: the backward pass only scales them by the incoming cotangent.
    """

    def add_chunk(total, chunk):
        return total + masked_nll_sum(output_fn, arrays, *chunk), None

    total, _ = jax.lax.scan(add_chunk, jnp.zeros((), jnp.float32), (hidden, targets, mask))
    return total


def _chunked_forward(output_fn: OutputFn, arrays: Any, hidden: jax.Array, targets: jax.Array, mask: jax.Array):
    """(nll sum, (d arrays, d hidden [chunks, chunk, hidden])): each chunk's loss and gradients in one pass."""
    value_and_grads = jax.value_and_grad(functools.partial(masked_nll_sum, output_fn), argnums=(0, 1))

    def add_chunk(carry, chunk):
        total, d_arrays = carry
        loss, (d_chunk_arrays, d_hidden) = value_and_grads(arrays, *chunk)
        return (total + loss, jax.tree.map(jnp.add, d_arrays, d_chunk_arrays)), d_hidden

    zeros = (jnp.zeros((), jnp.float32), jax.tree.map(jnp.zeros_like, arrays))
    (total, d_arrays), d_hidden = jax.lax.scan(add_chunk, zeros, (hidden, targets, mask))
    return total, (d_arrays, d_hidden)


def _chunked_backward(output_fn: OutputFn, residuals, cotangent: jax.Array):
    d_arrays, d_hidden = residuals
    scale = functools.partial(jnp.multiply, cotangent)
    return jax.tree.map(scale, d_arrays), scale(d_hidden), None, None  # targets and mask get no gradient


chunked_nll_sum.defvjp(_chunked_forward, _chunked_backward)
