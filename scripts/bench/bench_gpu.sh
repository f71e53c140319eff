#!/usr/bin/env bash
# The GPU comparison in one run (a few minutes on one GPU): rnngen's optimized recurrence and
# sampling noise checked on the GPU, then scripts/bench/bench.py against PyTorch (cuDNN) with
# bfloat16's loss check.
#
#     bash scripts/bench/bench_gpu.sh [bench.py options, e.g. --manual-dir DIR --data-dir DIR]
#
# Needs a CUDA GPU, JAX with CUDA, and PyTorch with CUDA (the [bench] extra's torch==2.13.0
# from PyPI is a CUDA build on Linux x86-64).
set -uo pipefail
cd "$(dirname "$0")/../.."
status=0
# The optimized and reference paths in full float32 (no TF32), so that they agree to float tolerance.
JAX_DEFAULT_MATMUL_PRECISION=highest "${PYTHON:-python3}" -m pytest -q -p no:cacheprovider \
    tests/models/test_fused_scan.py tests/decoding/test_noise.py || status=1
"${PYTHON:-python3}" scripts/bench/bench.py --json --rounds "${BENCH_ROUNDS:-1}" --curve-steps 500 "$@" || status=1
exit $status
