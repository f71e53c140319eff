"""Evaluation's wavefront schedule against the layer-by-layer one, on the benchmark's 2x512 models.

    python scripts/bench/bench_wavefront.py [--case lstm_2x512] [--batch 64] [--rounds 5]

The layered schedule (training's) runs each layer's whole scan in turn, with
the upper layers' input projections as one large matmul between them. The
wavefront (``rnngen.models.wavefront``, which ``make_eval_step`` uses from
``MIN_BATCH`` rows up) runs layer ``l`` at step ``k - l`` in iteration ``k`` of
one scan, each upper layer projecting its input one step at a time, and gathers
the first layer's rows of the projected vocabulary table inside the scan.

Prints the evaluation loss (the forward pass, the output layer and the summed
nll over a batch of ``--batch`` x 100 random tokens) in ms for three programs,
timed alternately in this process (median of 5 calls per round; the fastest
round, then every round's median):

- ``layered``: the eval loss with ``wavefront=False``;
- ``wavefront, gather before``: the wavefront fed the first layer's inputs
  gathered before the scan, as the layered schedule does (the schedule's own share);
- ``wavefront``: the eval loss with ``wavefront=True``.

All three compute the same nll (checked).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_cases import EVAL_BATCH, SEQ_LEN, VOCAB  # noqa: E402
from bench_rnngen import case_config  # noqa: E402

from rnngen.models.language_model import output_layer  # noqa: E402
from rnngen.models.wavefront import wavefront  # noqa: E402
from rnngen.train.losses import nll_sum, resolve_chunk_size  # noqa: E402
from rnngen.train.train import build_setup  # noqa: E402
from rnngen.runtime.xla_flags import prefer_wide_vectors  # noqa: E402


def gathered_before_eval_step(graphdef, loss_chunk_size: int):
    """rnngen's eval step, but the wavefront reads the first layer's inputs from a [time, batch, proj]
    buffer gathered before the scan."""

    def eval_step(params, carry, inputs, targets, mask):
        model = nnx.merge(graphdef, params)
        projected = model.first_projection(inputs.T, None)
        hidden, carry = wavefront(model.layers, lambda t: projected[t], inputs.shape[1], carry)
        chunk_size = resolve_chunk_size(loss_chunk_size, targets.size, model.vocab_size)
        total = nll_sum(output_layer, model.output_params(), hidden, targets.T, mask.T, chunk_size)
        return total, jnp.sum(mask), carry

    return jax.jit(eval_step)


def eval_loss(loss_fn, wavefront: bool):
    """The jitted eval loss in one schedule: (params, carry, inputs, targets, mask) -> (nll sum, (carry, penalty))."""
    return jax.jit(lambda params, carry, inputs, targets, mask: loss_fn(params, inputs, carry, targets, mask,
                                                                        wavefront=wavefront))


def main(argv=None) -> None:
    prefer_wide_vectors()  # as the rnngen command does, before JAX starts
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", default="lstm_2x512", choices=["lstm_2x512", "gru_2x512"])
    parser.add_argument("--batch", type=int, default=EVAL_BATCH, help="rows (streams) of the evaluated batch")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    config = case_config(args.case)
    setup = build_setup(config, VOCAB)
    steps = {
        "layered": eval_loss(setup.loss_fn, wavefront=False),
        "wavefront, gather before": gathered_before_eval_step(nnx.graphdef(setup.model), config.train.loss_chunk_size),
        "wavefront": eval_loss(setup.loss_fn, wavefront=True),
    }
    rng = np.random.default_rng(0)
    inputs, targets = (jnp.asarray(rng.integers(0, VOCAB, (args.batch, SEQ_LEN), dtype=np.int32)) for _ in range(2))
    batch = (setup.model.zero_carry(args.batch), inputs, targets, jnp.ones((args.batch, SEQ_LEN), jnp.float32))
    nll = {name: float(step(setup.state.params, *batch)[0]) for name, step in steps.items()}
    for name, value in nll.items():
        np.testing.assert_allclose(value, nll["layered"], rtol=1e-5, err_msg=name)
    rounds = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            times = []
            for _ in range(5):
                start = time.perf_counter()
                jax.block_until_ready(step(setup.state.params, *batch))
                times.append(time.perf_counter() - start)
            rounds[name].append(float(np.median(times)) * 1e3)
    print(f"{args.case} eval loss, batch {args.batch} x {SEQ_LEN} (ms; fastest round, then every round's median)")
    for name, medians in rounds.items():
        print(f"  {name:26s} {min(medians):7.1f}   {' '.join(f'{m:.1f}' for m in medians)}")


if __name__ == "__main__":
    main()
