"""Recurrent cells and the registry that finds them by name.

A cell splits its work in two, so that the expensive part that does not depend
on the previous step runs outside the recurrence:

- ``project_inputs(xs [..., input]) -> [..., proj]`` runs once over the whole
  block (one large matmul per layer);
- ``step(carry, x_t [batch, proj]) -> (carry, h_t [batch, hidden])`` is one time
  step: the reference, which a researcher reads and edits.

How the recurrence over a block runs is the setting ``model.recurrence``
(:func:`resolve_recurrence`), never an implicit swap:

- ``scan``: ``jax.lax.scan`` of ``step``, differentiated by autodiff (the reference);
- ``fused``: the cell's ``fused_recur`` (and ``fused_step`` for schedules that run
  the steps themselves), which the built-in cells implement with
  :func:`rnngen.models.fused_scan.fused_scan`: the same math (in
  :mod:`rnngen.models.gates`) with a hand-written backward pass and in-place gate
  buffers, tested equal to ``scan`` in values and gradients;
- ``auto`` (the default): ``fused`` where the cell has a fused form, else ``scan``.

A researcher's own cell subclasses :class:`RecurrentCell`, decorates itself with
``@register_cell("my_cell")`` and is chosen with ``--config.model.cell=my_cell``;
``--config.model.cell_module=my_cells.py`` (a file or an importable module name)
makes rnngen import it first (``rnngen.models.plugins``), in training and whenever the
checkpoint is loaded.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import nnx

from rnngen.errors import UsageError
from rnngen.models.fused_scan import fused_scan, gate_step
from rnngen.models.gates import GRU_GATES, LSTM_GATES, RNN_GATES
from rnngen.models.projection import project

Carry = Any  # a pytree of [batch, hidden] arrays
RECURRENCES = ("auto", "scan", "fused")

_CELLS: dict[str, type["RecurrentCell"]] = {}


def register_cell(name: str) -> Callable[[type], type]:
    """Class decorator: makes a cell available as ``model.cell=name``."""

    def decorate(cell_class: type) -> type:
        _CELLS[name] = cell_class
        return cell_class

    return decorate


def get_cell(name: str) -> type["RecurrentCell"]:
    """Returns the registered cell class called ``name``."""
    if name not in _CELLS:
        raise UsageError(
            f"unknown cell {name!r}; registered cells: {', '.join(sorted(_CELLS))} "
            "(register your own with rnngen.models.register_cell)"
        )
    return _CELLS[name]


def registered_cells() -> list[str]:
    return sorted(_CELLS)


def resolve_recurrence(cell_name: str, recurrence: str) -> str:
    """``model.recurrence`` for the cell ``cell_name`` -> "scan" or "fused"; a UsageError for a value
    that is not one of RECURRENCES, or for ``fused`` with a cell that has no fused form."""
    if recurrence not in RECURRENCES:
        raise UsageError(f"--config.model.recurrence must be one of {', '.join(RECURRENCES)}, got {recurrence!r}")
    has_fused = get_cell(cell_name).has_fused()
    if recurrence == "fused" and not has_fused:
        raise UsageError(
            f"--config.model.recurrence=fused: the cell {cell_name!r} has no fused form (fused_recur); "
            "use --config.model.recurrence=scan or auto"
        )
    return ("fused" if has_fused else "scan") if recurrence == "auto" else recurrence


def _input_kernel(rngs: nnx.Rngs, input_size: int, width: int) -> nnx.Param:
    return nnx.Param(nnx.initializers.xavier_uniform()(rngs.params(), (input_size, width)))


def _recurrent_kernel(rngs: nnx.Rngs, hidden_size: int, num_blocks: int) -> nnx.Param:
    """[hidden, num_blocks * hidden]: one orthogonal block per gate."""
    init = nnx.initializers.orthogonal()
    blocks = [init(key, (hidden_size, hidden_size)) for key in jax.random.split(rngs.params(), num_blocks)]
    return nnx.Param(jnp.concatenate(blocks, axis=1))


class RecurrentCell(nnx.Module):
    """Base class: subclasses set ``hidden_size`` and implement ``project_inputs`` and ``step``
    (and ``zero_carry`` for a carry other than one [batch, hidden] array); a fused form is optional."""

    hidden_size: int
    recurrence: str = "scan"  # "scan" or "fused": how recur runs (the model sets it from model.recurrence)

    @classmethod
    def from_config(cls, input_size: int, hidden_size: int, model_config, rngs: nnx.Rngs):
        """Builds the cell from the model config; override to read extra fields."""
        return cls(input_size, hidden_size, rngs=rngs)

    @classmethod
    def has_fused(cls) -> bool:
        """Whether the cell implements ``fused_recur`` (and ``fused_step``)."""
        return cls.fused_recur is not RecurrentCell.fused_recur

    def project_inputs(self, xs: jax.Array) -> jax.Array:
        """xs [..., input] -> [..., proj]; runs once, outside the scan."""
        raise NotImplementedError

    def step(self, carry: Carry, x_t: jax.Array) -> tuple[Carry, jax.Array]:
        """(carry, x_t [batch, proj]) -> (new carry, h_t [batch, hidden]); one step inside the scan."""
        raise NotImplementedError

    def zero_carry(self, batch_size: int) -> Carry:
        """The initial carry: zeros [batch, hidden] (override for another structure)."""
        return jnp.zeros((batch_size, self.hidden_size), jnp.float32)

    def recur(self, projected: jax.Array, carry: Carry) -> tuple[jax.Array, Carry]:
        """projected [time, batch, proj], carry -> (hs [time, batch, hidden], final carry): ``step`` scanned
        (``recurrence="scan"``), or ``fused_recur`` (``"fused"``)."""
        if self.recurrence == "fused":
            return self.fused_recur(projected, carry)
        carry, hs = jax.lax.scan(self.step, carry, projected)
        return hs, carry

    def scan_step(self, carry: Carry, x_t: jax.Array) -> tuple[Carry, jax.Array]:
        """One step of ``recur``'s recurrence, (carry, x_t [batch, proj]) -> (carry, h_t [batch, hidden]), for
        schedules that run the steps themselves (evaluation's wavefront, :mod:`rnngen.models.wavefront`):
        ``step``, or ``fused_step`` under ``recurrence="fused"``."""
        if self.recurrence == "fused":
            return self.fused_step(carry, x_t)
        return self.step(carry, x_t)

    def fused_recur(self, projected: jax.Array, carry: Carry) -> tuple[jax.Array, Carry]:
        """The optimized form of the ``lax.scan`` of ``step`` (same signature as :meth:`recur`); optional."""
        raise NotImplementedError

    def fused_step(self, carry: Carry, x_t: jax.Array) -> tuple[Carry, jax.Array]:
        """One step of ``fused_recur``'s math (same signature as :meth:`step`); with ``fused_recur``."""
        raise NotImplementedError

    def __call__(self, xs: jax.Array, carry: Carry) -> tuple[jax.Array, Carry]:
        """xs [batch, time, input], carry -> (hs [batch, time, hidden], final carry)."""
        hs, carry = self.recur(self.project_inputs(jnp.swapaxes(xs, 0, 1)), carry)
        return jnp.swapaxes(hs, 0, 1), carry


def compute_dtype_of(cell: nnx.Module):
    """The dtype of a cell's matmul operands (``compute_dtype``, float32 unless set)."""
    return getattr(cell, "compute_dtype", jnp.float32)


def _single_state_step(cell, gates, b_hh, h: jax.Array, x_t: jax.Array) -> tuple[jax.Array, jax.Array]:
    """:meth:`RecurrentCell.fused_step` of a cell whose carry is h alone (the RNN, the GRU)."""
    (h, _), h, _ = gate_step(gates, cell.w_hh[...], b_hh, x_t, (h, None), compute_dtype_of(cell))
    return h, h


@register_cell("rnn")
class SimpleRNNCell(RecurrentCell):
    """Elman RNN: h' = tanh(x W_ih + b + h W_hh)."""

    def __init__(self, input_size: int, hidden_size: int, *, rngs: nnx.Rngs):
        self.hidden_size = hidden_size
        self.w_ih = _input_kernel(rngs, input_size, hidden_size)
        self.b = nnx.Param(jnp.zeros((hidden_size,)))
        self.w_hh = _recurrent_kernel(rngs, hidden_size, 1)

    def project_inputs(self, xs):
        return project(xs, self.w_ih[...], self.b[...], compute_dtype_of(self))

    def step(self, h, x_t):
        """The reference step; it runs under ``model.recurrence=scan``. Under ``fused`` (what the default ``auto`` picks) training,
        evaluation and sampling run ``fused_recur``/``fused_step`` instead: the same math in
        :mod:`rnngen.models.gates`, so an edit here needs ``--config.model.recurrence=scan``."""
        h = jnp.tanh(x_t + h @ self.w_hh[...])
        return h, h

    def fused_recur(self, projected, h):
        hs, (h, _) = fused_scan(RNN_GATES, self.w_hh[...], None, projected, (h, None), compute_dtype_of(self))
        return hs, h

    def fused_step(self, h, x_t):
        return _single_state_step(self, RNN_GATES, None, h, x_t)


@register_cell("gru")
class GRUCell(RecurrentCell):
    """GRU as in PyTorch (gate order r, z, n):

    r = σ(x W_ir + b_ir + h W_hr + b_hr), z = σ(x W_iz + b_iz + h W_hz + b_hz),
    n = tanh(x W_in + b_in + r ⊙ (h W_hn + b_hn)), h' = (1 - z) ⊙ n + z ⊙ h.
    """

    def __init__(self, input_size: int, hidden_size: int, *, rngs: nnx.Rngs):
        self.hidden_size = hidden_size
        self.w_ih = _input_kernel(rngs, input_size, 3 * hidden_size)
        self.b_ih = nnx.Param(jnp.zeros((3 * hidden_size,)))
        self.w_hh = _recurrent_kernel(rngs, hidden_size, 3)
        self.b_hh = nnx.Param(jnp.zeros((3 * hidden_size,)))

    def project_inputs(self, xs):
        return project(xs, self.w_ih[...], self.b_ih[...], compute_dtype_of(self))

    def step(self, h, x_t):
        """The reference step; it runs under ``model.recurrence=scan``. Under ``fused`` (what the default ``auto`` picks) training,
        evaluation and sampling run ``fused_recur``/``fused_step`` instead: the same math in
        :mod:`rnngen.models.gates`, so an edit here needs ``--config.model.recurrence=scan``."""
        x_r, x_z, x_n = jnp.split(x_t, 3, axis=-1)
        h_r, h_z, h_n = jnp.split(h @ self.w_hh[...] + self.b_hh[...], 3, axis=-1)
        r = jax.nn.sigmoid(x_r + h_r)
        z = jax.nn.sigmoid(x_z + h_z)
        n = jnp.tanh(x_n + r * h_n)
        h = (1.0 - z) * n + z * h
        return h, h

    def fused_recur(self, projected, h):
        w_hh, b_hh = self.w_hh[...], self.b_hh[...]
        hs, (h, _) = fused_scan(GRU_GATES, w_hh, b_hh, projected, (h, None), compute_dtype_of(self))
        return hs, h

    def fused_step(self, h, x_t):
        return _single_state_step(self, GRU_GATES, self.b_hh[...], h, x_t)


@register_cell("lstm")
class LSTMCell(RecurrentCell):
    """LSTM (gate order i, f, g, o; carry (h, c)):

    i, f, g, o = split(x W_ih + b + h W_hh), c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g),
    h' = σ(o) ⊙ tanh(c'). The forget-gate bias starts at ``forget_bias``.
    """

    def __init__(self, input_size: int, hidden_size: int, *, rngs: nnx.Rngs, forget_bias: float = 1.0):
        self.hidden_size = hidden_size
        self.w_ih = _input_kernel(rngs, input_size, 4 * hidden_size)
        bias = jnp.zeros((4 * hidden_size,)).at[hidden_size : 2 * hidden_size].set(forget_bias)
        self.b = nnx.Param(bias)
        self.w_hh = _recurrent_kernel(rngs, hidden_size, 4)

    @classmethod
    def from_config(cls, input_size, hidden_size, model_config, rngs):
        return cls(input_size, hidden_size, rngs=rngs, forget_bias=model_config.forget_bias)

    def project_inputs(self, xs):
        return project(xs, self.w_ih[...], self.b[...], compute_dtype_of(self))

    def fused_recur(self, projected, carry):
        return fused_scan(LSTM_GATES, self.w_hh[...], None, projected, tuple(carry), compute_dtype_of(self))

    def fused_step(self, carry, x_t):
        carry, h, _ = gate_step(LSTM_GATES, self.w_hh[...], None, x_t, tuple(carry), compute_dtype_of(self))
        return carry, h

    def step(self, carry, x_t):
        """The reference step; it runs under ``model.recurrence=scan``. Under ``fused`` (what the default ``auto`` picks) training,
        evaluation and sampling run ``fused_recur``/``fused_step`` instead: the same math in
        :mod:`rnngen.models.gates`, so an edit here needs ``--config.model.recurrence=scan``."""
        h, c = carry
        i, f, g, o = jnp.split(x_t + h @ self.w_hh[...], 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    def zero_carry(self, batch_size):
        shape = (batch_size, self.hidden_size)
        return (jnp.zeros(shape, jnp.float32), jnp.zeros(shape, jnp.float32))  # two buffers: both are donated
