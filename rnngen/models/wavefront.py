"""The wavefront schedule of a stack of recurrent layers: how evaluation runs them.

Layer by layer (training's schedule), each layer's scan runs over the whole
block before the next one starts, with the upper layers' input projections as
one large matmul in between. In the wavefront, iteration ``k`` of a single scan
runs every layer ``l`` at its step ``k - l`` (``time + layers - 1`` iterations;
a layer outside its steps keeps its carry): the layers' steps in an iteration
do not depend on each other, each upper layer projects its input one step at a
time, and the first layer reads its step's inputs through ``first_input(t)``,
which for a small vocabulary gathers rows of the projected vocabulary table
inside the scan, so that no ``[time, batch, proj]`` buffer is built.

It computes the same values as the layered schedule (tested) and ran
evaluation faster on CPU from ``MIN_BATCH`` rows up (docs/performance.md,
``scripts/bench/bench_wavefront.py``); with fewer rows, each upper layer's
per-step projection re-reads its weights for too little work, and the layered
schedule is faster. It is meant for forward passes: autodiff runs through it,
but training keeps the layered schedule and its hand-written backward pass
(:mod:`rnngen.models.fused_scan`).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp

MIN_BATCH = 16  # the smallest batch that evaluation runs in the wavefront (see the module docstring)


def _outputs_like(layers: Sequence[Any], first_input: Callable, carry: tuple) -> tuple:
    """Zeros shaped like each layer's step output h_t [batch, hidden] (from the shapes alone)."""
    outputs, x_t = [], jax.eval_shape(first_input, 0)
    for index, layer in enumerate(layers):
        if index > 0:
            x_t = jax.eval_shape(layer.project_inputs, outputs[-1])
        outputs.append(jax.eval_shape(layer.scan_step, carry[index], x_t)[1])
    return tuple(jnp.zeros(output.shape, output.dtype) for output in outputs)


def wavefront(layers: Sequence[Any], first_input: Callable, num_steps: int, carry: tuple) -> tuple[jax.Array, tuple]:
    """Runs ``layers`` (cells with ``project_inputs`` and ``scan_step``) over ``num_steps`` steps
    -> (the top layer's hs [time, batch, hidden], every layer's final carry).

    ``first_input(t)`` is the first layer's projected input at step ``t``, [batch, proj]; ``carry`` holds
    one carry per layer.
    """
    num_layers = len(layers)

    def iteration(state, k):
        carries, below = state  # below[l]: layer l's output in the previous iteration
        new_carries, outputs = [], []
        for index, layer in enumerate(layers):
            t = k - index
            x_t = first_input(jnp.clip(t, 0, num_steps - 1)) if index == 0 else layer.project_inputs(below[index - 1])
            new_carry, h_t = layer.scan_step(carries[index], x_t)
            running = (t >= 0) & (t < num_steps)
            new_carries.append(jax.tree.map(lambda new, old: jnp.where(running, new, old), new_carry, carries[index]))
            outputs.append(h_t)
        return (tuple(new_carries), tuple(outputs)), outputs[-1]

    state = (tuple(carry), _outputs_like(layers, first_input, carry))
    (carries, _), tops = jax.lax.scan(iteration, state, jnp.arange(num_steps + num_layers - 1))
    return tops[num_layers - 1 :], carries
