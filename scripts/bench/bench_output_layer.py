"""Benchmark: the train step of a word-level model with the plain and the chunked output-layer loss.

A 1-layer LSTM word model (embedding 256, hidden 512, untied) with a 30,000-token
vocabulary, batch 64 x 64 steps, Adam: the whole jitted train step, once with
``train.loss_chunk_size=-1`` (the plain loss: [batch, time, vocab] logits at once)
and once per chunked setting (auto, and explicit chunk sizes). Each variant runs in
its own subprocess, so that one's peak memory cannot hide another's; for each:
compile time, median step time after a warm-up step, the process's peak RSS
(``ru_maxrss``, which includes compilation and the JAX runtime, measured also
right after start-up as ``baseline``), and XLA's own figures for the compiled step
(``memory_analysis()``: arguments + outputs - aliased (donated) + temporaries).

    python scripts/bench/bench_output_layer.py [--steps 3] [--vocab 30000] [--batch 64] [--seq-len 64] [--json]

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

MIB = 2**20
EMBED_DIM, HIDDEN_SIZE, NUM_LAYERS = 256, 512, 1


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per variant (after one warm-up step)")
    parser.add_argument("--vocab", type=int, default=30000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--chunks", default="1024", help="comma-separated explicit chunk sizes to run too ('': none)")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument("--variant", type=int, default=None, help=argparse.SUPPRESS)  # internal: one run
    return parser.parse_args(argv)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MIB  # Linux: KiB


def bench_config(args, chunk_setting: int):
    from rnngen.config import base_config

    config = base_config()
    config.model.update(dict(cell="lstm", num_layers=NUM_LAYERS, hidden_size=HIDDEN_SIZE, embed_dim=EMBED_DIM))
    config.train.update(
        dict(batch_size=args.batch, seq_len=args.seq_len, optimizer="adam", loss_chunk_size=chunk_setting)
    )
    return config


def xla_memory(compiled) -> dict[str, float]:
    """XLA's memory figures of a compiled step, in MiB."""
    stats = compiled.memory_analysis()
    figures = {
        "arguments": stats.argument_size_in_bytes,
        "outputs": stats.output_size_in_bytes,
        "aliased": stats.alias_size_in_bytes,
        "temporaries": stats.temp_size_in_bytes,
    }
    figures["total"] = figures["arguments"] + figures["outputs"] - figures["aliased"] + figures["temporaries"]
    return {name: round(value / MIB, 1) for name, value in figures.items()}


def run_variant(args) -> dict:
    """Compiles and times one train step setting in this process; returns its figures."""
    import jax
    import numpy as np

    from rnngen.models import parameter_counts
    from rnngen.train.losses import resolve_chunk_size
    from rnngen.train.train import build_setup
    from rnngen.train.train import make_train_step

    jax.numpy.zeros(()).block_until_ready()  # start the runtime before the baseline
    baseline = peak_rss_mib()
    setup = build_setup(bench_config(args, args.variant), args.vocab)
    window = np.random.default_rng(0).integers(0, args.vocab, (args.batch, args.seq_len + 1)).astype(np.int32)
    batch = {"inputs": window[:, :-1], "targets": window[:, 1:], "reset": np.asarray(False)}
    key = jax.random.PRNGKey(0)
    start = time.perf_counter()
    train_step = jax.jit(make_train_step(setup.loss_fn, setup.optimizer, setup.schedule), donate_argnums=0)
    compiled = train_step.lower(setup.state, batch, key).compile()
    compile_s = time.perf_counter() - start
    state, times, losses = setup.state, [], []
    for _ in range(args.steps + 1):
        start = time.perf_counter()
        state, metrics = compiled(state, batch, key)
        losses.append(float(jax.block_until_ready(metrics["loss"])))
        times.append(time.perf_counter() - start)
    return {
        "chunk_size": resolve_chunk_size(args.variant, args.batch * args.seq_len, args.vocab),
        "compile_s": round(compile_s, 2),
        "step_s": round(statistics.median(times[1:]), 3),
        "first_loss": round(losses[0], 5),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "baseline_rss_mib": round(baseline, 1),
        "xla_mib": xla_memory(compiled),
        "params": parameter_counts(state.params),
    }


def variants(args) -> dict[str, int]:
    """name -> train.loss_chunk_size setting."""
    named = {"plain": -1, "chunked": 0}
    for size in filter(None, args.chunks.split(",")):
        named[f"chunk_{int(size)}"] = int(size)
    return named


def run_in_subprocess(args, setting: int) -> dict:
    command = [
        sys.executable, os.path.abspath(__file__), "--variant", str(setting), "--steps", str(args.steps),
        "--vocab", str(args.vocab), "--batch", str(args.batch), "--seq-len", str(args.seq_len),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"variant loss_chunk_size={setting} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# (title, width, figure of one variant's result, format)
COLUMNS = (
    ("chunk", 7, lambda r: r["chunk_size"], "d"),
    ("compile s", 11, lambda r: r["compile_s"], ".2f"),
    ("step s", 9, lambda r: r["step_s"], ".3f"),
    ("peak RSS MiB", 14, lambda r: r["peak_rss_mib"], ".0f"),
    ("XLA total", 11, lambda r: r["xla_mib"]["total"], ".0f"),
    ("XLA temps", 11, lambda r: r["xla_mib"]["temporaries"], ".0f"),
    ("loss", 10, lambda r: r["first_loss"], ".4f"),
)


def print_table(args, results: dict[str, dict]) -> None:
    """The sizes, then one row per variant."""
    tokens = args.batch * args.seq_len
    print(
        f"word-level LSTM: vocab {args.vocab}, embedding {EMBED_DIM}, {NUM_LAYERS} layer(s) of hidden "
        f"{HIDDEN_SIZE}, untied; batch {args.batch} x {args.seq_len} steps = {tokens} tokens; Adam"
    )
    print(f"parameters: {next(iter(results.values()))['params']}")
    print(f"full logits [{args.batch}, {args.seq_len}, {args.vocab}] float32 = {tokens * args.vocab * 4 / MIB:.0f} MiB")
    print(f"step s: median of {args.steps} steps after 1 warm-up; peak RSS: ru_maxrss of the variant's process;")
    print("XLA total: arguments + outputs - aliased (donated) + temporaries; loss: the first step's")
    header = f"{'variant':<12}" + "".join(f"{title:>{width}}" for title, width, _, _ in COLUMNS)
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        print(f"{name:<12}" + "".join(f"{figure(r):>{width}{fmt}}" for _, width, figure, fmt in COLUMNS))
    print(f"(baseline RSS after start-up: {min(r['baseline_rss_mib'] for r in results.values()):.0f} MiB)")


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.variant is not None:
        print(json.dumps(run_variant(args)))
        return
    results = {name: run_in_subprocess(args, setting) for name, setting in variants(args).items()}
    if not args.json:
        print_table(args, results)
    sizes = {"embed_dim": EMBED_DIM, "hidden_size": HIDDEN_SIZE, "num_layers": NUM_LAYERS}
    print(json.dumps({"vocab": args.vocab, "batch": args.batch, "seq_len": args.seq_len, **sizes, **results}))


if __name__ == "__main__":
    main()
