"""Where a CPU train step's time goes: the kernels under rnngen's LSTM, against PyTorch's where it has one.

    python scripts/bench/bench_kernels.py            # needs the bench extra (PyTorch) for the PyTorch column

Prints, for this machine:

- the large one-off matmuls of the 2x512 LSTM's upper layer (input projection,
  its input gradient, its kernel gradient: [6400, 512] x [512, 2048] and
  transposes), jitted JAX against ``torch`` on the same arrays, in ms and GFLOP/s;
- the recurrent matmul in a loop of 100 dependent steps (``h = tanh((h @ w)[:, :k])``)
  at the 1x256 and 2x512 LSTM's sizes: ``lax.scan`` against a PyTorch loop, µs per step;
- XLA's elementwise code in such a loop at the 1x256's size: a step read from a
  ``[time, batch, 4 * hidden]`` buffer multiplied by itself, by one of its own gate
  blocks, and a loop-carried value by one of its own blocks (µs per step; the
  second is the backward pass's pattern);
- what a page fault costs: the first touch of fresh memory, µs per 4 KiB page.

Each figure is the fastest of several timed calls (the machine is shared and noisy).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_cases import timed_calls  # noqa: E402

ROWS, INPUT, GATES = 6400, 512, 2048  # the 2x512 LSTM's upper layer over a 64 x 100 block
LOOP_SIZES = [(64, 256, 1024), (64, 512, 2048)]  # [batch, hidden] @ [hidden, 4 * hidden]
STEPS, BATCH, HIDDEN = 100, 64, 256


def fastest(run: Callable[[], object], calls: int = 7) -> float:
    """Seconds of the fastest of ``calls`` runs of ``run`` (which must block), after one warm-up run."""
    return min(timed_calls(run, warmup=1, repeats=calls))


def large_matmuls() -> list[tuple[str, float, float | None]]:
    """(case, JAX seconds, PyTorch seconds or None) of the three one-off matmuls."""
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    x = jax.random.normal(keys[0], (ROWS, INPUT))
    w = jax.random.normal(keys[1], (INPUT, GATES))
    dz = jax.random.normal(keys[2], (ROWS, GATES))
    cases = {"x @ w": lambda x, w, dz: x @ w, "dz @ w.T": lambda x, w, dz: dz @ w.T, "x.T @ dz": lambda x, w, dz: x.T @ dz}
    torch = optional_torch()
    rows = []
    for name, fn in cases.items():
        jitted = jax.jit(fn)
        jax_s = fastest(lambda: jax.block_until_ready(jitted(x, w, dz)))
        torch_s = None
        if torch is not None:
            tx, tw, tdz = (torch.from_numpy(np.array(a)) for a in (x, w, dz))
            torch_s = fastest(lambda: fn(tx, tw, tdz))
        rows.append((name, jax_s, torch_s))
    return rows


def recurrent_loops() -> list[tuple[str, float, float | None]]:
    """(size, JAX seconds per step, PyTorch seconds per step or None) of 100 dependent matmul steps."""
    torch = optional_torch()
    rows = []
    for batch, hidden, width in LOOP_SIZES:
        h = jax.random.normal(jax.random.PRNGKey(0), (batch, hidden))
        w = jax.random.normal(jax.random.PRNGKey(1), (hidden, width)) / hidden**0.5
        loop = jax.jit(lambda h, w: jax.lax.scan(lambda h, _: (jnp.tanh((h @ w)[:, :hidden]), None), h, None, STEPS)[0])
        jax_s = fastest(lambda: jax.block_until_ready(loop(h, w))) / STEPS
        torch_s = None
        if torch is not None:
            th, tw = torch.from_numpy(np.array(h)), torch.from_numpy(np.array(w))

            def torch_loop():
                state = th
                for _ in range(STEPS):
                    state = torch.tanh((state @ tw)[:, :hidden])

            torch_s = fastest(torch_loop) / STEPS
        rows.append((f"[{batch}, {hidden}] @ [{hidden}, {width}]", jax_s, torch_s))
    return rows


def gate_slices() -> list[tuple[str, float]]:
    """(pattern, JAX seconds per step) of elementwise work in a 100-step loop over a [time, batch, 4, hidden] buffer."""
    gates = jax.nn.sigmoid(jax.random.normal(jax.random.PRNGKey(0), (STEPS, BATCH, 4, HIDDEN)))
    start = gates[0]
    patterns = {
        "read step * itself": lambda acc, gates, t: acc + gates[t] * gates[t],
        "read step * its gate block": lambda acc, gates, t: acc + gates[t] * gates[t][:, 2:3],
        "carried value * its gate block": lambda acc, gates, t: acc * acc[:, 2:3] * 0.5 + 0.25,
    }
    rows = []
    for name, body in patterns.items():
        loop = jax.jit(lambda gates, start, body=body: jax.lax.scan(
            lambda acc, t: (body(acc, gates, t), None), start, jnp.arange(STEPS))[0])
        rows.append((name, fastest(lambda: jax.block_until_ready(loop(gates, start))) / STEPS))
    return rows


def page_fault_seconds(mib: int = 256) -> float:
    """Seconds per 4 KiB page of the first write to ``mib`` MiB of freshly mapped memory (fastest of 3)."""
    times = []
    for _ in range(3):
        fresh = np.empty(mib * 2**20, np.uint8)
        start = time.perf_counter()
        fresh[::4096] = 1
        times.append((time.perf_counter() - start) / (mib * 2**20 // 4096))
        del fresh
    return min(times)


def optional_torch():
    """The torch module, or None without the bench extra."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def main() -> None:
    flops = 2 * ROWS * INPUT * GATES
    rate = lambda s: "-" if s is None else f"{s * 1e3:7.1f} ms {flops / s / 1e9:5.0f} GFLOP/s"  # noqa: E731
    print(f"large matmuls, [{ROWS}, {INPUT}] x [{INPUT}, {GATES}] family      JAX                      PyTorch")
    for name, jax_s, torch_s in large_matmuls():
        print(f"  {name:52s} {rate(jax_s):24s} {rate(torch_s)}")
    print(f"recurrent matmul, {STEPS} dependent steps (µs per step)          JAX      PyTorch")
    for name, jax_s, torch_s in recurrent_loops():
        print(f"  {name:56s} {jax_s * 1e6:7.1f}  {'-' if torch_s is None else f'{torch_s * 1e6:7.1f}'}")
    print(f"elementwise in a {STEPS}-step loop, [{BATCH}, 4, {HIDDEN}] per step (µs per step, JAX)")
    for name, seconds in gate_slices():
        print(f"  {name:56s} {seconds * 1e6:7.1f}")
    print(f"first touch of fresh memory: {page_fault_seconds() * 1e6:.2f} µs per 4 KiB page")


if __name__ == "__main__":
    main()
