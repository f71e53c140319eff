"""The devices of every process as one 1-D mesh, ``data``, and moving arrays on and off it.

Training (:mod:`rnngen.train.sharding`), checkpoints and inference share these: a mesh
over every device of every process, placing a tree on it, a batch's rows split over
``data``, fetching global arrays back to the host, and a barrier between processes.
On one device every sharding is trivial.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"


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


def zero_carry_on(model, rows: int, mesh: Mesh) -> Any:
    """``model``'s zero carry for ``rows`` streams, its rows over ``data`` (:func:`rows_sharding`)."""
    return place(model.zero_carry(rows), rows_sharding(mesh, rows))


def fetch(tree: Any) -> Any:
    """``tree``'s values as numpy arrays on this host. Arrays split over other hosts' devices are
    gathered (a collective: every process must call it)."""

    def one(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable and not x.is_fully_replicated:
            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return np.asarray(jax.device_get(x))

    return jax.tree_util.tree_map(one, tree)


def wait_for_all_processes(name: str) -> None:
    """A barrier: returns once every process has called it with ``name`` (at once with one process)."""
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(name)
