"""The benchmark scripts under scripts/bench/ run and print their measurements (smoke tests on tiny cases);
run with ``pytest --perf tests/perf``."""

import json
import os
import subprocess
import sys

import pytest

from helpers import ENV, REPO

pytestmark = pytest.mark.perf


def run_bench_worker(*args: str) -> dict:
    """One JSON line of scripts/bench/bench_rnngen.py (the rnngen side of scripts/bench/bench.py; no PyTorch needed)."""
    command = [sys.executable, os.path.join(REPO, "scripts", "bench", "bench_rnngen.py"), *args]
    done = subprocess.run(command, check=True, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=600)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_bench_workers_time_the_real_train_step_and_sampler(tmp_path):
    import numpy as np

    train = run_bench_worker("train", "lstm_1x256", "--repeats", "1")
    assert train["per_s"] > 0 and train["compile_s"] > 0 and train["peak_mb"] > 100
    assert train["faulted_mib_per_step"] > 0
    sampled = run_bench_worker("sample", "1", "--model", "lstm_1x256", "--repeats", "1")
    assert sampled["per_s"] > 0 and sampled["compile_s"] >= 0
    ids = tmp_path / "ids.npy"
    np.save(ids, np.random.default_rng(0).integers(0, 65, 8000).astype(np.int32))
    curve = run_bench_worker("curve", "lstm_1x256", "--steps", "3", "--ids", str(ids))
    assert len(curve["losses"]) == 3 and abs(curve["final_loss"] - np.mean(curve["losses"])) < 1e-6


def test_bench_flop_counts_by_hand():
    sys.path.insert(0, os.path.join(REPO, "scripts", "bench"))
    from bench_cases import forward_flops_per_token, train_flops_per_token

    # 2x512 LSTM: layer 1 (64 + 512) x 2048, layer 2 (512 + 512) x 2048, output 512 x 65; 2 FLOPs per multiply-add
    assert forward_flops_per_token("lstm", 2, 512) == 2 * (576 * 2048 + 1024 * 2048 + 512 * 65)
    assert train_flops_per_token("gru", 1, 256) == 3 * 2 * ((64 + 256) * 768 + 256 * 65)


def test_bench_kernels_prints_every_measurement():
    command = [sys.executable, os.path.join(REPO, "scripts", "bench", "bench_kernels.py")]
    done = subprocess.run(command, check=True, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=600)
    lines = done.stdout.splitlines()
    assert len(lines) == 12, done.stdout
    matmuls, loops, gates = lines[1:4], lines[5:7], lines[8:11]
    assert all("GFLOP/s" in line for line in matmuls), matmuls
    assert all(float(line.split()[-2]) > 0 for line in loops), loops  # JAX, then PyTorch or "-"
    assert all(float(line.split()[-1]) > 0 for line in gates), gates
    assert lines[-1].startswith("first touch of fresh memory: ") and float(lines[-1].split()[-6]) > 0, lines[-1]


def test_bench_wavefront_times_three_schedules_of_the_same_nll():
    """The script checks that the three programs compute the same nll before it times them."""
    command = [sys.executable, os.path.join(REPO, "scripts", "bench", "bench_wavefront.py"), "--rounds", "1"]
    done = subprocess.run(command, check=True, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=600)
    lines = done.stdout.splitlines()
    assert len(lines) == 4 and lines[0].startswith("lstm_2x512 eval loss, batch 64"), done.stdout
    assert [line.split()[0] for line in lines[1:]] == ["layered", "wavefront,", "wavefront"], done.stdout
    assert all(float(line.split()[-1]) > 0 for line in lines[1:]), done.stdout


def test_bench_large_corpus_measures_both_runs_to_their_first_step(tmp_path, shakespeare_dir):
    command = [sys.executable, os.path.join(REPO, "scripts", "bench", "bench_large_corpus.py"), "--size-mb", "2",
               "--dir", str(tmp_path), "--json"]
    done = subprocess.run(command, check=True, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=600)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["corpus_mb"] == 2 and figures["token_store_mb"] >= 3  # uint16 ids: 2 bytes per character
    for run in ("first", "second"):
        assert figures[run]["to_first_step_s"] > 0 and figures[run]["peak_rss_mb"] > 100
