"""The ``rnngen`` command: argument parsing only; each subcommand calls a library function."""

from __future__ import annotations

import argparse
import json
import sys

from rnngen.config import KEYS
from rnngen.errors import TrainingInterrupted, UsageError
from rnngen.escapes import unescape

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# Training stopped by a signal after saving a checkpoint: SIGTERM (a scheduler's
# preemption notice) is a clean stop, SIGINT (Ctrl-C) keeps the shell's 128 + 2.
EXIT_AFTER_SIGNAL = {"SIGTERM": 0, "SIGINT": EXIT_INTERRUPTED}


def config_keys_help() -> str:
    """The epilog of `rnngen train --help`: every config key, its default and meaning."""
    lines = ["config keys (override any with --config.KEY=VALUE; defaults from rnngen/config.py):"]
    for key, (default, text) in KEYS.items():
        shown = None if isinstance(default, type) else default
        lines.append(f"  {key:<26} {text} [default: {shown}]")
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
    add_decoding_args(parser)


def add_decoding_args(parser) -> None:
    parser.add_argument("--repetition-penalty", type=float, default=1.0,
                        help="CTRL penalty on tokens already in the prompt or generated, > 0; 1 is off (default: 1.0)")
    parser.add_argument("--no-repeat-ngram-size", type=int, default=0,
                        help="never repeat an n-gram of this many tokens (prompt included); 0 is off (default: 0)")
    parser.add_argument("--stop", action="append", default=[], type=unescape, metavar="TEXT",
                        help="end a sample before the first occurrence of TEXT in its generated text (repeatable; "
                        "\\n, \\t, \\r and \\\\ are read as newline, tab, carriage return and backslash)")
    parser.add_argument("--num-beams", type=int, default=1,
                        help="beam search with this many beams instead of sampling (deterministic); 1 is sampling (default: 1)")
    parser.add_argument("--length-penalty", type=float, default=1.0,
                        help="beam score = log-probability / length ** this (Hugging Face's convention; default: 1.0)")
    parser.add_argument("--num-return-sequences", type=int, default=1,
                        help="with --num-beams: print the best this many beams, best first (default: 1)")
    parser.add_argument("--stream", action="store_true",
                        help="print the text as it is generated, in blocks of --block tokens (one sample, no beams); "
                        "the text equals the unstreamed one for the same seed")
    parser.add_argument("--block", type=int, default=64, help="tokens per streamed block (default: 64)")


def add_eval_parser(commands) -> None:
    parser = commands.add_parser("eval", help="evaluate a trained model on a whole split",
                                 description="Report loss (nats/token), bits per character (comparable across tokenizations), "
                                 "perplexity per token and the rate of unknown tokens over a split.")
    add_checkpoint_args(parser)
    parser.add_argument("--split", default="validation", choices=("train", "validation", "test"), help="split to evaluate (default: validation)")
    parser.add_argument("--json", action="store_true", help="end stdout with one JSON object of the metrics")


def add_score_parser(commands) -> None:
    parser = commands.add_parser("score", help="score a text: its negative log-likelihood in bits",
                                 description="Print the text's total negative log-likelihood in bits, bits per character "
                                 "and per token, and its token count; the first token is not predicted.")
    add_checkpoint_args(parser)
    parser.add_argument("file", metavar="FILE", help="UTF-8 text file to score; - reads stdin")
    parser.add_argument("--per-token", action="store_true", help="also print each predicted token's text (JSON-quoted) and surprisal in bits, one per line")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead (with per-token lists under --per-token)")


def add_chat_parser(commands) -> None:
    parser = commands.add_parser("chat", help="continue prompts typed in the terminal",
                                 description="A prompt loop: each line you type is continued by the model (streamed); "
                                 "lines starting with ':' change settings (:help lists them).")
    add_checkpoint_args(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnngen", description="Character-, word- and subword-level RNNs in JAX/Flax: train, sample, evaluate.")
    parser.add_argument("--huge-pages", action="store_true",
                        help="with train: restart with glibc malloc's transparent huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=1; "
                        "Linux, glibc 2.35+); RNNGEN_HUGE_PAGES=1 does the same")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,sample,eval,score,chat}")
    add_train_parser(commands)
    add_sample_parser(commands)
    add_eval_parser(commands)
    add_score_parser(commands)
    add_chat_parser(commands)
    return parser


def run_train(args, overrides: list[str]) -> None:
    from rnngen.config_files import apply_overrides, load_config

    config = apply_overrides(load_config(args.config), overrides)  # a bad override fails before JAX is imported
    from rnngen.runtime.memory import release_freed_memory
    from rnngen.train.loop import train_and_evaluate

    train_and_evaluate(config, args.workdir, release_memory=release_freed_memory)


def run_sample(args) -> None:
    import rnngen
    from rnngen.api import check_sampling_args
    from rnngen.decoding.options import check_decoding_options

    check_sampling_args(args.length, args.temperature, args.top_k, args.top_p, args.num_samples)  # before loading
    check_decoding_options(decoding_options(args), args.num_samples)
    options = decoding_options(args)._asdict()
    if args.num_beams == 1:
        if args.num_return_sequences != 1:
            raise UsageError("--num-return-sequences applies to beam search (--num-beams > 1); use --num-samples for samples")
        del options["num_return_sequences"]
    if args.stream:
        return stream_sample(args, options)
    model = rnngen.load(args.workdir, args.checkpoint)
    texts = model.generate_many(
        args.prompt, args.length, num_samples=args.num_samples, temperature=args.temperature,
        top_k=args.top_k, top_p=args.top_p, seed=args.seed, allow_unknown=args.allow_unknown, **options,
    )
    print("\n\n".join(texts))


def stream_sample(args, options: dict) -> None:
    import rnngen

    if args.num_samples != 1 or args.num_beams != 1:
        raise UsageError("--stream prints one sample: it does not combine with --num-samples or --num-beams")
    if args.block <= 0:
        raise UsageError(f"--block must be > 0 tokens, got {args.block}")
    del options["num_beams"], options["length_penalty"]
    model = rnngen.load(args.workdir, args.checkpoint)
    for piece in model.stream(args.prompt, args.length, block=args.block, temperature=args.temperature, top_k=args.top_k,
                              top_p=args.top_p, seed=args.seed, allow_unknown=args.allow_unknown, **options):
        print(piece, end="", flush=True)
    print()


def decoding_options(args):
    from rnngen.decoding.options import DecodingOptions

    return DecodingOptions(args.repetition_penalty, args.no_repeat_ngram_size, tuple(args.stop), args.num_beams,
                           args.length_penalty, args.num_return_sequences)


def run_chat(args) -> None:
    import rnngen
    from rnngen.chat import chat

    model = rnngen.load(args.workdir, args.checkpoint)

    def write(text: str) -> None:
        print(text, end="", flush=True)

    chat(model, input, write)


def run_score(args) -> None:
    import rnngen
    from rnngen.decoding.reports import read_text_arg, score_lines

    text = read_text_arg(args.file)  # before loading
    result = rnngen.load(args.workdir, args.checkpoint).score(text)
    print("\n".join(score_lines(result, args.per_token, args.json)))


def run_eval(args) -> None:
    import rnngen

    model = rnngen.load(args.workdir, args.checkpoint)
    metrics = model.evaluate(args.split)
    unit = model.tokenizer.unit  # "character", or "byte" for the byte tokenizer: bpc is then bits per byte
    print(
        f"{args.split} (checkpoint step {model.step}): {metrics['bpc']:.4f} bits/{unit[:4]}, loss {metrics['loss']:.4f} "
        f"nats/token, perplexity {metrics['perplexity']:.4f}, unk rate {metrics['unk_rate']:.4f}, "
        f"{int(metrics['tokens'])} tokens, {int(metrics['characters'])} {unit}s"
    )
    if args.json:
        print(json.dumps({"split": args.split, "step": model.step, "unit": unit, **metrics}))


def main(argv: list[str] | None = None) -> int:
    """The command on ``argv`` (default: ``sys.argv[1:]``) -> its exit status. It changes nothing in the
    process; the console entry point :func:`command` installs the command's process settings first."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "train":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    from rnngen.data.errors import DataError

    try:
        if args.command == "train":
            run_train(args, extra)
        elif args.command == "sample":
            run_sample(args)
        elif args.command == "score":
            run_score(args)
        elif args.command == "chat":
            run_chat(args)
        else:
            run_eval(args)
    except (UsageError, DataError) as error:
        print(f"rnngen {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except TrainingInterrupted as stop:
        print(f"rnngen {args.command}: {stop}", file=sys.stderr)
        return EXIT_AFTER_SIGNAL[stop.signal_name]
    except KeyboardInterrupt:
        print("rnngen: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def command() -> int:
    """The console entry point: installs the command's process settings (:func:`rnngen.runtime.install`:
    XLA's vector width, log levels, Orbax's report filters, huge pages if asked for), then runs :func:`main`."""
    from rnngen.runtime import install

    install(sys.argv[1:])
    return main()


if __name__ == "__main__":
    sys.exit(command())
