"""The two matmul forms of the built-in layers, with ``compute_dtype`` operands and float32 accumulation.

``compute_dtype`` is float32, or bfloat16 under ``train.compute_dtype=bfloat16``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def matmul(x: jax.Array, y: jax.Array, compute_dtype) -> jax.Array:
    """x [..., k] @ y [k, n] -> [..., n] float32, the operands cast to ``compute_dtype``."""
    return jnp.matmul(x.astype(compute_dtype), y.astype(compute_dtype), preferred_element_type=jnp.float32)


def weight_gradient(inputs: jax.Array, d_outputs: jax.Array, compute_dtype) -> jax.Array:
    """The gradient of a kernel applied row by row: inputs [..., k], d_outputs [..., n] -> [k, n] float32.

    Both are contracted over their rows into [n, k], which is then transposed: XLA on CPU runs that
    without transposing either large operand (autodiff's ``inputs.T @ d_outputs`` transposes
    ``d_outputs`` first).
    """
    rows_in, rows_out = inputs.reshape(-1, inputs.shape[-1]), d_outputs.reshape(-1, d_outputs.shape[-1])
    return jax.lax.dot_general(
        rows_out.astype(compute_dtype), rows_in.astype(compute_dtype), (((0,), (0,)), ((), ())),
        preferred_element_type=jnp.float32,
    ).T
