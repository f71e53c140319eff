"""Data parallelism over every visible device: one ``Mesh`` with one axis, ``data``.

One code path serves 1 to N devices, on one host or several:

- the streams of a batch (the rows of inputs and targets [batch, time]) and the
  recurrent carry (leaves [batch, hidden]) are split over ``data``;
- parameters and optimizer state are replicated, or, with ``train.fsdp``, each
  large array is split over ``data`` along its largest divisible dimension
  (FSDP-style: XLA gathers it for the step and reduce-scatters its gradient);
- scalars (step, metrics, RNG key) are replicated.

On one device every sharding is trivial and the computation is the
single-device one. Each process places only the rows of its own devices
(:func:`place_rows`), so on several hosts every host feeds its own streams.
"""

from __future__ import annotations

import collections
import math
from typing import Any, Callable

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from rnngen.train.train import TrainState

DATA_AXIS = "data"
# rnngen's multi-device programs that may be in flight at once on CPU devices (see DispatchWindow);
# XLA's CPU client admits 32 per device before a launch blocks one of its threads.
CPU_PROGRAMS_IN_FLIGHT = 8

def data_mesh() -> Mesh:
    """A 1-D mesh over every device of every process, its axis named ``data``."""
    return jax.make_mesh((jax.device_count(),), (DATA_AXIS,), axis_types=(AxisType.Auto,))


def replicated(mesh: Mesh) -> NamedSharding:
    """A full copy on every device of ``mesh``."""
    return NamedSharding(mesh, PartitionSpec())


def rows_sharding(mesh: Mesh, rows: int) -> NamedSharding:
    """Arrays of ``rows`` rows (leading dimension) split over ``data``; replicated when the
    device count does not divide ``rows`` (training refuses such batch sizes in preflight)."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS) if rows % mesh.size == 0 else PartitionSpec())


def fsdp_spec(shape: tuple[int, ...], num_devices: int, min_size: int) -> PartitionSpec:
    """How ``train.fsdp`` splits one array of ``shape``: its largest dimension that ``num_devices``
    divides (the first of equals) over ``data``; replicated when it has fewer than ``min_size``
    elements or no such dimension."""
    dims = [d for d, size in enumerate(shape) if size % num_devices == 0]
    if math.prod(shape) < min_size or not dims:
        return PartitionSpec()
    split = max(dims, key=lambda d: (shape[d], -d))
    return PartitionSpec(*(DATA_AXIS if d == split else None for d in range(len(shape))))


def weight_shardings(tree: Any, mesh: Mesh, fsdp: bool, min_size: int) -> Any:
    """Shardings of a parameter or optimizer-state pytree: replicated, or :func:`fsdp_spec`'s."""
    if not fsdp:
        return jax.tree_util.tree_map(lambda _: replicated(mesh), tree)
    return jax.tree_util.tree_map(lambda x: NamedSharding(mesh, fsdp_spec(np.shape(x), mesh.size, min_size)), tree)


def carry_shardings(carry: Any, mesh: Mesh) -> Any:
    """Shardings of a carry (leaves [batch, hidden]): its streams over ``data`` (see :func:`rows_sharding`)."""
    return jax.tree_util.tree_map(lambda x: rows_sharding(mesh, np.shape(x)[0]), carry)


def state_shardings(state: TrainState, mesh: Mesh, fsdp: bool = False, fsdp_min_size: int = 0) -> TrainState:
    """A :class:`TrainState` of shardings: the carry's streams over ``data``; parameters and optimizer
    state replicated, or split with ``fsdp`` (arrays of >= ``fsdp_min_size`` elements); step and key replicated."""
    return TrainState(
        step=replicated(mesh),
        params=weight_shardings(state.params, mesh, fsdp, fsdp_min_size),
        opt_state=weight_shardings(state.opt_state, mesh, fsdp, fsdp_min_size),
        carry=carry_shardings(state.carry, mesh),
        rng=replicated(mesh),
    )


def place(tree: Any, shardings: Any) -> Any:
    """``tree`` (the same values on every process, e.g. a fresh state from the seed) on the devices
    as ``shardings`` (a pytree of them, or one for every leaf) say."""
    return jax.device_put(tree, shardings)


def process_rows(sharding: NamedSharding, shape: tuple[int, ...]) -> np.ndarray:
    """The rows (leading indices) of a global array of ``shape`` that this process's devices hold,
    in order: int [local_rows]. All of them on one process, or when the rows are not split."""
    indices = sharding.addressable_devices_indices_map(shape).values()
    spans = sorted({index[0].indices(shape[0]) if index else (0, 1, 1) for index in indices})
    return np.concatenate([np.arange(*span) for span in spans])


def place_rows(array: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """A global array from the global numpy ``array`` [rows, ...] that every process holds (a batch):
    each process passes on only the rows of its own devices."""
    array = np.asarray(array)
    if array.ndim == 0 or sharding.is_fully_replicated:
        return jax.make_array_from_process_local_data(sharding, array, array.shape)
    return jax.make_array_from_process_local_data(sharding, array[process_rows(sharding, array.shape)], array.shape)


def fetch(tree: Any) -> Any:
    """``tree``'s values as numpy arrays on this host. Arrays split over other hosts' devices are
    gathered (a collective: every process must call it)."""

    def one(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable and not x.is_fully_replicated:
            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return np.asarray(jax.device_get(x))

    return jax.tree_util.tree_map(one, tree)


class DispatchWindow:
    """Bounds how far the host runs ahead of several CPU devices: at most ``limit`` of the programs
    dispatched through :meth:`pace` still running (no bound when ``limit`` is None).

    XLA's CPU client runs a program of several local devices on a pool of max(cores, devices) threads,
    one per device, and admits at most 32 programs in flight per device. A launch past that bound waits
    for a free slot *on one of those threads*, so a collective already running lacks one participant's
    thread and aborts the process ("Termination timeout for all gather ... only 7 of 8 arrived"). One
    window per run, shared by its train and evaluation steps, keeps every device below that bound.
    """

    def __init__(self, limit: int | None):
        self.limit = limit
        self.running = collections.deque()  # one output of each program still in flight, oldest first

    def pace(self, program: Callable, watched: int) -> Callable:
        """``program`` that first waits until fewer than ``limit`` paced calls are still running; output
        ``watched`` of a call (one not donated to a later call) tells when that call is done."""
        if self.limit is None:
            return program

        def paced_program(*args):
            while len(self.running) >= self.limit:
                jax.block_until_ready(self.running.popleft())
            outputs = program(*args)
            self.running.append(outputs[watched])
            return outputs

        return paced_program


def dispatch_window() -> DispatchWindow:
    """The window of a run on this process's devices: :data:`CPU_PROGRAMS_IN_FLIGHT` with several CPU
    devices (in one process or several), unbounded on one device and on GPUs and TPUs."""
    several_cpu_devices = jax.default_backend() == "cpu" and jax.local_device_count() > 1
    return DispatchWindow(CPU_PROGRAMS_IN_FLIGHT if several_cpu_devices else None)


def keep_state_shardings(train_step: Callable, shardings: TrainState, mesh: Mesh) -> Callable:
    """The pure ``train_step(state, batch, key) -> (state, metrics)`` (:func:`rnngen.train.train.make_train_step`)
    jitted, its one jit, so that the new state keeps ``shardings`` step after step (the donated state's
    buffers are reused) and the metrics are replicated scalars that every process can read; pace it
    with a :class:`DispatchWindow` (``watched=1``)."""
    return jax.jit(train_step, donate_argnums=0, out_shardings=(shardings, replicated(mesh)))


def sharded_eval_step(eval_step: Callable, mesh: Mesh, rows: int, window: DispatchWindow) -> Callable:
    """The pure ``eval_step(params, carry, inputs, targets, mask) -> (nll_sum, count, carry)``
    (:func:`rnngen.train.train.make_eval_step`) jitted, its one jit, taking numpy inputs, targets and
    mask [rows, time] (the global batch, on every process) and placing their rows over ``data``; the
    sums come back replicated, the carry keeps its rows' sharding; paced by ``window``."""
    batch_sharding = rows_sharding(mesh, rows)
    jitted = jax.jit(eval_step, out_shardings=(replicated(mesh), replicated(mesh), batch_sharding))
    step = window.pace(jitted, watched=0)

    def placed_eval_step(params, carry, inputs, targets, mask):
        inputs, targets, mask = (place_rows(a, batch_sharding) for a in (inputs, targets, mask))
        return step(params, carry, inputs, targets, mask)

    return placed_eval_step


def zero_carry_on(model, rows: int, mesh: Mesh) -> Any:
    """``model``'s zero carry for ``rows`` streams, its rows over ``data`` (:func:`rows_sharding`)."""
    return place(model.zero_carry(rows), rows_sharding(mesh, rows))
