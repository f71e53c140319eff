"""One training process per workdir: an exclusive ``flock`` on ``WORKDIR/train.lock``.

The kernel releases a ``flock`` when its process dies, however it dies (``kill -9``
included), so a lock left by a dead process is taken over without any clean-up.
The file holds the holder's pid, only for the message of a refused run. The
file itself is never deleted: unlinking a lock file races with a process that
has just opened it.
"""

from __future__ import annotations

import fcntl
import os

from rnngen.errors import UsageError

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
