"""The recurrence of the built-in cells, with a hand-written backward pass.

``fused_scan(gates, w_hh, b_hh, xs, carry, compute_dtype)`` runs
``carry_t = gates.forward(xs_t, h_{t-1} @ w_hh + b_hh, carry_{t-1})`` over
time in ``jax.lax.scan`` and equals autodiff through the plain scan of the
cell's ``step`` (tested in values and gradients). Its custom VJP:

- the forward scan keeps only what the backward pass needs: the outputs
  ``h_t`` and the small per-step residuals each cell names (the activated gates),
  written over the input projections for ``Gates(in_place=True)`` (the LSTM's
  and the GRU's);
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
the ``in_place`` and ``blocks`` fields described on the class:

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

from rnngen.models.in_place import joined, read_blocks, scan_overwriting
from rnngen.models.matmuls import matmul, weight_gradient


class Gates(NamedTuple):
    """A cell's per-step math; the carry is ``(h, rest)`` with ``h`` [batch, hidden].

    ``in_place``: the residual is a pair ``(overwrite, extra)``, ``overwrite`` an array of ``x_t``'s shape and
    ``extra`` one array [batch, ...] or None. The forward scan writes each ``overwrite`` over its ``x_t`` and
    stacks ``extra`` over time. ``backward`` receives the pair, ``overwrite`` as a tuple of ``blocks`` equal
    blocks [batch, gates / blocks] (one per gate; an array if ``blocks`` is 1), and returns ``dx_t`` in the
    same blocks and a ``dhz_t`` that is None (the same as ``dx_t``) or a tuple of ``blocks`` entries, each
    None (the same as that block of ``dx_t``) or an array; the arrays, joined, have ``extra``'s shape. The
    reverse scan writes each ``dx_t`` over its ``overwrite`` and the arrays of ``dhz_t`` over its ``extra``.
    Each block is its own dynamic slice of the buffer: XLA's CPU code for a slice of a step it read is scalar
    (the LSTM's backward gate arithmetic took twice as long). Set ``in_place`` only if every read of ``x_t``
    in ``forward`` feeds the residual (the carry is computed from the residual), as in the LSTM and the GRU.
    ``blocks`` matters to in-place gates only.
    """

    forward: Callable
    backward: Callable
    in_place: bool = False
    blocks: int = 1


def gate_step(gates: Gates, w_hh, b_hh, x_t, carry, compute_dtype):
    """One step of the recurrence: x_t [batch, gates], carry (h, rest) -> (carry, h_t [batch, hidden], residual)."""
    hz = matmul(carry[0], w_hh, compute_dtype)
    if b_hh is not None:
        hz = hz + b_hh
    return gates.forward(x_t, hz, carry)


def _forward_scan(gates: Gates, w_hh, b_hh, xs, carry, compute_dtype):
    """xs [time, batch, gates] -> (hs [time, batch, hidden], final carry, rests, residuals stacked over time).

    With ``gates.in_place``, the residuals are ``(the buffer of xs with every overwrite written over its
    x_t, the extras stacked)``: a [time, batch, gates] scan output would be a new buffer that XLA zero-fills
    and copies (``tests/perf/test_compiled_programs.py`` checks the compiled program).
    """

    def step(carry, x_t):
        carry, h_t, residual = gate_step(gates, w_hh, b_hh, x_t, carry, compute_dtype)
        return carry, (h_t, carry[1]), residual

    if not gates.in_place:

        def body(carry, x_t):
            carry, outputs, residual = step(carry, x_t)
            return carry, (outputs, residual)

        final, ((hs, rests), residuals) = jax.lax.scan(body, carry, xs)
        return hs, final, rests, residuals

    residual = jax.eval_shape(step, carry, xs[0])[2]
    if not (isinstance(residual, tuple) and len(residual) == 2):
        raise ValueError(f"Gates(in_place=True) needs the forward's residual to be a pair, got {residual}")
    _check_in_place(residual[0], xs, "the forward's residual")

    def overwriting_step(carry, t, values):
        carry, outputs, (overwrite, extra) = step(carry, values[0])
        return carry, (overwrite,), (outputs, extra)

    final, (buffer,), ((hs, rests), extras) = scan_overwriting(overwriting_step, carry, (xs,), (1,))
    return hs, final, rests, (buffer, extras)


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


def _step_before(first: Any, stacked: Any, t) -> Any:
    """Step ``t`` of :func:`_shift_right` (``first`` at step 0), read without building the shifted copy."""
    return jax.tree.map(lambda f, s: jnp.where(t > 0, s[jnp.maximum(t - 1, 0)], f.astype(s.dtype)), first, stacked)


def _step(stacked: Any, t) -> Any:
    """Step ``t`` of each leaf of a pytree stacked over time."""
    return jax.tree.map(lambda leaf: leaf[t], stacked)


def _check_in_place(step_output: Any, buffer: jax.Array, what: str) -> None:
    """Raises unless ``step_output`` is one array with the shape and dtype of one step of ``buffer``."""
    one_step = jax.ShapeDtypeStruct(buffer.shape[1:], buffer.dtype)
    if step_output != one_step:
        raise ValueError(f"Gates(in_place=True) needs {what} to be one {one_step}, got {step_output}")


def _merged(dx: Any, dhz: Any) -> Any:
    """``dhz`` with its None entries (or, if None, all of it) taken from ``dx``."""
    if dhz is None:
        return dx
    if isinstance(dhz, tuple):
        return tuple(d if h is None else h for d, h in zip(dx, dhz))
    return dhz


def _replaced_blocks(dhz: Any) -> tuple[int, ...]:
    """The indices of the blocks in which an in-place gate's ``dhz`` differs from its ``dx``."""
    return () if dhz is None else tuple(k for k, block in enumerate(dhz) if block is not None)


def _replacements(dhz: tuple, replaced: tuple) -> jax.Array:
    """The blocks of ``dhz`` that replace those of ``dx``, joined: what is written over the extra residual."""
    return joined(tuple(dhz[k] for k in replaced))


def _gate_gradient_columns(dxs: jax.Array, extras: jax.Array | None, replaced: tuple, blocks: int) -> list:
    """The stacked dhz [time, batch, gates] of in-place gates as column groups in gate order: ``dxs`` whole,
    or, where blocks were replaced, each block of ``dxs`` or its replacement in ``extras``."""
    if not replaced:
        return [dxs]
    width = dxs.shape[-1] // blocks
    columns = []
    for k in range(blocks):
        source, index = (extras, replaced.index(k)) if k in replaced else (dxs, k)
        columns.append(source[..., index * width : (index + 1) * width])
    return columns


def _fused_backward(gates, compute_dtype, saved, cotangents):
    w_hh, b_hh, carry0, hs, rests, residuals = saved
    d_hs, (d_h_final, d_rest_final) = cotangents
    hs_before = _shift_right(carry0[0], hs)  # whole, for the weight gradient
    w_t = w_hh.T.astype(compute_dtype)

    def backward_step(carry, t, residual):
        """-> (carry for step t - 1, dx_t, dhz_t as the gates returned it)."""
        dh_next, d_rest = carry
        before = (hs_before[t], _step_before(carry0[1], rests, t))  # no shifted copy of the rest (c)
        after = _step((hs, rests), t)
        dx, dhz, dh_direct, d_rest = gates.backward(residual, d_hs[t] + dh_next, d_rest, before, after)
        dh_prev = matmul(joined(_merged(dx, dhz)), w_t, compute_dtype)
        dh_prev = dh_prev if dh_direct is None else dh_prev + dh_direct
        return (dh_prev, d_rest), dx, dhz

    end = (d_h_final, d_rest_final)
    if gates.in_place:
        (dh0, d_rest0), dxs, columns = _reverse_scan_in_place(gates, backward_step, end, residuals)
    else:

        def body(carry, t):
            carry, dx, dhz = backward_step(carry, t, _step(residuals, t))
            return carry, (joined(dx), None if dhz is None else joined(_merged(dx, dhz)))

        (dh0, d_rest0), (dxs, dhzs) = jax.lax.scan(body, end, jnp.arange(hs.shape[0]), reverse=True)
        columns = [dxs if dhzs is None else dhzs]
    d_w = jnp.concatenate([weight_gradient(hs_before, c, compute_dtype) for c in columns], axis=1)
    d_b = None if b_hh is None else jnp.concatenate([jnp.sum(c, axis=(0, 1)) for c in columns])
    return d_w.astype(w_hh.dtype), None if b_hh is None else d_b.astype(b_hh.dtype), dxs, (dh0, d_rest0)


def _reverse_scan_in_place(gates: Gates, backward_step: Callable, end: Any, residuals: tuple):
    """The reverse scan of in-place gates -> (carry for step -1, dxs [time, batch, gates] in the residuals'
    buffer, dhz stacked as column groups). Each ``dx_t`` is written over its ``overwrite`` and the replaced
    blocks of ``dhz_t`` over its ``extra``."""
    buffer, extras = residuals
    first = (read_blocks(buffer, 0, gates.blocks), read_blocks(extras, 0, 1))
    dx, dhz = jax.eval_shape(lambda: backward_step(end, 0, first)[1:])
    _check_in_place(jax.eval_shape(joined, dx), buffer, "the backward's dx")
    if not (dhz is None or (isinstance(dhz, tuple) and len(dhz) == gates.blocks)):
        raise ValueError(f"Gates(in_place=True) needs the backward's dhz to be None or {gates.blocks} blocks")
    replaced = _replaced_blocks(dhz)
    if replaced:
        if extras is None:
            raise ValueError("Gates(in_place=True) needs an extra residual to replace blocks of the backward's dhz")
        _check_in_place(jax.eval_shape(lambda d: _replacements(d, replaced), dhz), extras, "dhz's arrays")

    def overwriting_step(carry, t, values):
        carry, dx, dhz = backward_step(carry, t, values)
        extra = values[1] if not replaced else _replacements(dhz, replaced)
        return carry, (dx, extra), None

    blocks = (gates.blocks, 1)
    carry, (dxs, extras), _ = scan_overwriting(overwriting_step, end, residuals, blocks, reverse=True)
    return carry, dxs, _gate_gradient_columns(dxs, extras, replaced, gates.blocks)


fused_scan.defvjp(_fused_forward, _fused_backward)
