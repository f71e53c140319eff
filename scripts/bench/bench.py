"""rnngen against PyTorch on this machine: training, sampling and evaluation throughput.

    pip install -e ".[bench]" --extra-index-url https://download.pytorch.org/whl/cpu
    python scripts/bench/bench.py                  # the table
    python scripts/bench/bench.py --json           # the table, then one JSON line
    python scripts/bench/bench.py --curve-steps 500   # also bfloat16's loss after 500 steps
    python scripts/bench/bench.py --write-ids .       # only the split ids the workers' --ids read

Each measurement runs in its own process (``bench_rnngen.py`` / ``bench_torch.py``),
so that its peak resident memory is its own; the two frameworks alternate case by
case, ``--rounds`` times, and every figure is the median over rounds of each
process's median over ``--repeats`` timed calls (the machine is shared and noisy).
Cases (``bench_cases.py``): training LSTM 1x256, LSTM 2x512 and GRU 2x512 (batch
64, 100 steps, vocabulary 65, embedding 64, Adam, clipping), rnngen's opt-in
bfloat16 compute dtype on the 2x512 LSTM against its own float32, sampling 2,000
characters at temperature 0.8 at batch 1 and 64 (the 2x512 LSTM: ``batch1``,
``batch64``; and the 1x256 LSTM: ``batch1_lstm_1x256``, ``batch64_lstm_1x256``), and evaluation
over the tiny_shakespeare validation split. GFLOP/s count the matmul FLOPs of the
model (``bench_cases``) and are compared with a square float32 matmul (2048 on a
CPU, 8192 on a GPU) measured in the same run (the better of JAX and PyTorch).
Both frameworks run on their default device: a CUDA GPU when there is one, where
PyTorch's ``nn.LSTM`` / ``nn.GRU`` are cuDNN's (``scripts/bench/bench_gpu.sh``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_cases import (  # noqa: E402
    SAMPLE_MODEL, TRAIN_CASES, forward_flops_per_token, train_flops_per_token,
)

DEFAULT_MANUAL_DIR = os.path.join(HERE, "..", "..", "..", "shared", "data", "tinyshakespeare")
SAMPLE_CASE = "lstm_2x512"
assert TRAIN_CASES[SAMPLE_CASE] == SAMPLE_MODEL


def run_worker(framework: str, args: list[str]) -> dict:
    """Runs ``bench_<framework>.py args`` and returns its JSON line; a failure stops the benchmark."""
    command = [sys.executable, os.path.join(HERE, f"bench_{framework}.py"), *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"bench: {' '.join(command[1:])} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_over_rounds(framework: str, args: list[str], rounds: int) -> dict:
    """The worker's figures, each the median over ``rounds`` runs."""
    return combine([run_worker(framework, args) for _ in range(rounds)])


def paired(args: list[str], rounds: int) -> tuple[dict, dict]:
    """(rnngen's figures, PyTorch's figures) of one case, the frameworks alternating round by round."""
    ours, theirs = [], []
    for _ in range(rounds):
        theirs.append(run_worker("torch", args))
        ours.append(run_worker("rnngen", args))
    return combine(ours), combine(theirs)


def combine(runs: list[dict]) -> dict:
    """Per-key medians of several runs' figures (compile_s None stays None)."""
    keys = [k for k in runs[0] if isinstance(runs[0][k], (int, float))]
    return {k: statistics.median(r[k] for r in runs) for k in keys} | {"compile_s": runs[0].get("compile_s")}


def entry(ours: dict, theirs: dict | None, flops_per_item: float, peak_gflops: float) -> dict:
    """One case's JSON entry: both throughputs, their ratio, rnngen's GFLOP/s and peak fraction."""
    gflops = ours["per_s"] * flops_per_item / 1e9
    return {
        "rnngen_per_s": round(ours["per_s"], 1),
        "torch_per_s": None if theirs is None else round(theirs["per_s"], 1),
        "ratio": None if theirs is None else round(ours["per_s"] / theirs["per_s"], 3),
        "gflops": round(gflops, 1),
        "peak_fraction": round(gflops / peak_gflops, 3),
        "compile_s": None if ours.get("compile_s") is None else round(ours["compile_s"], 2),
        "peak_mb": round(ours["peak_mb"]),
        "torch_peak_mb": None if theirs is None else round(theirs["peak_mb"]),
    } | _faults(ours, theirs)


def _faults(ours: dict, theirs: dict | None) -> dict:
    """The MiB each training step touches for the first time since it was mapped, where measured."""
    if "faulted_mib_per_step" not in ours:
        return {}
    torch_faults = None if theirs is None else theirs.get("faulted_mib_per_step")
    return {"faulted_mib_per_step": round(ours["faulted_mib_per_step"]),
            "torch_faulted_mib_per_step": None if torch_faults is None else round(torch_faults)}


def write_split_ids(manual_dir: str, data_dir: str | None, out_dir: str) -> dict[str, str]:
    """tiny_shakespeare's train and validation splits as char ids in .npy files (rnngen's TFDS builder)."""
    from rnngen.config import base_config
    from rnngen.data.token_store import prepare_splits

    config = base_config()
    config.data.update(source="tiny_shakespeare", manual_dir=os.path.abspath(manual_dir), data_dir=data_dir)
    _, splits = prepare_splits(config.data, config.tokenizer)
    paths = {}
    for split in ("train", "validation"):
        paths[split] = os.path.join(out_dir, f"{split}.npy")
        np.save(paths[split], np.asarray(splits[split].ids, np.int32))
    return paths


def progress(section: str, name: str, figures: dict) -> None:
    """One line on stderr per finished case, so that a long run shows where it is."""
    print(f"bench: {section} {name}: {json.dumps(figures)}", file=sys.stderr, flush=True)


def measure(args, ids: dict[str, str]) -> dict:
    """Every case, in the order of the table."""
    repeats = ["--repeats", str(args.repeats)]
    peak = max(median_over_rounds(f, ["matmul", *repeats], args.rounds)["per_s"] for f in ("rnngen", "torch"))
    progress("matmul", "peak", {"gflops": peak})
    result = {"matmul_gflops": round(peak, 1), "train": measure_training(args, peak)}
    result["sample"] = measure_sampling(args, peak)
    eval_args = ["eval", "--ids", ids["validation"], "--repeats", str(max(args.repeats // 3, 2))]
    ours, theirs = paired(eval_args, 1)
    result["eval"] = entry(ours, theirs, forward_flops_per_token(*SAMPLE_MODEL), peak)
    progress("eval", "validation", result["eval"])
    if args.curve_steps:
        result["bf16_curve"] = loss_curves(args.curve_steps, ids["train"])
        progress("curve", "bfloat16", result["bf16_curve"])
    return result


def measure_training(args, peak: float) -> dict:
    """The training cases against PyTorch, then bfloat16 against our float32."""
    repeats, result = ["--repeats", str(args.repeats)], {}
    for case in args.cases:
        ours, theirs = paired(["train", case, *repeats], args.rounds)
        result[case] = entry(ours, theirs, train_flops_per_token(*TRAIN_CASES[case]), peak)
        progress("train", case, result[case])
    if args.bf16:
        ours = median_over_rounds("rnngen", ["train", SAMPLE_CASE, "--dtype", "bfloat16", *repeats], args.rounds)
        bf16 = entry(ours, None, train_flops_per_token(*SAMPLE_MODEL), peak)
        fp32 = result.get(SAMPLE_CASE)
        bf16["vs_float32"] = None if fp32 is None else round(bf16["rnngen_per_s"] / fp32["rnngen_per_s"], 3)
        result[SAMPLE_CASE + "_bf16"] = bf16
        progress("train", SAMPLE_CASE + "_bf16", bf16)
    return result


def measure_sampling(args, peak: float) -> dict:
    """Sampling at batch 1 and 64, for the 2x512 and the 1x256 LSTM, against PyTorch."""
    result = {}
    for model, suffix in ((SAMPLE_CASE, ""), ("lstm_1x256", "_lstm_1x256")):
        for batch in (1, 64):
            sample_args = ["sample", str(batch), "--model", model, "--repeats", str(max(args.repeats // 3, 2))]
            ours, theirs = paired(sample_args, args.rounds)
            name = f"batch{batch}{suffix}"
            result[name] = entry(ours, theirs, forward_flops_per_token(*TRAIN_CASES[model]), peak)
            progress("sample", name, result[name])
    return result


def loss_curves(steps: int, train_ids: str) -> dict:
    """bfloat16 against float32 after ``steps`` real training steps of the 1x256 LSTM."""
    finals = {}
    for dtype in ("float32", "bfloat16"):
        run = run_worker("rnngen", ["curve", "lstm_1x256", "--steps", str(steps), "--dtype", dtype, "--ids", train_ids])
        finals[dtype] = run["final_loss"]
    relative = abs(finals["bfloat16"] - finals["float32"]) / finals["float32"]
    return {"steps": steps, "float32_loss": round(finals["float32"], 4), "bfloat16_loss": round(finals["bfloat16"], 4),
            "relative_difference": round(relative, 4)}


def cell(value, spec: str) -> str:
    """A table cell: ``value`` formatted by ``spec`` (width first, as "10.0f"), or "-" as wide."""
    return format(value, spec) if value is not None else "-".rjust(int(spec.split(".")[0].rstrip("d")))


def print_table(result: dict) -> None:
    """The human-readable table."""
    print(f"float32 matmul peak: {result['matmul_gflops']:.0f} GFLOP/s\n")
    header = f"{'case':22s} {'rnngen/s':>10s} {'torch/s':>10s} {'ratio':>6s} {'GFLOP/s':>8s} {'peak':>5s} " \
             f"{'compile':>8s} {'MiB':>6s} {'torch MiB':>9s}"
    print(header)
    rows = [(f"train {k}", v) for k, v in result["train"].items()]
    rows += [(f"sample {k}", v) for k, v in result["sample"].items()] + [("eval validation", result["eval"])]
    for name, e in rows:
        ratio = e["ratio"] if e["ratio"] is not None else e.get("vs_float32")
        print(f"{name:22s} {e['rnngen_per_s']:10.0f} {cell(e['torch_per_s'], '10.0f')} {cell(ratio, '6.2f')} "
              f"{e['gflops']:8.1f} {e['peak_fraction']:5.0%} {cell(e['compile_s'], '7.2f')}{' ' if e['compile_s'] is None else 's'} "
              f"{e['peak_mb']:6d} {cell(e['torch_peak_mb'], '9d')}")
    print("(throughput in characters per second; the bf16 row's ratio is against rnngen's float32)")
    if "bf16_curve" in result:
        c = result["bf16_curve"]
        print(f"bfloat16 after {c['steps']} steps (1x256 LSTM, tiny_shakespeare): loss {c['bfloat16_loss']} "
              f"against float32's {c['float32_loss']} ({c['relative_difference']:.2%} apart)")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON line")
    parser.add_argument("--rounds", type=int, default=3, help="processes per case and framework (median)")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per process (median)")
    parser.add_argument("--cases", nargs="+", default=list(TRAIN_CASES), choices=list(TRAIN_CASES))
    parser.add_argument("--no-bf16", dest="bf16", action="store_false", help="skip the bfloat16 training case")
    parser.add_argument("--curve-steps", type=int, default=0, help="bfloat16 vs float32 loss after N steps (0: skip)")
    parser.add_argument("--manual-dir", default=DEFAULT_MANUAL_DIR, help="directory holding tiny_shakespeare's input.txt")
    parser.add_argument("--data-dir", default=None, help="TFDS data dir for the prepared split")
    parser.add_argument("--write-ids", metavar="DIR", default=None,
                        help="only write train.npy and validation.npy (the workers' --ids) into DIR, and stop")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.write_ids:
        os.makedirs(args.write_ids, exist_ok=True)
        for split, path in write_split_ids(args.manual_dir, args.data_dir, args.write_ids).items():
            print(f"bench: {split} ids -> {path}")
        return
    try:
        import torch  # noqa: F401
    except ImportError:
        sys.exit('bench: PyTorch is not installed: pip install -e ".[bench]" '
                 "--extra-index-url https://download.pytorch.org/whl/cpu")
    with tempfile.TemporaryDirectory() as tmp:
        ids = write_split_ids(args.manual_dir, args.data_dir, tmp)
        result = measure(args, ids)
    print_table(result)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
