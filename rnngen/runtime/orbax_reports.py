"""Keeping Orbax's own reports of a failed read or write off stderr.

rnngen reports a corrupt checkpoint or a full disk in one line; Orbax would add
screenfuls of tracebacks:

- A failed save (say, the disk is full) is logged by Orbax's writer threads
  through absl at ERROR level, with tracebacks, before the exception reaches
  the caller: the checkpoint manager drops those records for the duration of
  the save (:func:`rnngen.checkpoints.manager.orbax_errors_dropped`, not a
  process setting).
- When one array of a checkpoint cannot be read or written, Orbax abandons
  the others' reads or writes, and closes its event loop:
  - each abandoned read is a coroutine whose clean-up turns the ``GeneratorExit``
    that finalises it into a new exception (orbax-checkpoint 0.12.8,
    ``serialization._read_array_index_and_device_put``: ``except BaseException:
    raise Exception(...)``), which Python reports as "Exception ignored in:
    <coroutine ...>" whenever the coroutine is garbage-collected, often only at
    interpreter exit;
  - each TensorStore operation still in flight completes later, in a thread of
    its own, and its callback's ``loop.call_soon_threadsafe`` raises
    "RuntimeError: Event loop is closed", reported with a traceback;
  - each write that failed beside the one whose exception propagates is an
    asyncio task, or a gathering future of several writes, whose exception
    nobody retrieves; when it is garbage-collected, asyncio logs "Task (or
    _GatheringFuture) exception was never retrieved" with its traceback through
    the ``asyncio`` logger;
  - a write abandoned before it started is a coroutine never awaited: when it
    is garbage-collected, Python warns "coroutine '...' was never awaited"
    (a ``RuntimeWarning`` whose source is the coroutine), after rnngen's own
    one-line error.
  :func:`drop_abandoned_io_reports` drops these four kinds of report for the
  rest of the process (an unraisable-exception hook, a filter on the
  ``asyncio`` logger and one on the warnings shown); every other report goes
  where it went before. Only the ``rnngen`` command installs it
  (:func:`rnngen.runtime.install`).
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

_ORBAX_DIR = f"{os.sep}orbax{os.sep}"


def _is_orbax_coroutine(obj) -> bool:
    code = getattr(obj, "cr_code", None)
    return code is not None and _ORBAX_DIR in code.co_filename


def _is_late_callback(unraisable) -> bool:
    """A callback that tried to reach an event loop already closed (no object, asyncio's error)."""
    error = unraisable.exc_value
    return (unraisable.object is None and isinstance(error, RuntimeError)
            and str(error) == "Event loop is closed")


def _raised_in_orbax(record: logging.LogRecord) -> bool:
    """Whether the record's exception was raised through a function of Orbax's."""
    trace = record.exc_info[2] if record.exc_info else None
    while trace is not None:
        if _ORBAX_DIR in trace.tb_frame.f_code.co_filename:
            return True
        trace = trace.tb_next
    return False


class _OrbaxTasksNeverRetrieved(logging.Filter):
    """Drops asyncio's report of an Orbax task or gathering future whose exception nobody retrieved.

    asyncio logs a task's repr, which names its coroutine and the file defining it; a
    gathering future's repr names neither, but its exception's traceback runs through Orbax."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        never_retrieved = message.split("\n", 1)[0].endswith("exception was never retrieved")
        return not (never_retrieved and (_ORBAX_DIR in message or _raised_in_orbax(record)))


def drop_abandoned_io_reports() -> None:
    """Installs, once per process, an unraisable-exception hook and an ``asyncio`` log filter
    that drop the reports of Orbax's abandoned reads and writes and pass on all others."""
    if getattr(sys.unraisablehook, "drops_orbax_reports", False):
        return
    logging.getLogger("asyncio").addFilter(_OrbaxTasksNeverRetrieved())
    previous = sys.unraisablehook

    def hook(unraisable) -> None:
        if not (_is_orbax_coroutine(unraisable.object) or _is_late_callback(unraisable)):
            previous(unraisable)

    hook.drops_orbax_reports = True
    sys.unraisablehook = hook
    _drop_orbax_coroutines_never_awaited()


def _drop_orbax_coroutines_never_awaited() -> None:
    """Wraps the warnings module's display step (which receives the warning's source) so that
    "coroutine ... was never awaited" about an Orbax coroutine is not shown; every other warning is."""
    show_previous = warnings._showwarnmsg

    def show(message: warnings.WarningMessage) -> None:
        if not (issubclass(message.category, RuntimeWarning) and _is_orbax_coroutine(message.source)):
            show_previous(message)

    warnings._showwarnmsg = show
