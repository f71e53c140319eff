"""Char vs word vs subword language models on tiny_shakespeare, measured.

Trains the same LSTM with each tokenization under the same wall-clock budget
of training steps, then measures per model: vocabulary size; parameters of
the embedding, recurrent layers and output layer; peak memory of the training
process; training tokens/s and characters/s; validation bits per character;
the fraction of invented words (words never seen in the training text) in 20
samples; validation bpc when the state is reset every k characters; a sample.

Writes OUT/comparison.md (a table), OUT/comparison.png (a plot) and
OUT/comparison.json, and prints the table.

    python scripts/compare_tokenizations.py --out comparison \
        --manual-dir ../shared/data/tinyshakespeare

Needs `pip install -e ".[scripts]"` (matplotlib) for the plot.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KINDS = ("char", "word", "subword")
RESET_EVERY = (16, 64, 256, 1024)
NUM_SAMPLES = 20
SAMPLE_CHARS = 400
SAMPLE_TEMPERATURE = 1.0
CALIBRATION_STEPS = 60
WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")

# One model and trainer for every tokenization; only the tokenizer differs
# (its settings come from configs/shakespeare_{kind}.py).
COMMON = {
    "model.cell": "lstm", "model.num_layers": 1, "model.hidden_size": 512, "model.embed_dim": 256,
    "model.tie_embeddings": True, "model.dropout": 0.0,
    "train.batch_size": 32, "train.seq_len": 64, "train.optimizer": "adam", "train.learning_rate": 2e-3,
    "train.schedule": "warmup_cosine", "train.warmup_steps": 100, "train.grad_clip": 5.0, "train.log_every": 10,
}

# Runs `rnngen train` and records the process' peak resident memory in a file.
TRAIN_WRAPPER = (
    "import resource, sys\n"
    "from rnngen.cli import main\n"
    "code = main(sys.argv[2:])\n"
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n"
    "sys.exit(code)\n"
)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget-seconds", type=float, default=400,
                        help="training-step time per model (default 400: the whole script ends within 30 min on 2 CPU cores)")
    parser.add_argument("--out", default="comparison", help="output directory (default: comparison)")
    parser.add_argument("--manual-dir", default=os.path.join(REPO, "..", "shared", "data", "tinyshakespeare"),
                        help="directory with karpathy's tiny_shakespeare input.txt")
    parser.add_argument("--data-dir", default=None, help="TFDS data dir (default: TFDS's)")
    parser.add_argument("--text", default=None, help="train on this text file instead of tiny_shakespeare (smoke tests)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra config override for every model, e.g. --set model.hidden_size=64")
    return parser.parse_args()


def overrides(kind: str, args, **changes) -> list[str]:
    """--config.KEY=VALUE arguments: the data, the common model and trainer, then ``changes``."""
    values = dict(COMMON)
    if args.text:
        values.update({"data.source": "text", "data.path": os.path.abspath(args.text)})
    else:
        values["data.manual_dir"] = os.path.abspath(args.manual_dir)
        if args.data_dir:
            values["data.data_dir"] = os.path.abspath(args.data_dir)
    values.update(dict(item.split("=", 1) for item in args.set))
    values.update(changes)
    return [f"--config.{key}={value}" for key, value in values.items()]


def run_train(kind: str, workdir: str, config_args: list[str]) -> tuple[float, float]:
    """Runs `rnngen train` in a subprocess; returns (peak RSS in MiB, wall seconds)."""
    peak_file = workdir + ".peak_rss"
    os.makedirs(os.path.dirname(workdir), exist_ok=True)
    command = [sys.executable, "-c", TRAIN_WRAPPER, peak_file, "train",
               "--config", os.path.join(REPO, "configs", f"shakespeare_{kind}.py:quick"), "--workdir", workdir,
               *config_args]
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    with open(peak_file, encoding="utf-8") as f:
        return int(f.read()) / 1024.0, time.perf_counter() - started


def train_records(workdir: str) -> list[dict]:
    with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
        return [r for r in map(json.loads, f) if r["split"] == "train"]


def tokens_per_second(workdir: str) -> float:
    """Median training throughput over the logged intervals after the first two (compiling, warming up)."""
    rates = [r["tokens_per_second"] for r in train_records(workdir)[2:]]
    return statistics.median(rates)


def train_within_budget(kind: str, args) -> dict:
    """Measures the step rate in a short run, then trains for as many steps as fit the budget."""
    runs = os.path.join(os.path.abspath(args.out), "runs")
    calibration = os.path.join(runs, f"{kind}_calibration")
    run_train(kind, calibration, overrides(kind, args, **{
        "train.num_steps": CALIBRATION_STEPS, "train.eval_every": CALIBRATION_STEPS,
        "train.checkpoint_every": CALIBRATION_STEPS, "train.sample_length": 1}))
    tokens_per_step = int(COMMON["train.batch_size"]) * int(COMMON["train.seq_len"])
    num_steps = max(CALIBRATION_STEPS, int(args.budget_seconds * tokens_per_second(calibration) / tokens_per_step))
    workdir = os.path.join(runs, kind)
    peak_mb, wall = run_train(kind, workdir, overrides(kind, args, **{
        "train.num_steps": num_steps, "train.eval_every": num_steps, "train.checkpoint_every": num_steps,
        "train.sample_length": 1}))
    return {"workdir": workdir, "steps": num_steps, "peak_mb": peak_mb, "train_wall_s": wall,
            "tokens_per_s": tokens_per_second(workdir)}


def invented_word_rate(samples: list[str], known_words: set[str]) -> float:
    """Fraction of the words in ``samples`` (case folded) that never occur in the training text."""
    words = [w.lower() for text in samples for w in WORD.findall(text)]
    return sum(w not in known_words for w in words) / max(len(words), 1)


def measure(kind: str, trained: dict, train_text: str) -> dict:
    """Everything the table shows for one trained model."""
    import rnngen
    from rnngen.data.corpus import encode_split
    from rnngen.models.parameters import parameter_counts

    model = rnngen.load(trained["workdir"])
    train_split = encode_split(model.tokenizer, train_text)
    chars_per_token = train_split.num_chars / (len(train_split.ids) - 1)
    context = {str(k): model.evaluate("validation", reset_every=k)["bpc"] for k in RESET_EVERY}
    validation = model.evaluate("validation")
    context["never"] = validation["bpc"]
    length = math.ceil(SAMPLE_CHARS / chars_per_token)
    samples = [model.generate("\n", length, temperature=SAMPLE_TEMPERATURE, seed=seed)[1:] for seed in range(NUM_SAMPLES)]
    known_words = {w.lower() for w in WORD.findall(train_text)}
    return {
        "kind": kind, "vocab_size": model.tokenizer.vocab_size, "params": parameter_counts(model.trained.params),
        "steps": trained["steps"], "peak_mb": trained["peak_mb"], "tokens_per_s": trained["tokens_per_s"],
        "chars_per_s": trained["tokens_per_s"] * chars_per_token, "chars_per_token": chars_per_token,
        "validation_bpc": validation["bpc"], "validation_unk_rate": validation["unk_rate"],
        "invented_words": invented_word_rate(samples, known_words), "context_bpc": context, "sample": samples[0],
    }


def markdown_table(rows: list[dict], budget: float) -> str:
    """The comparison as a Markdown table, then one sample per model."""
    columns = [
        ("vocabulary", lambda r: f"{r['vocab_size']:,}"),
        ("params: embedding / recurrent / output", lambda r: " / ".join(
            f"{r['params'][part]:,}" for part in ("embedding", "recurrent", "output"))),
        ("peak memory (MiB)", lambda r: f"{r['peak_mb']:.0f}"),
        ("train tokens/s", lambda r: f"{r['tokens_per_s']:,.0f}"),
        ("train chars/s", lambda r: f"{r['chars_per_s']:,.0f}"),
        ("steps in budget", lambda r: f"{r['steps']:,}"),
        ("validation bpc", lambda r: f"{r['validation_bpc']:.4f}"),
        ("unk rate", lambda r: f"{r['validation_unk_rate']:.4f}"),
        ("invented words", lambda r: f"{100 * r['invented_words']:.1f}%"),
        *[(f"bpc, reset every {k}", lambda r, k=k: f"{r['context_bpc'][str(k)]:.4f}") for k in RESET_EVERY],
        ("bpc, never reset", lambda r: f"{r['context_bpc']['never']:.4f}"),
    ]
    lines = [f"Training budget: {budget:.0f} s of training steps per model; "
             f"samples at temperature {SAMPLE_TEMPERATURE}, {NUM_SAMPLES} seeds, about {SAMPLE_CHARS} characters each.",
             "", "| | " + " | ".join(r["kind"] for r in rows) + " |", "|---" * (len(rows) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(cell(r) for r in rows) + " |" for name, cell in columns]
    for r in rows:
        lines += ["", f"Sample ({r['kind']}, seed 0):", "", "```", r["sample"].strip("\n"), "```"]
    return "\n".join(lines) + "\n"


def write_plot(rows: list[dict], path: str) -> None:
    """Validation bpc against the reset interval, and the invented-word rate, per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (context_axes, words_axes) = plt.subplots(1, 2, figsize=(11, 4))
    spans = [*RESET_EVERY, 4096]
    for r in rows:
        values = [r["context_bpc"][str(k)] for k in RESET_EVERY] + [r["context_bpc"]["never"]]
        context_axes.plot(spans, values, marker="o", label=r["kind"])
    context_axes.set_xscale("log", base=2)
    context_axes.set_xticks(spans, [*map(str, RESET_EVERY), "never"])
    context_axes.set_xlabel("state reset every k characters")
    context_axes.set_ylabel("validation bits per character")
    context_axes.set_title("Context use")
    context_axes.legend()
    words_axes.bar([r["kind"] for r in rows], [100 * r["invented_words"] for r in rows])
    words_axes.set_ylabel("% of sampled words never seen in training")
    words_axes.set_title("Invented words")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    args = parse_args()
    if os.path.exists(os.path.join(args.out, "runs")):
        sys.exit(f"compare_tokenizations.py: error: {args.out}/runs exists (an earlier comparison); "
                 "choose another --out or remove it")
    os.makedirs(args.out, exist_ok=True)
    from rnngen.config_files import apply_overrides, load_config
    from rnngen.data.sources import load_splits

    data_config = apply_overrides(load_config(os.path.join(REPO, "configs", "shakespeare_char.py:quick")),
                                  overrides("char", args)).data
    train_text = load_splits(data_config)["train"]
    rows = []
    for kind in KINDS:
        print(f"[{kind}] training for {args.budget_seconds:.0f} s of steps ...", flush=True)
        rows.append(measure(kind, train_within_budget(kind, args), train_text))
    table = markdown_table(rows, args.budget_seconds)
    with open(os.path.join(args.out, "comparison.md"), "w", encoding="utf-8") as f:
        f.write(table)
    with open(os.path.join(args.out, "comparison.json"), "w", encoding="utf-8") as f:
        json.dump(rows, f, indent=1)
    write_plot(rows, os.path.join(args.out, "comparison.png"))
    print(table)


if __name__ == "__main__":
    main()
