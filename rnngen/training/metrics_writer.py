"""Writes metrics and samples to TensorBoard event files and ``metrics.jsonl``."""

from __future__ import annotations

import json
import os
import time

from tensorboardX import SummaryWriter


class MetricWriter:
    """One writer for a workdir: TensorBoard events under ``WORKDIR/tensorboard``
    and one JSON object per line in ``WORKDIR/metrics.jsonl``."""

    def __init__(self, workdir: str):
        self._tensorboard = SummaryWriter(logdir=os.path.join(workdir, "tensorboard"))
        self._jsonl = open(os.path.join(workdir, "metrics.jsonl"), "a", encoding="utf-8")

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

    def flush(self) -> None:
        self._tensorboard.flush()
        self._jsonl.flush()

    def close(self) -> None:
        self._tensorboard.close()
        self._jsonl.close()
