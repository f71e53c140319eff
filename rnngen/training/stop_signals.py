"""SIGTERM and SIGINT as a request to stop after the current step, not an exception mid-step.

Inside ``with StopSignals() as stop:`` the two signals only record themselves in
``stop.received``; the training loop checks it after each step, saves a
checkpoint and stops. A signal that arrives while a checkpoint is being written
therefore never cuts the save half-way, and neither does a second signal. The
previous handlers come back on leaving the block.
"""

from __future__ import annotations

import signal
import threading

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
