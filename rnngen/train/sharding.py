"""Data parallelism over every visible device: one ``Mesh`` with one axis, ``data``.

One code path serves 1 to N devices, on one host or several:

- the streams of a batch (the rows of inputs and targets [batch, time]) and the
  recurrent carry (leaves [batch, hidden]) are split over ``data``;
- parameters and optimizer state are replicated, or, with ``train.fsdp``, each
  large array is split over ``data`` along its largest divisible dimension
  (FSDP-style: XLA gathers it for the step and reduce-scatters its gradient);
- scalars (step, metrics, RNG key) are replicated.

The mesh and the placing of arrays on it are :mod:`rnngen.devices`'s. On one device every sharding is trivial and the computation is the
single-device one. Each process places only the rows of its own devices
(:func:`place_rows`), so on several hosts every host feeds its own streams.
"""

from __future__ import annotations

import collections
import math
from typing import Any, Callable

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from rnngen.devices import DATA_AXIS, place_rows, replicated, rows_sharding
from rnngen.train.train import TrainState

# rnngen's multi-device programs that may be in flight at once on CPU devices (see DispatchWindow);
# XLA's CPU client admits 32 per device before a launch blocks one of its threads.
CPU_PROGRAMS_IN_FLIGHT = 8


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

