"""Writes metrics and samples to TensorBoard event files and ``metrics.jsonl``."""

from __future__ import annotations

import json
import os
import time

from tensorboardX import SummaryWriter


def _step_of(line: str) -> int | None:
    """The step of one JSON line, or None for a line that is not a whole record (a process
    killed while writing leaves a truncated last line)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    step = record.get("step") if isinstance(record, dict) else None
    return step if isinstance(step, int) else None


def drop_records_after(path: str, step: int) -> None:
    """Rewrites the JSON lines file at ``path`` without the records of steps after ``step``,
    and without truncated or unreadable lines."""
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8", errors="replace") as f:
        kept = [line for line in f if (line_step := _step_of(line)) is not None and line_step <= step]
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.writelines(line if line.endswith("\n") else line + "\n" for line in kept)
    os.replace(path + ".tmp", path)


class MetricWriter:
    """One writer for a workdir: TensorBoard events under ``WORKDIR/tensorboard``
    and one JSON object per line in ``WORKDIR/metrics.jsonl``.

    A run that starts at ``start_step`` (a resumed one) first drops what an
    interrupted run logged after that step, so every step is logged once.
    """

    def __init__(self, workdir: str, start_step: int = 0):
        jsonl_path = os.path.join(workdir, "metrics.jsonl")
        drop_records_after(jsonl_path, start_step)
        self._tensorboard = SummaryWriter(logdir=os.path.join(workdir, "tensorboard"), purge_step=start_step + 1)
        self._jsonl = open(jsonl_path, "a", encoding="utf-8")

    def write_scalars(self, step: int, scalars: dict[str, float], prefix: str) -> None:
        """Writes ``scalars`` as ``prefix/name`` (e.g. train/loss) and one JSON line."""
        for name, value in scalars.items():
            self._tensorboard.add_scalar(f"{prefix}/{name}", value, step)
        record = {"step": step, "split": prefix, "time": time.time(), **{k: float(v) for k, v in scalars.items()}}
        self._jsonl.write(json.dumps(record) + "\n")
        self._jsonl.flush()

    def write_text(self, step: int, tag: str, text: str) -> None:
        # Markdown in TensorBoard's text plugin: keep line breaks with a code block.
        self._tensorboard.add_text(tag, "```\n" + text + "\n```", step)
        self._jsonl.write(json.dumps({"step": step, "split": tag, "text": text}) + "\n")
        self._jsonl.flush()

    def close(self) -> None:
        self._tensorboard.close()
        self._jsonl.close()
