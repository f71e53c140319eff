"""Transparent huge pages for the ``rnngen train`` process's malloc (glibc's ``glibc.malloc.hugetlb=1``).

XLA's CPU runtime allocates each train step's temporary buffer (the
``[time, batch, gates]`` buffers and the other activations: tens to hundreds of
MiB) with malloc and frees it when the step ends. glibc serves a block that
large with a fresh ``mmap`` every time, so every step touches each of its 4 KiB
pages for the first time again, a page fault apiece. With
``GLIBC_TUNABLES=glibc.malloc.hugetlb=1`` (glibc 2.35 and later) malloc asks the
kernel for transparent huge pages on those mappings (``madvise``), 2 MiB each,
so far fewer pages fault (figures in docs/performance.md).

glibc reads ``GLIBC_TUNABLES`` once, when the process starts, so the process must
restart itself with the tunable added (:func:`restart_with_huge_pages`: ``os.execve``
of the same command line, which keeps the process id), before it imports JAX. The
``rnngen`` command does so only when asked (``rnngen --huge-pages train ...`` or
``RNNGEN_HUGE_PAGES=1``; :func:`rnngen.runtime.install`), only on Linux with glibc
2.35 or later whose kernel hands out huge pages on request (``madvise`` in
``/sys/kernel/mm/transparent_hugepage/enabled``; with ``always`` the kernel uses them
anyway, with ``never`` not at all), and only when ``GLIBC_TUNABLES`` does not name
``glibc.malloc.hugetlb`` already: ``GLIBC_TUNABLES=glibc.malloc.hugetlb=0`` keeps
malloc's default. Nor does it restart a program read from stdin, which could not
run again.
"""

from __future__ import annotations

import os
import sys
from typing import Mapping

TUNABLE = "glibc.malloc.hugetlb"
HUGE_PAGES_ON = f"{TUNABLE}=1"
FIRST_GLIBC_WITH_TUNABLE = (2, 35)
THP_SETTING = "/sys/kernel/mm/transparent_hugepage/enabled"


def glibc_version() -> tuple[int, int] | None:
    """The C library's (major, minor) version if it is glibc, else None."""
    try:
        name, version = os.confstr("CS_GNU_LIBC_VERSION").split()
        major, minor = version.split(".")[:2]
        return (int(major), int(minor)) if name == "glibc" else None
    except (AttributeError, ValueError, OSError):  # not glibc, or no confstr on this system
        return None


def huge_pages_on_request(thp_setting: str = THP_SETTING) -> bool:
    """Whether the kernel gives transparent huge pages to the mappings that ask for them, and only to those."""
    try:
        with open(thp_setting) as setting:
            return "[madvise]" in setting.read()
    except OSError:
        return False


def tunables_with_huge_pages(tunables: str) -> str | None:
    """``GLIBC_TUNABLES`` with ``glibc.malloc.hugetlb=1`` added, or None if it names that tunable already."""
    if TUNABLE in tunables:
        return None
    return f"{tunables}:{HUGE_PAGES_ON}" if tunables else HUGE_PAGES_ON


def restart_with_huge_pages(environ: Mapping[str, str] = os.environ) -> None:
    """Replaces this process by the same command line (``sys.orig_argv``) with malloc's huge pages on.

    Returns without restarting where that would change nothing (see the module's
    docstring), where the program came from stdin or a prompt (it cannot run
    again), or where the restart fails. The restarted process finds the tunable
    set and carries on.
    """
    version = glibc_version()
    tunables = tunables_with_huge_pages(environ.get("GLIBC_TUNABLES", ""))
    if tunables is None or version is None or version < FIRST_GLIBC_WITH_TUNABLE or not huge_pages_on_request():
        return
    if sys.argv[0] in ("-", ""):  # a program read from stdin (gone once read) or typed in: it cannot run again
        return
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, sys.orig_argv, {**environ, "GLIBC_TUNABLES": tunables})
    except OSError:  # no executable to restart: run on with malloc's default
        return
