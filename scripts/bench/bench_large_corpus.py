"""A large text file's way to its first training step: wall time and peak memory, cold and warm.

    python scripts/bench/bench_large_corpus.py                 # 1 GiB, generated from tiny_shakespeare
    python scripts/bench/bench_large_corpus.py --size-mb 256 --json

Generates a text file of ``--size-mb`` MiB (tiny_shakespeare repeated, each copy's lines
numbered so the text does not repeat exactly), then runs the real ``rnngen train`` on it
twice, each in a new workdir: the first run tokenizes the corpus into the token store
(``rnngen/data/token_store.py``), the second finds it there. Each run is stopped once its
first training step is logged in ``metrics.jsonl``; the figures are the wall time from
launch to that step and the process's peak resident memory (``VmHWM``) by then. The
goals sit beside them: peak RSS under 1.5 GB on the first run, a second run that starts
in seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SHAKESPEARE = os.path.join(REPO, "..", "shared", "data", "tinyshakespeare", "input.txt")
GOAL_PEAK_MB = 1500


def write_corpus(path: str, size_mb: int, source: str) -> int:
    """Writes ``size_mb`` MiB of ``source``'s lines, copy after copy, each line prefixed by its copy's
    number; returns the bytes written."""
    with open(source, encoding="utf-8") as f:
        lines = f.read().splitlines(keepends=True)
    target, written, copy = size_mb << 20, 0, 0
    with open(path, "w", encoding="utf-8") as out:
        while written < target:
            block = "".join(f"{copy % 1000} {line}" for line in lines)
            out.write(block)
            written += len(block.encode("utf-8"))
            copy += 1
    return os.path.getsize(path)


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident memory so far (VmHWM), in MB, or None once it has gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e6
    except FileNotFoundError:
        return None
    return None


def first_step_logged(workdir: str) -> bool:
    try:
        with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
            return any(json.loads(line).get("split") == "train" for line in f if line.strip())
    except FileNotFoundError:
        return False


def run_to_first_step(corpus: str, cache_dir: str, workdir: str, timeout_s: float) -> dict:
    """Launches ``rnngen train`` on ``corpus``; kills it once its first step is logged."""
    command = [
        sys.executable, "-m", "rnngen.cli", "train", "--config", "configs/shakespeare_char.py:quick",
        "--workdir", workdir, "--config.data.source=text", f"--config.data.path={corpus}",
        f"--config.data.cache_dir={cache_dir}", "--config.train.log_every=1",
    ]
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0.0
    try:
        while not first_step_logged(workdir):
            if process.poll() is not None:
                sys.exit(f"bench_large_corpus: rnngen train failed:\n{process.stderr.read()[-2000:]}")
            if time.perf_counter() - start > timeout_s:
                sys.exit(f"bench_large_corpus: no training step within {timeout_s:.0f} s")
            peak = max(peak, peak_rss_mb(process.pid) or 0.0)
            time.sleep(0.1)
        elapsed = time.perf_counter() - start
        peak = max(peak, peak_rss_mb(process.pid) or 0.0)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    return {"to_first_step_s": round(elapsed, 1), "peak_rss_mb": round(peak)}


def directory_mb(path: str) -> float:
    return sum(os.path.getsize(os.path.join(root, n)) for root, _, names in os.walk(path) for n in names) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="corpus size in MiB (default 1024)")
    parser.add_argument("--dir", default=None, help="where to write the corpus and the runs (default: a temp dir)")
    parser.add_argument("--source", default=SHAKESPEARE, help="the text repeated into the corpus")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one run may take to its first step")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args()
    root = args.dir or tempfile.mkdtemp(prefix="rnngen-large-")
    os.makedirs(root, exist_ok=True)
    corpus, cache = os.path.join(root, "corpus.txt"), os.path.join(root, "cache")
    shutil.rmtree(cache, ignore_errors=True)
    size = write_corpus(corpus, args.size_mb, args.source)
    runs = {}
    for name in ("first", "second"):
        workdir = os.path.join(root, f"run_{name}")
        shutil.rmtree(workdir, ignore_errors=True)
        runs[name] = run_to_first_step(corpus, cache, workdir, args.timeout)
    figures = {"corpus_mb": round(size / 1e6), "token_store_mb": round(directory_mb(cache)), **runs}
    print(f"corpus {figures['corpus_mb']:,} MB, token store {figures['token_store_mb']:,} MB")
    print(f"{'run':<8}{'to first step':>15}{'peak RSS':>12}{'goal':>26}")
    print(f"{'first':<8}{runs['first']['to_first_step_s']:>13.1f} s{runs['first']['peak_rss_mb']:>9,} MB"
          f"{'peak RSS < ' + format(GOAL_PEAK_MB, ',') + ' MB':>26}")
    print(f"{'second':<8}{runs['second']['to_first_step_s']:>13.1f} s{runs['second']['peak_rss_mb']:>9,} MB"
          f"{'starts in seconds':>26}")
    if args.json:
        print(json.dumps(figures))
    if not args.dir:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
