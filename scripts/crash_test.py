"""Crash test: `rnngen train` killed with SIGKILL at random moments ends bit-for-bit where an
uninterrupted run ends.

Trains a small model through the real `rnngen train` command on a small corpus
(written here, or --text FILE), checkpointing every step so that many kills land
in the middle of a checkpoint save. First an uninterrupted reference run; then
the same command is started, killed with SIGKILL at a random moment (drawn from
a RNG seeded by --seed: one kill in five during start-up, the others just after
a random step is logged; none later than the next-to-last step, whatever the
machine's speed) and started again,
--kills times, and finally run to the end. The two final checkpoints' parameters are compared leaf by leaf with
np.array_equal, and both are evaluated on the validation split. Prints a
summary and, last, one JSON line:

    {"kills": 5, "kills_landed": 5, "identical": true, "final_step": 40, "eval_loss": {...}, ...}

Exit status 0 only when the parameters, the final step, the evaluation loss and
every logged loss are identical.

    python scripts/crash_test.py --kills 5
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
ENV = {**os.environ, "PYTHONPATH": REPO}
CONFIG = os.path.join(REPO, "configs", "stdlib_char.py:quick")
TMP_MARK = ".orbax-checkpoint-tmp"
WORDS = ("to be or not that is the question whether tis nobler in mind suffer slings arrows of "
         "outrageous fortune take arms against a sea troubles and by opposing end them").split()


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=5, help="SIGKILLs to send (default: 5)")
    parser.add_argument("--steps", type=int, default=40, help="train.num_steps (default: 40)")
    parser.add_argument("--checkpoint-every", type=int, default=1, help="train.checkpoint_every (default: 1)")
    parser.add_argument("--seed", type=int, default=0, help="training seed and kill-delay RNG seed (default: 0)")
    parser.add_argument("--text", default=None, help="corpus file (default: a small one written here)")
    parser.add_argument("--workdir-root", default=None,
                        help="where the two workdirs and logs go; must not hold an earlier test (default: a temp dir)")
    return parser.parse_args()


def write_corpus(path: str, seed: int) -> str:
    """About 30,000 characters of verse-like lines from a seeded RNG."""
    rng = random.Random(seed)
    lines = [f"KING {i % 5}:\n" + " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12))) + ".\n"
             for i in range(500)]
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(lines))
    return path


def train_command(workdir: str, corpus: str, args) -> list[str]:
    overrides = {
        "seed": args.seed, "data.source": "text", "data.path": corpus, "model.num_layers": 1,
        "model.hidden_size": 32, "model.embed_dim": 16, "model.dropout": 0.1, "train.batch_size": 8,
        "train.eval_batch_size": 8, "train.seq_len": 32, "train.num_steps": args.steps, "train.log_every": 1,
        "train.eval_every": max(args.steps // 4, 1), "train.checkpoint_every": args.checkpoint_every,
        "train.keep_checkpoints": 2, "train.sample_length": 20,
    }
    return [sys.executable, "-m", "rnngen.cli", "train", "--config", CONFIG, "--workdir", workdir,
            *[f"--config.{key}={value}" for key, value in overrides.items()]]


def start(command: list[str], log_path: str) -> subprocess.Popen:
    """Starts ``command`` with its output in ``log_path``."""
    with open(log_path, "w") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=ENV)


def first_step_seen(workdir: str) -> bool:
    """Whether the run has logged a training step (the loop is running)."""
    try:
        with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
            return '"split": "train"' in f.read()
    except FileNotFoundError:
        return False


def reference_run(command: list[str], workdir: str, log_path: str) -> tuple[float, float]:
    """Runs uninterrupted; returns (seconds until the first step was logged, total seconds)."""
    began, first = time.perf_counter(), None
    process = start(command, log_path)
    while process.poll() is None:
        if first is None and first_step_seen(workdir):
            first = time.perf_counter() - began
        time.sleep(0.02)
    total = time.perf_counter() - began
    if process.returncode != 0:
        sys.exit(f"crash_test.py: error: the reference run failed ({process.returncode}); see {log_path}")
    return first or total, total


def checkpoint_entries(workdir: str) -> list[str]:
    try:
        return sorted(os.listdir(os.path.join(workdir, "checkpoints")))
    except FileNotFoundError:
        return []


def latest_checkpoint(workdir: str) -> int:
    return max((int(name) for name in checkpoint_entries(workdir) if name.isdigit()), default=0)


def metrics_inode(workdir: str) -> int | None:
    try:
        return os.stat(os.path.join(workdir, "metrics.jsonl")).st_ino
    except FileNotFoundError:
        return None


def logged_steps(workdir: str) -> list[int]:
    """Steps of the train records of metrics.jsonl (a line being written is skipped)."""
    steps = []
    try:
        with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
            for line in f:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                steps += [record["step"]] if record.get("split") == "train" else []
    except FileNotFoundError:
        pass
    return steps


def wait_for_step(process, workdir: str, old_inode: int | None, step: int, seconds: float = float("inf")) -> None:
    """Waits until this run logs ``step`` or a later one (a resumed run first rewrites metrics.jsonl,
    so a new inode tells its records from the killed run's), ``seconds`` pass, or the run ends."""
    deadline = time.perf_counter() + seconds
    while process.poll() is None and time.perf_counter() < deadline:
        if metrics_inode(workdir) not in (None, old_inode) and any(s >= step for s in logged_steps(workdir)):
            return
        time.sleep(0.01)


def wait_for_kill_moment(rng, process, workdir: str, args, first: float) -> None:
    """A random moment of this run: one time in five during start-up (imports, data, compiling: a
    random fraction of the reference's time to its first step), otherwise just after a random step
    before the last is logged, which often falls in that step's checkpoint save. Either way no later
    than the next-to-last step's log, so that a faster or slower machine still gets its kill in."""
    since_step, old_inode = latest_checkpoint(workdir), metrics_inode(workdir)
    last_moment = max(since_step + 1, args.steps - 1)
    if rng.random() < 0.2:
        wait_for_step(process, workdir, old_inode, last_moment, seconds=rng.uniform(0.1, 0.9) * first)
        return
    wait_for_step(process, workdir, old_inode, rng.randint(since_step + 1, last_moment))


def interrupted_run(command, workdir, root, args, first: float) -> dict:
    """Starts, SIGKILLs at a random moment and restarts --kills times, then runs to the end."""
    rng = random.Random(args.seed)
    landed = during_save = attempt = 0
    while True:
        attempt += 1
        log_path = os.path.join(root, f"attempt_{attempt}.log")
        process = start(command, log_path)
        if attempt <= args.kills:
            wait_for_kill_moment(rng, process, workdir, args, first)
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
                landed += 1
                entries = checkpoint_entries(workdir)
                during_save += any(TMP_MARK in name for name in entries)
                print(f"kill {attempt}: SIGKILL landed; checkpoints on disk: {', '.join(entries) or 'none'}", flush=True)
                continue
        if process.wait() != 0:
            sys.exit(f"crash_test.py: error: run {attempt} failed ({process.returncode}); see {log_path}")
        return {"kills_landed": landed, "kills_during_save": during_save, "runs": attempt}


def logged_losses(workdir: str) -> list[tuple]:
    """(step, split, loss) of every train and validation record, in file order."""
    with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    return [(r["step"], r["split"], r["loss"]) for r in records if r["split"] in ("train", "validation")]


def compare(reference: str, interrupted: str) -> dict:
    """Final parameters (bitwise), steps, validation losses and logged losses of the two workdirs."""
    import jax
    import numpy as np

    import rnngen

    a, b = rnngen.load(reference), rnngen.load(interrupted)
    leaves_a, leaves_b = jax.tree_util.tree_leaves(a.trained.params), jax.tree_util.tree_leaves(b.trained.params)
    same_params = len(leaves_a) == len(leaves_b) and all(
        np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(leaves_a, leaves_b))
    loss_a, loss_b = a.evaluate("validation")["loss"], b.evaluate("validation")["loss"]
    return {
        "identical": bool(same_params and a.step == b.step and loss_a == loss_b),
        "final_step": b.step,
        "eval_loss": {"uninterrupted": loss_a, "interrupted": loss_b},
        "metrics_identical": logged_losses(reference) == logged_losses(interrupted),
        "set_aside_checkpoints": len(os.listdir(os.path.join(interrupted, "corrupt_checkpoints")))
        if os.path.isdir(os.path.join(interrupted, "corrupt_checkpoints")) else 0,
        "leftover_tmp_dirs": sum(TMP_MARK in name for name in checkpoint_entries(interrupted)),
    }


def prepare_root(args) -> str:
    root = args.workdir_root or tempfile.mkdtemp(prefix="rnngen_crash_test_")
    if os.path.exists(os.path.join(root, "reference")) or os.path.exists(os.path.join(root, "interrupted")):
        sys.exit(f"crash_test.py: error: {root} holds an earlier crash test; give another --workdir-root")
    os.makedirs(root, exist_ok=True)
    return root


def main() -> int:
    args = parse_args()
    root = prepare_root(args)
    corpus = os.path.abspath(args.text) if args.text else write_corpus(os.path.join(root, "corpus.txt"), args.seed)
    reference, interrupted = os.path.join(root, "reference"), os.path.join(root, "interrupted")
    first, total = reference_run(train_command(reference, corpus, args), reference, os.path.join(root, "reference.log"))
    print(f"reference run: {total:.1f} s, first step logged after {first:.1f} s")
    result = {"kills": args.kills, **interrupted_run(train_command(interrupted, corpus, args), interrupted, root,
                                                      args, first)}
    result.update(compare(reference, interrupted))
    print(f"{result['kills_landed']} of {args.kills} kills landed ({result['kills_during_save']} during a checkpoint "
          f"save), {result['runs']} runs to reach step {result['final_step']}; final parameters "
          f"{'bitwise identical' if result['identical'] else 'DIFFERENT'}; validation loss "
          f"{result['eval_loss']['interrupted']!r} vs {result['eval_loss']['uninterrupted']!r}; logged losses "
          f"{'identical' if result['metrics_identical'] else 'DIFFERENT'}; workdirs in {root}")
    print(json.dumps(result))
    return 0 if result["identical"] and result["metrics_identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
