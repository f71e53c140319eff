"""The ``rnngen`` command: argument parsing only; each subcommand calls a library function."""

from __future__ import annotations

import argparse
import json
import sys

from rnngen.config import KEY_HELP, base_config
from rnngen.errors import UsageError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def config_keys_help() -> str:
    """The epilog of `rnngen train --help`: every config key, its default and meaning."""
    defaults = base_config()
    lines = ["config keys (override any with --config.KEY=VALUE; defaults from rnngen/config.py):"]
    for key, text in KEY_HELP.items():
        section, _, name = key.rpartition(".")
        default = (defaults[section] if section else defaults)[name]
        lines.append(f"  {key:<26} {text} [default: {default}]")
    return "\n".join(lines)


def add_train_parser(commands) -> None:
    parser = commands.add_parser(
        "train", help="train (or resume) a model in a workdir",
        description="Train a model, or resume the run in WORKDIR from its latest checkpoint.",
        epilog=config_keys_help(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", required=True, help="config file, optionally with a variant: configs/shakespeare_char.py:quick")
    parser.add_argument("--workdir", required=True, help="directory for checkpoints, metrics.jsonl and TensorBoard events")


def add_checkpoint_args(parser) -> None:
    parser.add_argument("--workdir", required=True, help="a workdir written by `rnngen train`")
    parser.add_argument("--checkpoint", default="latest", help="best, latest or a step number (default: latest)")


def add_sample_parser(commands) -> None:
    parser = commands.add_parser("sample", help="generate text from a trained model",
                                 description="Print generated text (prompt included); samples are separated by a blank line.")
    add_checkpoint_args(parser)
    parser.add_argument("--prompt", default="\n", help="text the samples continue (default: a newline)")
    parser.add_argument("--length", type=int, default=500, help="number of new tokens per sample (default: 500)")
    parser.add_argument("--temperature", type=float, default=1.0, help="softmax temperature; 0 is greedy (default: 1.0)")
    parser.add_argument("--top-k", type=int, default=0, help="sample among the k most likely tokens; 0 is off (default: 0)")
    parser.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass in (0, 1]; 1 is off (default: 1.0)")
    parser.add_argument("--num-samples", type=int, default=1, help="number of samples, generated as one batch (default: 1)")
    parser.add_argument("--seed", type=int, default=0, help="PRNG seed; the same seed gives the same text (default: 0)")
    parser.add_argument("--allow-unknown", action="store_true",
                        help="read prompt words or characters outside the vocabulary as the unknown token (with a warning) instead of refusing")


def add_eval_parser(commands) -> None:
    parser = commands.add_parser("eval", help="evaluate a trained model on a whole split",
                                 description="Report loss (nats/token), bits per character (comparable across tokenizations), "
                                 "perplexity per token and the rate of unknown tokens over a split.")
    add_checkpoint_args(parser)
    parser.add_argument("--split", default="validation", choices=("train", "validation", "test"), help="split to evaluate (default: validation)")
    parser.add_argument("--json", action="store_true", help="end stdout with one JSON object of the metrics")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnngen", description="Character-, word- and subword-level RNNs in JAX/Flax: train, sample, evaluate.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,sample,eval}")
    add_train_parser(commands)
    add_sample_parser(commands)
    add_eval_parser(commands)
    return parser


def run_train(args, overrides: list[str]) -> None:
    from rnngen.config_files import apply_overrides, load_config
    from rnngen.training.loop import train_and_evaluate

    config = apply_overrides(load_config(args.config), overrides)
    train_and_evaluate(config, args.workdir)


def run_sample(args) -> None:
    import rnngen

    model = rnngen.load(args.workdir, args.checkpoint)
    texts = model.generate_many(
        args.prompt, args.length, num_samples=args.num_samples, temperature=args.temperature,
        top_k=args.top_k, top_p=args.top_p, seed=args.seed, allow_unknown=args.allow_unknown,
    )
    print("\n\n".join(texts))


def run_eval(args) -> None:
    import rnngen

    model = rnngen.load(args.workdir, args.checkpoint)
    metrics = model.evaluate(args.split)
    print(
        f"{args.split} (checkpoint step {model.step}): {metrics['bpc']:.4f} bits/char, loss {metrics['loss']:.4f} nats/token, "
        f"perplexity {metrics['perplexity']:.4f}, unk rate {metrics['unk_rate']:.4f}, "
        f"{int(metrics['tokens'])} tokens, {int(metrics['characters'])} characters"
    )
    if args.json:
        print(json.dumps({"split": args.split, "step": model.step, **metrics}))


def quiet_library_logs() -> None:
    """Orbax and TFDS log routine warnings through absl; keep stderr for what matters."""
    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "train":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    quiet_library_logs()
    from rnngen.data.errors import DataError

    try:
        if args.command == "train":
            run_train(args, extra)
        elif args.command == "sample":
            run_sample(args)
        else:
            run_eval(args)
    except (UsageError, DataError) as error:
        print(f"rnngen {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("rnngen: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
