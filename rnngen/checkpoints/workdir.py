"""The workdir of a training run: its lock, the stop signals, and a full disk.

- :class:`WorkdirLock`: one training process per workdir, an exclusive ``flock`` on
  ``WORKDIR/train.lock``. The kernel releases a ``flock`` when its process dies, however
  it dies (``kill -9`` included), so a lock left by a dead process is taken over without
  clean-up. The file holds the holder's pid, only for the message of a refused run; it is
  never deleted (unlinking a lock file races with a process that has just opened it).
- :class:`StopSignals`: SIGTERM and SIGINT as a request to stop after the current step. Inside
  ``with StopSignals() as stop:`` the two signals only record themselves in ``stop.received``;
  the training loop checks it after each step, saves a checkpoint and stops, so a signal never
  cuts a save half-way. The previous handlers come back on leaving the block.
- :func:`disk_full_reason`: "the disk is full" in whatever form a writer reports it: Python
  writers raise ``OSError`` with an errno; TensorStore (the arrays of an Orbax checkpoint) raises
  other types whose message holds the operating system's text; both along the chain of causes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import threading
from typing import Callable, Iterator

from rnngen.errors import DiskFull, TrainingInterrupted, UsageError

LOCK_NAME = "train.lock"


def _holder_pid(fd: int) -> str:
    """The pid written in the lock file, or 'unknown' while the holder has not written it yet."""
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 64).decode("ascii", "replace").strip()
    return text if text.isdigit() else "unknown"


class WorkdirLock:
    """Holds ``WORKDIR/train.lock`` (creating the workdir if needed) until :meth:`release`.

    Raises a UsageError naming the holder's pid when another live process holds it.
    """

    def __init__(self, workdir: str):
        os.makedirs(workdir, exist_ok=True)
        self.path = os.path.join(os.path.abspath(workdir), LOCK_NAME)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder_pid(fd)
            os.close(fd)
            raise UsageError(
                f"{workdir} is being trained by another process (pid {pid}): wait for it to finish, "
                f"stop it (kill {pid}; it saves a checkpoint and exits), or use another --workdir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd: int | None = fd

    def release(self) -> None:
        """Unlocks; the next ``rnngen train`` on the workdir may start. Idempotent."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignals:
    """Records the first of SIGTERM/SIGINT received inside the block (``received``: its name, or None).

    Handlers can only be installed from the main thread; elsewhere the block
    changes nothing and the signals keep their usual effect.
    """

    def __init__(self):
        self.received: str | None = None
        self._previous: dict[int, object] = {}

    def _record(self, signum: int, frame) -> None:
        if self.received is None:
            self.received = signal.Signals(signum).name

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._record)
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)  # None: set outside Python
        self._previous.clear()


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
