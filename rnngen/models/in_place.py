"""Scans that write each step's results over that step's slot of their own buffers, for :mod:`fused_scan`.

A buffer is an array [time, batch, width] read one step at a time, either whole
(``blocks=1``) or as ``blocks`` arrays [batch, width / blocks]: each block is its
own dynamic slice of the buffer, because XLA's CPU code for a slice of a dynamic
slice is scalar (the LSTM's backward gate arithmetic took twice as long).

:func:`scan_overwriting` writes each step's new values at the start of the next
iteration, before anything reads the buffers: XLA copies the whole buffer at
every step when a read of it may follow a write to it in the same iteration.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp


def joined(values: Any) -> jax.Array:
    """An array, or a tuple of blocks [..., width] joined along the last axis."""
    return jnp.concatenate(values, axis=-1) if isinstance(values, tuple) else values


def read_blocks(buffer: jax.Array | None, t, blocks: int) -> Any:
    """Step ``t`` of ``buffer`` [time, ..., width]: one array [..., width], or ``blocks`` arrays
    [..., width / blocks]; None for no buffer."""
    if buffer is None or blocks == 1:
        return None if buffer is None else buffer[t]
    width = buffer.shape[-1] // blocks
    size = (1, *buffer.shape[1:-1], width)
    zeros = (0,) * (buffer.ndim - 2)
    return tuple(jax.lax.dynamic_slice(buffer, (t, *zeros, k * width), size)[0] for k in range(blocks))


def write_blocks(buffer: jax.Array | None, values: Any, t, blocks: int) -> jax.Array | None:
    """``buffer`` with ``values`` (as :func:`read_blocks` returns them) written at step ``t``."""
    if buffer is None or blocks == 1:
        return None if buffer is None else jax.lax.dynamic_update_index_in_dim(buffer, values, t, 0)
    width = buffer.shape[-1] // blocks
    zeros = (0,) * (buffer.ndim - 2)
    for k, value in enumerate(values):
        buffer = jax.lax.dynamic_update_slice(buffer, value[None], (t, *zeros, k * width))
    return buffer


def scan_overwriting(step: Callable, carry: Any, buffers: tuple, blocks: tuple, reverse: bool = False):
    """Scans ``step(carry, t, values_t) -> (carry, new_values_t, outputs_t)`` over time -> (final carry,
    the buffers with every step overwritten, the outputs stacked over time).

    ``values_t`` holds step ``t`` of each buffer (``None`` entries stay None), read in ``blocks`` (one count
    per buffer), and ``new_values_t`` (the same structure) replaces it. Each write happens at the start of the
    next iteration, so that no read of a buffer follows a write to it within an iteration. The last write
    happens after the loop for a forward scan; a reverse scan (whose ``outputs_t`` must be None) runs one more
    iteration for it, whose own step is dropped: written after the loop, XLA fuses the write into the
    buffer's consumers and copies the buffer (tested on the compiled gradient).
    """
    length = next(b for b in buffers if b is not None).shape[0]

    def read(buffers, t):
        return tuple(read_blocks(buffer, t, count) for buffer, count in zip(buffers, blocks))

    def write(buffers, values, t):
        return tuple(write_blocks(b, v, t, count) for b, v, count in zip(buffers, values, blocks))

    def body(state, k):
        carry, buffers, pending, t_pending = state
        buffers = write(buffers, pending, t_pending)
        t = jnp.maximum(length - 1 - k, 0) if reverse else k
        new_carry, new_values, outputs = step(carry, t, read(buffers, t))
        if reverse:  # the extra iteration (k == length) keeps the carry
            new_carry = jax.tree.map(lambda new, old: jnp.where(k < length, new, old), new_carry, carry)
        return (new_carry, buffers, new_values, t), outputs

    first = length - 1 if reverse else 0
    state = (carry, buffers, read(buffers, first), jnp.asarray(first))
    steps = jnp.arange(length + 1 if reverse else length)
    (carry, buffers, last, t_last), outputs = jax.lax.scan(body, state, steps)
    return carry, (buffers if reverse else write(buffers, last, t_last)), outputs
