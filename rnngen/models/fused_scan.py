"""The recurrence of the built-in cells, with a hand-written backward pass.

``fused_scan(gates, w_hh, b_hh, xs, carry, compute_dtype)`` runs
``carry_t = gates.forward(xs_t, h_{t-1} @ w_hh + b_hh, carry_{t-1})`` over
time in ``jax.lax.scan`` and equals autodiff through the plain scan of the
cell's ``step`` (tested in values and gradients). Its custom VJP:

- the forward scan keeps only what the backward pass needs: the outputs
  ``h_t`` and the small per-step residuals each cell names (the activated gates),
  written over the input projections for ``Gates(in_place=True)`` (the LSTM's);
- the reverse scan does one matmul per step, ``dz_t @ w_hh.T``, for the
  gradient that flows to the previous step, and for ``in_place`` gates writes
  the gate gradients over the residuals, so that no [time, batch, gates]
  buffer is zero-filled or copied;
- the recurrent weight gradient, ``sum_t h_{t-1}.T @ dz_t``, is one large
  ``[hidden, time * batch] @ [time * batch, gates]`` matmul after the reverse
  scan, instead of ``time`` small ones accumulated inside it (which is what
  autodiff of the plain scan does).

``compute_dtype`` is the dtype of the recurrent matmul's operands (float32,
or bfloat16 on accelerators); it accumulates, and the gates and carry stay, in
float32.

A gate definition (:class:`Gates`) is two pure functions of one time step, and
the ``in_place`` flag described on the class:

- ``forward(x_t [batch, gates], hz_t [batch, gates], carry) -> (carry, h_t [batch, hidden], residual)``,
  where ``hz_t = h_{t-1} @ w_hh + b_hh``;
- ``backward(residual, dh_t [batch, hidden], d_rest, before, after) -> (dx_t, dhz_t, dh_direct, d_rest_before)``,
  where ``before`` and ``after`` are the carries ``(h, rest)`` around the step,
  ``dh_t`` the whole gradient reaching ``h_t``, ``d_rest`` the gradient
  reaching the rest of the carry (``c`` for an LSTM, ``None`` else), ``dx_t``
  the gradient of ``x_t``, ``dhz_t`` that of ``hz_t`` (``None``: the same as
  ``dx_t``) and ``dh_direct`` the part of ``dh_{t-1}`` that does not go
  through ``w_hh`` (``None``: none).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from rnngen.models.matmuls import matmul, weight_gradient


class Gates(NamedTuple):
    """A cell's per-step math; the carry is ``(h, rest)`` with ``h`` [batch, hidden].

    ``in_place``: the residual is one array of ``x_t``'s shape, and ``backward`` returns ``dhz=None`` and a
    ``dx_t`` of that shape too. The forward scan then writes each residual over its ``x_t``, and the reverse
    scan each ``dx_t`` over its residual, in one buffer. Set it only if every read of ``x_t`` in ``forward``
    feeds the residual (the carry is computed from the residual), as in the LSTM: otherwise XLA copies the
    whole [time, batch, gates] buffer at every step.
    """

    forward: Callable
    backward: Callable
    in_place: bool = False


def _forward_scan(gates: Gates, w_hh, b_hh, xs, carry, compute_dtype):
    """xs [time, batch, gates] -> (hs [time, batch, hidden], final carry, rests, residuals stacked over time).

    With ``gates.in_place`` (the LSTM), each residual is written over its ``x_t`` in the loop-carried ``xs``,
    which XLA updates in place: as a scan output it would take a new [time, batch, gates] buffer that XLA
    zero-fills and copies first (``tests/test_fused_scan.py`` checks the compiled program).
    """

    def step(carry, x_t):
        hz = matmul(carry[0], w_hh, compute_dtype)
        if b_hh is not None:
            hz = hz + b_hh
        carry, h_t, residual = gates.forward(x_t, hz, carry)
        return carry, (h_t, carry[1]), residual

    if not gates.in_place:

        def body(carry, x_t):
            carry, outputs, residual = step(carry, x_t)
            return carry, (outputs, residual)

        final, ((hs, rests), residuals) = jax.lax.scan(body, carry, xs)
        return hs, final, rests, residuals

    def overwriting_body(carry_xs, t):
        carry, xs = carry_xs
        carry, outputs, residual = step(carry, xs[t])
        return (carry, jax.lax.dynamic_update_index_in_dim(xs, residual, t, 0)), outputs

    _check_in_place(jax.eval_shape(step, carry, xs[0])[2], xs, "the forward's residual")
    (final, residuals), (hs, rests) = jax.lax.scan(overwriting_body, (carry, xs), jnp.arange(xs.shape[0]))
    return hs, final, rests, residuals


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 5))
def fused_scan(gates: Gates, w_hh, b_hh, xs, carry, compute_dtype):
    """(w_hh [hidden, gates], b_hh [gates] or None, xs [time, batch, gates], carry (h, rest))
    -> (hs [time, batch, hidden], final carry)."""
    # Without a gradient the residuals are dropped: as plain scan outputs XLA removes them, written in place
    # it would still write them (evaluation, sampling).
    hs, final, _, _ = _forward_scan(gates._replace(in_place=False), w_hh, b_hh, xs, carry, compute_dtype)
    return hs, final


def _fused_forward(gates, w_hh, b_hh, xs, carry, compute_dtype):
    hs, final, rests, residuals = _forward_scan(gates, w_hh, b_hh, xs, carry, compute_dtype)
    return (hs, final), (w_hh, b_hh, carry, hs, rests, residuals)


def _shift_right(first: Any, stacked: Any) -> Any:
    """[first, stacked[0], ..., stacked[-2]] leaf by leaf: each step's value before it."""
    return jax.tree.map(lambda f, s: jnp.concatenate([f[None].astype(s.dtype), s[:-1]]), first, stacked)


def _step(stacked: Any, t) -> Any:
    """Step ``t`` of each leaf of a pytree stacked over time."""
    return jax.tree.map(lambda leaf: leaf[t], stacked)


def _check_in_place(step_output: Any, buffer: jax.Array, what: str) -> None:
    """Raises unless ``step_output`` is one array with the shape and dtype of one step of ``buffer``."""
    one_step = jax.ShapeDtypeStruct(buffer.shape[1:], buffer.dtype)
    if step_output != one_step:
        raise ValueError(f"Gates(in_place=True) needs {what} to be one {one_step}, got {step_output}")


def _reverse_scan_overwriting(body: Callable, carry: Any, steps: tuple):
    """``lax.scan(body, carry, steps, reverse=True)`` for a ``body`` whose output ``(dx_t, None)`` replaces the
    residual ``steps[1][t]`` -> (final carry, the dx stacked over time, in the residuals' buffer).

    Each ``dx_t`` is written at the start of the next iteration, before anything reads the buffer (XLA copies
    the whole buffer every step when a read of it, such as the LSTM's ``f`` for the carry, may follow the
    write); one last iteration writes the last ``dx``, and its own step's results are dropped.
    """
    length = steps[1].shape[0]

    def overwriting_body(state, k):
        carry, buffer, pending, t_pending = state
        buffer = jax.lax.dynamic_update_index_in_dim(buffer, pending, t_pending, 0)
        t = jnp.maximum(length - 1 - k, 0)
        step = _step(steps, t)
        new_carry, (dx, _) = body(carry, (step[0], buffer[t], *step[2:]))
        carry = jax.tree.map(lambda new, old: jnp.where(k < length, new, old), new_carry, carry)
        return (carry, buffer, dx, t), None

    buffer = steps[1]
    state = (carry, buffer, buffer[length - 1], length - 1)
    (carry, buffer, _, _), _ = jax.lax.scan(overwriting_body, state, jnp.arange(length + 1))
    return carry, buffer


def _fused_backward(gates, compute_dtype, saved, cotangents):
    w_hh, b_hh, carry0, hs, rests, residuals = saved
    d_hs, (d_h_final, d_rest_final) = cotangents
    hs_before, rests_before = _shift_right(carry0[0], hs), _shift_right(carry0[1], rests)
    w_t = w_hh.T.astype(compute_dtype)

    def body(carry, step):
        dh_next, d_rest = carry
        d_h_t, residual, before, after = step
        dx, dhz, dh_direct, d_rest = gates.backward(residual, d_h_t + dh_next, d_rest, before, after)
        dhz = dx if dhz is None else dhz
        dh_prev = matmul(dhz, w_t, compute_dtype)
        dh_prev = dh_prev if dh_direct is None else dh_prev + dh_direct
        return (dh_prev, d_rest), (dx, None if dhz is dx else dhz)

    steps = (d_hs, residuals, (hs_before, rests_before), (hs, rests))
    end = (d_h_final, d_rest_final)
    if gates.in_place:
        dx, dhz = jax.eval_shape(body, end, _step(steps, 0))[1]
        if dhz is not None:
            raise ValueError("Gates(in_place=True) needs the backward's dhz to be None (the same as dx)")
        _check_in_place(dx, residuals, "the backward's dx")
        (dh0, d_rest0), dxs = _reverse_scan_overwriting(body, end, steps)
        dhzs = None
    else:
        (dh0, d_rest0), (dxs, dhzs) = jax.lax.scan(body, end, steps, reverse=True)
    dhzs = dxs if dhzs is None else dhzs
    d_w = weight_gradient(hs_before, dhzs, compute_dtype).astype(w_hh.dtype)
    d_b = None if b_hh is None else jnp.sum(dhzs, axis=(0, 1)).astype(b_hh.dtype)
    return d_w, d_b, dxs, (dh0, d_rest0)


fused_scan.defvjp(_fused_forward, _fused_backward)
