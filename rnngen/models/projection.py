"""A layer's input projection, ``xs @ kernel + bias``, with a hand-written backward pass.

The projection runs once over a whole ``[time, batch]`` block, so its kernel
gradient is one large matmul over ``time * batch`` rows. Autodiff writes it as
``xs.T @ d_out``, for which XLA on CPU first transposes the whole
``[time * batch, proj]`` output gradient (52 MB for a 512-unit LSTM layer in the
benchmark's block). The backward pass here uses
:func:`rnngen.models.matmuls.weight_gradient`, which XLA runs without
transposing either large operand. It skips ``d_xs`` when ``xs``
is not differentiated (a one-hot table). Values and gradients equal autodiff's
(``tests/models/test_projection.py``).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

from rnngen.models.matmuls import matmul, weight_gradient


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def project(xs: jax.Array, kernel: jax.Array, bias: jax.Array, compute_dtype) -> jax.Array:
    """xs [..., input] @ kernel [input, proj] + bias [proj], the matmul in ``compute_dtype``, the result float32."""
    return matmul(xs, kernel, compute_dtype) + bias


def _project_forward(xs, kernel, bias, compute_dtype):
    """Saves ``kernel`` a second time for ``d_xs`` only when ``xs`` is differentiated (not a one-hot table)."""
    out = project(xs.value, kernel.value, bias.value, compute_dtype)
    return out, (xs.value, kernel.value, bias.value, kernel.value if xs.perturbed else None)


def _project_backward(compute_dtype, saved, d_out):
    """d_out [..., proj] -> (d_xs [..., input] or None, d_kernel [input, proj], d_bias [proj])."""
    xs, kernel, bias, kernel_for_d_xs = saved
    if isinstance(d_out, SymbolicZero):
        return None, None, None
    d_xs = None if kernel_for_d_xs is None else matmul(d_out, kernel_for_d_xs.T, compute_dtype).astype(xs.dtype)
    d_kernel = weight_gradient(xs, d_out, compute_dtype).astype(kernel.dtype)
    d_bias = jnp.sum(d_out.reshape(-1, d_out.shape[-1]), axis=0).astype(bias.dtype)
    return d_xs, d_kernel, d_bias


project.defvjp(_project_forward, _project_backward, symbolic_zeros=True)
