"""The XLA flag the ``rnngen`` command sets for itself: 512-bit vectors in XLA's own CPU code.

XLA's CPU backend generates the code for everything that is not a library call
(the matmuls are XNNPACK's or Eigen's): the gate nonlinearities and the rest of
the recurrence's elementwise work, the loss, the optimizer update, the
sampler's per-token arithmetic. By default it targets 256-bit vectors even on
CPUs with AVX-512, because some older Xeons lower their clock while running
512-bit code. The ``rnngen`` command asks for 512-bit vectors
(``--xla_cpu_prefer_vector_width=512``; no effect on CPUs without AVX-512 nor
on GPUs and TPUs): the same programs give bitwise the same results (figures
in docs/performance.md).

XLA reads ``XLA_FLAGS`` once, when JAX starts its first backend, so the command
sets it in its entry point (:func:`rnngen.runtime.install`), before JAX starts. A width already in ``XLA_FLAGS`` wins:
``XLA_FLAGS=--xla_cpu_prefer_vector_width=256`` keeps XLA's default on a CPU
whose 512-bit code runs slower. Python code that uses rnngen as a library can
call :func:`prefer_wide_vectors` before its first JAX computation, or set the
flag in ``XLA_FLAGS`` itself.
"""

from __future__ import annotations

import os
from typing import MutableMapping

VECTOR_WIDTH_FLAG = "--xla_cpu_prefer_vector_width"
WIDE_VECTOR_BITS = 512


def prefer_wide_vectors(environ: MutableMapping[str, str] = os.environ) -> bool:
    """Adds ``--xla_cpu_prefer_vector_width=512`` to ``environ["XLA_FLAGS"]`` unless it names a width.

    Returns whether it added the flag. It takes effect only if JAX has not started a backend yet.
    """
    flags = environ.get("XLA_FLAGS", "")
    if VECTOR_WIDTH_FLAG in flags:
        return False
    environ["XLA_FLAGS"] = f"{flags} {VECTOR_WIDTH_FLAG}={WIDE_VECTOR_BITS}".strip()
    return True
