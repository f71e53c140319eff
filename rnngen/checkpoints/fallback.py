"""Falling back from a corrupt checkpoint to the previous good one.

Loading ('latest' or 'best') and resuming try the candidate steps in order of
preference and use the first whose meta and state read back intact, with a
warning on stderr for each one skipped. An explicitly requested step is never
replaced by another. Loading only reads; training moves the corrupt checkpoints
aside (:meth:`Checkpointer.set_aside`) so their steps can be saved again.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from rnngen.checkpoints.integrity import CorruptCheckpoint
from rnngen.checkpoints.manager import Checkpointer
from rnngen.errors import UsageError


def warn(message: str) -> None:
    print(f"rnngen: warning: {message}", file=sys.stderr)


class GoodCheckpoints:
    """Walks ``steps`` in order, skipping the corrupt ones (kept in ``bad``)."""

    def __init__(self, checkpointer: Checkpointer, steps: list[int]):
        self.checkpointer = checkpointer
        self._steps = list(steps)
        self.bad: list[CorruptCheckpoint] = []

    def meta(self) -> tuple[int, dict] | None:
        """(step, meta) of the first candidate whose meta item reads, or None."""
        while self._steps:
            step = self._steps[0]
            try:
                return step, self.checkpointer.restore_checked_meta(step)
            except CorruptCheckpoint as bad:
                self._skip(bad)
        return None

    def restore(self, abstract_for: Callable[[dict], Any], params_only: bool = False) -> tuple[int, dict, Any] | None:
        """(step, meta, state) of the first candidate whose meta and state both read back intact,
        or None. ``abstract_for(meta)`` is the state's restore target; with ``params_only`` it is
        the parameters' and only they are read (inference)."""
        checker = self.checkpointer
        read = checker.restore_checked_params if params_only else checker.restore_checked_state
        while (found := self.meta()) is not None:
            step, meta = found
            try:
                return step, meta, read(step, abstract_for(meta), meta)
            except CorruptCheckpoint as bad:
                self._skip(bad)
        return None

    def _skip(self, bad: CorruptCheckpoint) -> None:
        self.bad.append(bad)
        self._steps.pop(0)


def no_good_checkpoint(checkpointer: Checkpointer, bad: list[CorruptCheckpoint], hint: str) -> UsageError:
    """The error when every candidate is corrupt, naming each with its reason."""
    reasons = "; ".join(f"step {b.step}: {b.reason}" for b in bad)
    return UsageError(f"no readable checkpoint in {checkpointer.manager.directory} ({reasons}); {hint}")


def report_load_fallback(checkpointer: Checkpointer, walker: GoodCheckpoints, which: str | int, found) -> None:
    """For sample/eval: an error if the requested step (or every candidate) is corrupt, else a
    warning for each corrupt checkpoint skipped on the way to the one used."""
    if walker.bad and which not in ("latest", "best"):
        raise UsageError(f"{walker.bad[0]}; ask for another step, or --checkpoint latest for the newest good one")
    if found is None:
        raise no_good_checkpoint(checkpointer, walker.bad, "train again in a new --workdir")
    for bad in walker.bad:
        warn(f"{bad}; using the checkpoint of step {found[0]} instead")


def set_aside_corrupt(checkpointer: Checkpointer, bad: list[CorruptCheckpoint], used_step: int) -> None:
    """For training: moves each corrupt checkpoint to WORKDIR/corrupt_checkpoints, with a warning
    (from process 0, which moves it)."""
    for corrupt in bad:
        moved = checkpointer.set_aside(corrupt.step)
        if moved is not None:
            warn(f"{corrupt}; moved it to {moved}, resuming from the checkpoint of step {used_step}")
