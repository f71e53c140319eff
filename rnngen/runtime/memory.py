"""Handing the memory XLA's compiler freed back to the system (glibc's ``malloc_trim``).

XLA's compiler (LLVM) allocates and frees a few hundred MiB while it compiles a
train step. glibc keeps those freed pages in the process' heap, and a step's own
large buffers never reuse them (glibc maps buffers above 32 MiB separately), so
without help the first step's working memory lands on top of the compiler's
leftovers. The ``rnngen`` command passes :func:`release_freed_memory` to the
trainer, which calls it after compiling (figures in docs/performance.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util


def release_freed_memory() -> bool:
    """Returns the heap's free pages to the operating system (glibc's ``malloc_trim(0)``).

    True when it ran; False where the C library has no ``malloc_trim`` (macOS, musl): a no-op there.
    """
    libc_path = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(libc_path).malloc_trim
    except (OSError, AttributeError, TypeError):
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True
