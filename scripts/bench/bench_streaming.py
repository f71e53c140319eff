"""Streaming's cost: `rnngen sample --stream` against the one-call compiled sampler, batch 1.

Times `LanguageModel.generate` (the whole sample in one compiled loop) and
`LanguageModel.stream` (the same loop in compiled blocks, each block's text decoded
and handed over as it arrives) for the same prompt, length and seed, after a
warm-up call of each, and prints the median seconds of both and their ratio.

    python scripts/bench/bench_streaming.py                     # an untrained 1 x 256 LSTM, char vocab
    python scripts/bench/bench_streaming.py --workdir runs/w    # a trained model
"""

from __future__ import annotations

import argparse
import statistics
import string
import time

import rnngen
from rnngen.api import LanguageModel
from rnngen.config_files import load_config
from rnngen.data.char_tokenizer import CharTokenizer
from rnngen.checkpoints.restoring import TrainedModel
from rnngen.train.train import build_setup


def untrained_model(config_path: str) -> LanguageModel:
    """A freshly initialised model of ``config_path`` over a printable-character vocabulary."""
    config = load_config(config_path)
    tokenizer = CharTokenizer.from_text(string.printable)
    setup = build_setup(config, tokenizer.vocab_size)
    return LanguageModel(TrainedModel(config, tokenizer, setup.model, setup.apply_fn, setup.state.params, 0, setup.loss_fn))


def median_seconds(runs: list, repeats: int) -> list[float]:
    """Median wall time of each of ``runs`` over ``repeats`` calls, after one warm-up call of each.

    The calls alternate, so that a busy machine slows both alike.
    """
    times = [[] for _ in runs]
    for run in runs:
        run()
    for _ in range(repeats):
        for run, seconds in zip(runs, times):
            start = time.perf_counter()
            run()
            seconds.append(time.perf_counter() - start)
    return [statistics.median(seconds) for seconds in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="a trained workdir (default: an untrained model of --config)")
    parser.add_argument("--config", default="configs/shakespeare_char.py:quick")
    parser.add_argument("--length", type=int, default=500)
    parser.add_argument("--block", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    model = rnngen.load(args.workdir) if args.workdir else untrained_model(args.config)
    options = dict(temperature=0.8, seed=0)
    whole, streamed = median_seconds(
        [lambda: model.generate("T", args.length, **options),
         lambda: "".join(model.stream("T", args.length, block=args.block, **options))], args.repeats)
    assert "".join(model.stream("T", args.length, block=args.block, **options)) == model.generate("T", args.length, **options)
    print(f"batch 1, {args.length} tokens, block {args.block}:")
    print(f"  one compiled loop: {whole * 1e3:8.1f} ms ({args.length / whole:8.0f} tokens/s)")
    print(f"  streamed:          {streamed * 1e3:8.1f} ms ({args.length / streamed:8.0f} tokens/s)")
    print(f"  streamed / one loop: {streamed / whole:.3f}")


if __name__ == "__main__":
    main()
