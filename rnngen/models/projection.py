"""A layer's input projection, ``xs @ kernel + bias``, with a hand-written backward pass.

The projection runs once over a whole ``[time, batch]`` block, so its kernel
gradient is one large matmul over ``time * batch`` rows. Autodiff writes it as
``xs.T @ dy``, for which XLA on CPU first transposes the larger operand, the
``[time * batch, proj]`` gradient (52 MB for a 512-unit LSTM layer in the
benchmark's block). The backward pass here computes ``(dy.T @ xs).T`` instead,
the form that makes XLA transpose the smaller ``xs`` (as the recurrent weight
gradient in :mod:`rnngen.models.fused_scan` does). Values and gradients equal
autodiff's (``tests/test_projection.py``).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp


def _matmul(x: jax.Array, y: jax.Array, compute_dtype) -> jax.Array:
    """x @ y with ``compute_dtype`` operands, accumulated in float32."""
    return jnp.matmul(x.astype(compute_dtype), y.astype(compute_dtype), preferred_element_type=jnp.float32)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def project(xs: jax.Array, kernel: jax.Array, bias: jax.Array, compute_dtype) -> jax.Array:
    """xs [..., input] @ kernel [input, proj] + bias [proj], the matmul in ``compute_dtype``, the result float32."""
    return _matmul(xs, kernel, compute_dtype) + bias


def _project_forward(xs, kernel, bias, compute_dtype):
    return project(xs, kernel, bias, compute_dtype), (xs, kernel, bias)


def _project_backward(compute_dtype, saved, d_out):
    """d_out [..., proj] -> (d_xs [..., input], d_kernel [input, proj], d_bias [proj])."""
    xs, kernel, bias = saved
    inputs, width = kernel.shape
    d_rows = d_out.reshape(-1, width)
    d_xs = _matmul(d_out, kernel.T, compute_dtype).astype(xs.dtype)
    # [proj, rows] @ [rows, input], transposed: XLA then transposes the smaller xs
    d_kernel = _matmul(d_rows.T, xs.reshape(-1, inputs), compute_dtype).T.astype(kernel.dtype)
    d_bias = jnp.sum(d_rows, axis=0).astype(bias.dtype)
    return d_xs, d_kernel, d_bias


project.defvjp(_project_forward, _project_backward)
