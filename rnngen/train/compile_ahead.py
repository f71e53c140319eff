"""Compiling a step before its first call, and handing the memory the compiler freed back to the system.

XLA's compiler (LLVM) allocates and frees a few hundred MiB while it compiles
a train step. glibc keeps those freed pages in the process' heap, and a step's
own large buffers never reuse them (glibc maps buffers above 32 MiB
separately), so without help the first step's working memory lands on top of
the compiler's leftovers. :func:`compile_ahead` compiles the step first, then
asks glibc to return the free heap pages (``malloc_trim(0)``), so the process
peaks lower (measured in the README's Performance section).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any


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


def compile_ahead(jitted: Any, *args: Any) -> Any:
    """Compiles ``jitted`` (a ``jax.jit`` function) for ``args`` and releases the compiler's freed memory.

    Returns the compiled executable. ``jitted(*args)`` then runs without compiling again: JAX's cache
    holds the executable.
    """
    compiled = jitted.lower(*args).compile()
    release_freed_memory()
    return compiled
