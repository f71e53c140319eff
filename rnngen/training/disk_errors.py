"""Recognising "the disk is full" in whatever form a writer reports it.

Python writers raise ``OSError`` with an errno; TensorStore (which writes the
arrays of an Orbax checkpoint) raises other exception types whose message holds
the operating system's text for the error. Both are recognised, along the
exception's chain of causes.
"""

from __future__ import annotations

import contextlib
import errno
import os
from typing import Callable, Iterator

from rnngen.errors import DiskFull, TrainingInterrupted, UsageError

# No space left on device, disk quota exceeded, file too large (a size limit such as RLIMIT_FSIZE).
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _chain(error: BaseException):
    """``error`` and its causes and contexts, each once."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def disk_full_reason(error: BaseException) -> str | None:
    """'[Errno 28] No space left on device' (or the like) when ``error`` means the disk is full, else None."""
    for link in _chain(error):
        if isinstance(link, OSError) and link.errno in DISK_FULL_ERRNOS:
            return f"[Errno {link.errno}] {os.strerror(link.errno)}"
        text = str(link)
        for code in DISK_FULL_ERRNOS:
            if os.strerror(code) in text:
                return f"[Errno {code}] {os.strerror(code)}"
    return None


def disk_full_message(step: int, what: str, reason: str, last_saved: int | None) -> str:
    """The one line for a full disk: what failed at which step, what is intact, what to do."""
    kept = "no checkpoint was saved yet" if last_saved is None else f"the checkpoint of step {last_saved} is intact"
    return f"step {step}: {what} failed ({reason}); {kept}. Free disk space, then run the same command to resume"


@contextlib.contextmanager
def disk_full_stops(current_step: Callable[[], int], last_saved: Callable[[], int | None], what: str) -> Iterator[None]:
    """Turns a full disk met inside the block (writing metrics or events) into a DiskFull
    naming ``current_step()`` and the intact checkpoint ``last_saved()``."""
    try:
        yield
    except (UsageError, TrainingInterrupted):
        raise
    except Exception as error:
        reason = disk_full_reason(error)
        if reason is None:
            raise
        raise DiskFull(disk_full_message(current_step(), what, reason, last_saved())) from error
