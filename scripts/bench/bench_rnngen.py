"""rnngen's side of ``scripts/bench/bench.py``: one case per process, one JSON line out.

    python scripts/bench/bench_rnngen.py train lstm_2x512 [--dtype bfloat16] [--repeats 10]
    python scripts/bench/bench_rnngen.py sample 1 [--model lstm_2x512]
    python scripts/bench/bench_rnngen.py eval --ids validation.npy
    python scripts/bench/bench_rnngen.py curve lstm_1x256 --steps 500 --dtype bfloat16 --ids train.npy
    python scripts/bench/bench_rnngen.py matmul

Training times the real train step (``rnngen.train.train.make_train_step``, jitted
with its state donated as the trainer does) on random token batches; sampling times
the real compiled sampler (``rnngen.decoding.sampler.sample``) from a one-character
prompt; evaluation times ``rnngen.train.evaluation.total_nll`` over a split's char ids
(``--ids``, a .npy file that ``bench.py --write-ids DIR`` writes from tiny_shakespeare). Throughputs
are characters per second. JAX runs on its default device (a GPU when it has one).
Like the ``rnngen`` command this script compiles for 512-bit CPU vectors, and
``train`` and ``curve`` restart with malloc's huge pages, as the opt-in
``rnngen --huge-pages train`` does.
"""

from __future__ import annotations

import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_cases import (  # noqa: E402
    BATCH, CLIP, EMBED, EVAL_BATCH, LEARNING_RATE, SAMPLE_LENGTH, SAMPLE_TEMPERATURE, SEQ_LEN, TRAIN_CASES, VOCAB,
    MATMUL_SIZE, eval_vocab, median_rate, rate_and_faults, worker_parser,
)
from bench_cases import report as report_line  # noqa: E402

from rnngen.config import base_config  # noqa: E402
from rnngen.runtime.huge_pages import restart_with_huge_pages  # noqa: E402
from rnngen.decoding.sampler import sample  # noqa: E402
from rnngen.runtime.memory import release_freed_memory  # noqa: E402
from rnngen.train.train import build_setup  # noqa: E402
from rnngen.train.train import make_eval_step, make_train_step  # noqa: E402
from rnngen.runtime.xla_flags import prefer_wide_vectors  # noqa: E402


def report(per_s: float, compile_s: float | None, **extra) -> None:
    """The worker's JSON line, with the GPU's peak allocation as the peak memory on a GPU."""
    stats = jax.devices()[0].memory_stats() if jax.default_backend() == "gpu" else None
    device_peak = None if not stats else stats.get("peak_bytes_in_use", 0) / 2**20
    report_line(per_s, compile_s, device_peak, **extra)


def case_config(case: str, dtype: str = "float32"):
    """The rnngen config of a benchmark case: its cell and sizes, the shared training settings."""
    cell, layers, hidden = TRAIN_CASES[case]
    config = base_config()
    config.model.update(cell=cell, num_layers=layers, hidden_size=hidden, embed_dim=EMBED, dropout=0.0)
    config.train.update(
        batch_size=BATCH, seq_len=SEQ_LEN, optimizer="adam", learning_rate=LEARNING_RATE, grad_clip=CLIP,
        compute_dtype=dtype,
    )
    return config


def random_batch(seed: int = 0) -> dict:
    """A batch of random token ids: inputs, targets int32 [BATCH, SEQ_LEN]."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, VOCAB, (BATCH, SEQ_LEN + 1), dtype=np.int32)
    return {"inputs": jnp.asarray(ids[:, :-1]), "targets": jnp.asarray(ids[:, 1:]), "reset": jnp.asarray(False)}


def donated_train_step(setup):
    """``setup``'s pure train step jitted once with its state donated, as the trainer's is."""
    return jax.jit(make_train_step(setup.loss_fn, setup.optimizer, setup.schedule), donate_argnums=0)


def bench_train(case: str, dtype: str, repeats: int) -> None:
    """Characters per second of the train step; compile_s is the jit's lower + compile time;
    faulted_mib_per_step the memory each step touches for the first time since it was mapped."""
    setup = build_setup(case_config(case, dtype), VOCAB)
    step_fn = donated_train_step(setup)
    batch, key = random_batch(), jax.random.PRNGKey(0)
    start = time.perf_counter()
    compiled = step_fn.lower(setup.state, batch, key).compile()
    release_freed_memory()  # after compiling, as the `rnngen` command's trainer does
    compile_s = time.perf_counter() - start
    holder = {"state": setup.state}

    def run():
        holder["state"], metrics = compiled(holder["state"], batch, key)
        jax.block_until_ready(metrics["loss"])

    per_s, faulted = rate_and_faults(run, BATCH * SEQ_LEN, warmup=2, repeats=repeats)
    report(per_s, compile_s, faulted_mib_per_step=faulted)


def bench_curve(case: str, dtype: str, steps: int, ids: np.ndarray) -> None:
    """Trains ``steps`` steps on the char ids [n] of a training split (rnngen's batcher,
    seed 0) and reports the mean training loss of the last 50 steps, with the
    steps per second; float32 and bfloat16 runs start from the same parameters."""
    from rnngen.data.batching import TBPTTBatcher

    setup = build_setup(case_config(case, dtype), eval_vocab(ids))
    step_fn = donated_train_step(setup)
    batcher = TBPTTBatcher(ids, BATCH, SEQ_LEN, seed=0)
    state, position, losses = setup.state, {"epoch": 0, "batch": 0}, []
    start = time.perf_counter()
    for step in range(steps):
        windows, reset = batcher.window(position)
        batch = {"inputs": windows[:, :-1], "targets": windows[:, 1:], "reset": np.asarray(reset)}
        state, metrics = step_fn(state, batch, jax.random.fold_in(jax.random.PRNGKey(0), step))
        losses.append(metrics["loss"])
        position = batcher.next_position(position)
    losses = [float(loss) for loss in jax.device_get(losses)]
    report(steps / (time.perf_counter() - start), None, final_loss=float(np.mean(losses[-50:])), losses=losses)


def sampling_model(case: str):
    """(apply_fn, params, zero carry for a batch) of an untrained model of ``case``."""
    setup = build_setup(case_config(case), VOCAB)
    return setup.apply_fn, setup.state.params, setup.model.zero_carry


def bench_sample(batch: int, case: str, repeats: int) -> None:
    """Sampled characters per second (batch x SAMPLE_LENGTH per call); compile_s: first call minus a timed one."""
    apply_fn, params, zero_carry = sampling_model(case)
    prompt = jnp.zeros((batch, 1), jnp.int32)
    carry, key = zero_carry(batch), jax.random.PRNGKey(0)

    def run():
        jax.block_until_ready(sample(apply_fn, params, carry, key, prompt, SAMPLE_LENGTH, SAMPLE_TEMPERATURE))

    start = time.perf_counter()
    run()
    first = time.perf_counter() - start
    per_s = median_rate(run, batch * SAMPLE_LENGTH, warmup=0, repeats=repeats)
    report(per_s, max(first - batch * SAMPLE_LENGTH / per_s, 0.0))


def bench_eval(ids: np.ndarray, repeats: int, case: str) -> None:
    """Predicted characters per second over a split's ids [n], EVAL_BATCH streams of SEQ_LEN windows."""
    from rnngen.train.evaluation import total_nll

    setup = build_setup(case_config(case), eval_vocab(ids))
    eval_step = jax.jit(make_eval_step(setup.loss_fn))
    carry = setup.model.zero_carry(EVAL_BATCH)

    def run():
        total_nll(eval_step, setup.state.params, carry, ids, EVAL_BATCH, SEQ_LEN)

    start = time.perf_counter()
    run()
    first = time.perf_counter() - start
    per_s = median_rate(run, len(ids) - 1, warmup=0, repeats=repeats)
    report(per_s, max(first - (len(ids) - 1) / per_s, 0.0))


def bench_matmul(repeats: int) -> None:
    """GFLOP/s of a float32 square matmul (jnp, JAX's default precision), the machine's practical peak."""
    size = MATMUL_SIZE[jax.default_backend()]
    a = jax.random.normal(jax.random.PRNGKey(0), (size, size), jnp.float32)
    matmul = jax.jit(lambda x: x @ x)
    report(median_rate(lambda: matmul(a).block_until_ready(), 2 * size**3 / 1e9, warmup=2, repeats=repeats), None)


def main(argv=None) -> None:
    prefer_wide_vectors()  # as the rnngen command does, before JAX starts
    parser = worker_parser(__doc__, ["train", "curve", "sample", "eval", "matmul"])
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--steps", type=int, default=500, help="curve: training steps")
    args = parser.parse_args(argv)
    if args.kind in ("train", "curve"):
        restart_with_huge_pages()  # as `rnngen --huge-pages train` does
    if args.kind == "train":
        bench_train(args.arg, args.dtype, args.repeats)
    elif args.kind == "curve":
        bench_curve(args.arg, args.dtype, args.steps, np.load(args.ids))
    elif args.kind == "sample":
        bench_sample(int(args.arg), args.model, args.repeats)
    elif args.kind == "eval":
        bench_eval(np.load(args.ids), args.repeats, args.model)
    else:
        bench_matmul(args.repeats)


if __name__ == "__main__":
    main()
