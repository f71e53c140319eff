"""The benchmark's cases, sizes and FLOP counts, shared by both workers.

Every case is a char-level model over Karpathy's 65-character vocabulary with a
64-wide embedding, trained with Adam (learning rate 2e-3) and gradients clipped
at global norm 5, on batches of 64 streams x 100 steps. A worker prints one JSON
line: ``{"per_s": throughput, "compile_s": seconds or null, "peak_mb": peak memory}``,
the peak memory being the accelerator's peak allocation on a GPU, else the
process's peak resident memory. On a GPU each framework runs its own default
float32 math (TF32 tensor cores in cuDNN's LSTM for both, and in JAX's matmuls).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from typing import Callable

VOCAB, EMBED, BATCH, SEQ_LEN = 65, 64, 64, 100
LEARNING_RATE, CLIP = 2e-3, 5.0
SAMPLE_LENGTH, SAMPLE_TEMPERATURE = 2000, 0.8
EVAL_BATCH = 64
MATMUL_SIZE = {"cpu": 2048, "gpu": 8192}  # the peak's square matmul: a GPU needs more work to fill

TRAIN_CASES = {
    "lstm_1x256": ("lstm", 1, 256),
    "lstm_2x512": ("lstm", 2, 512),
    "gru_2x512": ("gru", 2, 512),
}
SAMPLE_MODEL = ("lstm", 2, 512)  # sampling and evaluation run the 2 x 512 LSTM
GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def forward_flops_per_token(cell: str, layers: int, hidden: int) -> float:
    """Matmul FLOPs of one token's forward pass: every layer's input and recurrent
    projections plus the output layer (the embedding lookup is free)."""
    width = GATES[cell] * hidden
    inputs = [EMBED] + [hidden] * (layers - 1)
    return sum(2.0 * (size + hidden) * width for size in inputs) + 2.0 * hidden * VOCAB


def train_flops_per_token(cell: str, layers: int, hidden: int) -> float:
    """Forward plus backward (twice the forward: input and weight gradients)."""
    return 3.0 * forward_flops_per_token(cell, layers, hidden)


def eval_vocab(ids) -> int:
    """The vocabulary of the evaluation and loss-curve models: VOCAB, or more if the split's ids need it
    (rnngen's char tokenizer of tiny_shakespeare has 66 entries: its 65 characters and one
    for unknown characters)."""
    return max(VOCAB, int(ids.max()) + 1)


def timed_calls(run: Callable[[], object], warmup: int, repeats: int) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``run`` (which must block until done), after ``warmup`` calls."""
    for _ in range(warmup):
        run()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    return seconds


def median_rate(run: Callable[[], None], items_per_run: float, warmup: int, repeats: int) -> float:
    """Items per second of ``run`` (which must block until done): the median of ``repeats`` timed calls."""
    return items_per_run / statistics.median(timed_calls(run, warmup, repeats))


def peak_mb() -> float:
    """This process's peak resident memory in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def faulted_mib() -> float:
    """MiB of memory this process has faulted in so far (minor page faults: pages touched for the first time
    since they were mapped, such as those of every large buffer that glibc maps anew for each call)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt * resource.getpagesize() / 2**20


def rate_and_faults(run: Callable[[], None], items_per_run: float, warmup: int, repeats: int) -> tuple[float, float]:
    """(:func:`median_rate` of ``run``, the MiB faulted in per call over its warmup and timed calls)."""
    before = faulted_mib()
    per_s = median_rate(run, items_per_run, warmup, repeats)
    return per_s, (faulted_mib() - before) / (warmup + repeats)


def report(per_s: float, compile_s: float | None, device_peak_mb: float | None = None, **extra) -> None:
    """Prints the worker's one JSON line; ``device_peak_mb``: the accelerator's peak allocation, if on one."""
    memory = peak_mb() if device_peak_mb is None else device_peak_mb
    print(json.dumps({"per_s": per_s, "compile_s": compile_s, "peak_mb": memory, **extra}), flush=True)


def worker_parser(description: str, kinds: list[str]) -> argparse.ArgumentParser:
    """The command line both workers share: the kind of measurement, its case or batch size,
    the sampling/evaluation model, the repeats and the split's ids."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=kinds)
    parser.add_argument("arg", nargs="?", help="train, curve: the case; sample: the batch size")
    parser.add_argument("--model", default="lstm_2x512", choices=sorted(TRAIN_CASES), help="sample/eval model")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--ids", default=None, help="eval, curve: a .npy file of the split's char ids")
    return parser
