"""Several processes (one per host, or per GPU) training one model with ``jax.distributed``.

``distributed.initialize`` decides whether this process joins others:

- ``auto`` (default): when the launch says it is one of several processes: a
  ``distributed.coordinator_address`` or ``distributed.num_processes`` > 1 in the
  config, ``JAX_COORDINATOR_ADDRESS`` in the environment, a SLURM job step
  (``srun``) of several tasks, an Open MPI job of several ranks, or a Cloud TPU
  environment listing several workers;
- ``on``: always; what the config leaves unset JAX detects from the cluster
  (SLURM, Open MPI, Cloud TPU, Kubernetes), as ``jax.distributed.initialize()`` does;
- ``off``: never: one process, its local devices.

It must run before anything touches a device. Every process runs the same
training loop on its own devices (the steps are collectives); only process 0
writes metrics, TensorBoard events and samples, and holds the workdir lock.
"""

from __future__ import annotations

import os

import jax
import numpy as np
from jax.experimental import multihost_utils

from rnngen.errors import UsageError

MODES = ("auto", "on", "off")
SIGNALS = (None, "SIGTERM", "SIGINT")  # a stop request as a number every process can share


def several_processes_launched(settings) -> str | None:
    """What says this process is one of several (``settings``: the config's ``distributed``
    section), or None for a plain single-process launch."""
    env = os.environ
    if settings.coordinator_address or (settings.num_processes or 1) > 1:
        return "the config's distributed section"
    if env.get("JAX_COORDINATOR_ADDRESS"):
        return "JAX_COORDINATOR_ADDRESS"
    if int(env.get("SLURM_STEP_NUM_TASKS", "1") or 1) > 1 and "SLURM_STEP_NODELIST" in env:
        return "a SLURM job step of several tasks"
    if int(env.get("OMPI_COMM_WORLD_SIZE", "1") or 1) > 1:
        return "an Open MPI job of several ranks"
    if "," in env.get("TPU_WORKER_HOSTNAMES", "") or "," in env.get("TPU_PROCESS_ADDRESSES", ""):
        return "a Cloud TPU slice of several hosts"
    return None


def initialize(config) -> None:
    """Joins the other processes of the run per ``config.distributed`` (see the module docstring);
    does nothing when already joined or when there are none. A UsageError for a bad setting."""
    settings = config.distributed
    if settings.initialize not in MODES:
        raise UsageError(f"--config.distributed.initialize must be one of {', '.join(MODES)}, got {settings.initialize!r}")
    if jax.distributed.is_initialized() or settings.initialize == "off":
        return
    if settings.initialize == "auto" and several_processes_launched(settings) is None:
        return
    try:
        jax.distributed.initialize(
            coordinator_address=settings.coordinator_address, num_processes=settings.num_processes,
            process_id=settings.process_id,
        )
    except (ValueError, TypeError) as error:
        raise UsageError(
            f"jax.distributed.initialize failed: {error}; set --config.distributed.coordinator_address, "
            "num_processes and process_id, or --config.distributed.initialize=off for one process"
        ) from error


def is_main_process() -> bool:
    """True in process 0, the one that writes metrics, samples and messages."""
    return jax.process_index() == 0


def agree_on_stop(received: str | None) -> str | None:
    """The stop request of any process (SIGINT over SIGTERM), the same in every process; a
    collective: every process calls it at the same step."""
    if jax.process_count() == 1:
        return received
    codes = multihost_utils.process_allgather(np.int32(SIGNALS.index(received)))
    return SIGNALS[int(np.max(codes))]


class NoWriter:
    """A :class:`~rnngen.train.metrics_writer.MetricWriter` that writes nothing (processes other than 0)."""

    def write_scalars(self, step: int, scalars: dict, prefix: str) -> None:
        pass

    def write_text(self, step: int, tag: str, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class NoLock:
    """A :class:`~rnngen.checkpoints.workdir.WorkdirLock` that locks nothing: process 0 holds the real one."""

    def release(self) -> None:
        pass
