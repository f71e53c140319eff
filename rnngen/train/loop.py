"""The training loop: ``train_and_evaluate(config, workdir)``, split into named pieces."""

from __future__ import annotations

import math
import os
import time
from typing import Callable

import jax
import numpy as np
from tqdm.auto import tqdm

from rnngen.checkpoints.fallback import GoodCheckpoints, no_good_checkpoint, set_aside_corrupt, warn
from rnngen.checkpoints.manager import Checkpointer, config_from_meta, make_meta
from rnngen.checkpoints.workdir import StopSignals, WorkdirLock, disk_full_message, disk_full_reason, disk_full_stops
from rnngen.decoding.sampler import sample
from rnngen.devices import data_mesh, fetch, place, place_rows, replicated, rows_sharding, zero_carry_on
from rnngen.errors import DiskFull, TrainingDiverged, TrainingInterrupted
from rnngen.train.distributed import NoLock, NoWriter, agree_on_stop, is_main_process
from rnngen.train.distributed import initialize as initialize_distributed
from rnngen.train.evaluation import evaluate
from rnngen.train.metrics_writer import MetricWriter
from rnngen.train.optimizer import after_evaluation
from rnngen.train.preflight import (
    PreparedData,
    absolutize_paths,
    check_resumable,
    preflight,
    prepare_data,
    validate_config,
)
from rnngen.train.sharding import dispatch_window, keep_state_shardings, sharded_eval_step, state_shardings
from rnngen.train.train import abstract_state, build_setup, make_eval_step, make_train_step

FIRST_POSITION = {"epoch": 0, "batch": 0}
TRAIN_CHECKED = ("loss", "grad_norm")  # per-step metrics that must stay finite
MAX_SKIPPED_IN_A_ROW = 100  # train.skip_nonfinite gives up after this many skipped steps in a row
NO_GOOD_CHECKPOINT_HINT = (
    "nothing was changed: move the checkpoints directory away to train from step 0, or use another --workdir"
)


def no_memory_release() -> None:
    """The default of ``release_memory``: the library leaves the process' heap alone."""


def sample_prompt(tokenizer, train_ids: np.ndarray) -> str:
    """The prompt of evaluation samples: a newline if it is a known token, else the corpus' first token."""
    if len(tokenizer.encode("\n")) == 1 and not tokenizer.unknown_tokens("\n"):
        return "\n"
    return tokenizer.decode(train_ids[:1])


def kept_checkpoint(checkpointer: Checkpointer) -> str:
    """What a stopped run leaves: the last checkpoint, intact, or none yet."""
    last_saved = checkpointer.latest_step()
    return "no checkpoint was saved yet" if last_saved is None else f"the checkpoint of step {last_saved} is intact"


def ensure_finite(step: int, scalars: dict[str, float], names: tuple[str, ...], checkpointer: Checkpointer) -> None:
    """Stops training with a clear message when one of ``names`` is NaN or infinite.

    A step that ``train.skip_nonfinite`` skipped (``scalars["skipped"]`` set) changed
    nothing, so its loss and gradient norm are not checked.
    """
    if scalars.get("skipped"):
        names = tuple(name for name in names if name not in TRAIN_CHECKED)
    bad = [name for name in names if name in scalars and not np.isfinite(scalars[name])]
    if bad:
        raise TrainingDiverged(
            f"step {step}: {bad[0]} is {scalars[bad[0]]}; {kept_checkpoint(checkpointer)}. Lower "
            "--config.train.learning_rate, set --config.train.grad_clip, or skip such steps with "
            "--config.train.skip_nonfinite=true, then run the same command to resume"
        )


def check_steps(first_step: int, values: list[dict], skipped_in_a_row: int, checkpointer: Checkpointer) -> int:
    """Checks the metrics of steps ``first_step``, ``first_step + 1``, ... one by one, so a
    non-finite loss or gradient stops training naming the step where it happened.

    Returns the number of steps skipped in a row (``train.skip_nonfinite``) up to the
    last of them, counting on from ``skipped_in_a_row``; stops at MAX_SKIPPED_IN_A_ROW.
    """
    for step, metrics in enumerate(values, start=first_step):
        ensure_finite(step, metrics, TRAIN_CHECKED, checkpointer)
        skipped_in_a_row = skipped_in_a_row + 1 if metrics.get("skipped") else 0
        if skipped_in_a_row >= MAX_SKIPPED_IN_A_ROW:
            raise TrainingDiverged(
                f"steps {step - skipped_in_a_row + 1} to {step}: {skipped_in_a_row} steps in a row had a "
                f"non-finite loss, gradient or update and were skipped; {kept_checkpoint(checkpointer)}. "
                "Lower --config.train.learning_rate or set --config.train.grad_clip, then run the same command to resume"
            )
    return skipped_in_a_row


def interval_means(values: list[dict]) -> dict[str, float]:
    """One logging interval's training scalars from its per-step metrics: each metric's mean over
    the steps that were not skipped (the learning rate's over all of them) and, with
    ``train.skip_nonfinite``, ``skipped``: the number of skipped steps."""
    kept = [m for m in values if not m.get("skipped")]
    names = [name for name in values[0] if name not in ("learning_rate", "skipped")]
    scalars = {name: float(np.mean([m[name] for m in kept])) for name in names} if kept else {}
    scalars["learning_rate"] = float(np.mean([m["learning_rate"] for m in values]))
    if "skipped" in values[0]:
        scalars["skipped"] = float(len(values) - len(kept))
    return scalars


class Trainer:
    """Holds one run's static pieces; :meth:`run` trains to ``train.num_steps``.

    The state and every batch are split over the devices of :func:`~rnngen.devices.data_mesh`;
    with several processes, each runs a Trainer and only process 0 writes metrics and holds the lock.
    """

    def __init__(self, config, workdir: str, data: PreparedData | None = None,
                 release_memory: Callable[[], object] = no_memory_release):
        self.config = config
        self.workdir = workdir
        self.release_memory = release_memory  # called after compiling (the command: malloc_trim)
        # one training run per workdir; taken before anything is written
        self.lock = WorkdirLock(workdir) if is_main_process() else NoLock()
        self.checkpointer = None
        try:
            self.checkpointer = Checkpointer(workdir, keep=config.train.keep_checkpoints, cleanup=True)
            self.start_or_resume(data)
        except BaseException:
            if self.checkpointer is not None:  # Orbax's threads, left open, would report at interpreter exit
                self.checkpointer.close()
            self.lock.release()
            raise

    def start_or_resume(self, data: PreparedData | None = None) -> None:
        """Builds the run's pieces from the newest good checkpoint, or fresh ones without any.

        ``data`` is the run's corpus as :func:`~rnngen.train.preflight.preflight` prepared
        it (loaded here when None).

        Corrupt newer checkpoints are moved to WORKDIR/corrupt_checkpoints, with a warning.
        """
        config = self.config
        checkpoints = GoodCheckpoints(self.checkpointer, self.checkpointer.steps()[::-1])  # newest first
        found = checkpoints.meta()
        if found is None and checkpoints.bad:
            raise no_good_checkpoint(self.checkpointer, checkpoints.bad, NO_GOOD_CHECKPOINT_HINT)
        meta = found and found[1]
        resume_step = 0
        if meta is not None:
            check_resumable(config, config_from_meta(meta))
        data = data or prepare_data(config, meta and meta["tokenizer"])
        self.tokenizer, train_split, self.val_split, self.batcher = data
        self.chars_per_token = train_split.num_chars / max(len(train_split.ids) - 1, 1)
        self.prompt = sample_prompt(self.tokenizer, train_split.ids)
        self.setup = setup = build_setup(config, self.tokenizer.vocab_size)
        self.mesh = mesh = data_mesh()
        self.batch_sharding = rows_sharding(mesh, config.train.batch_size)
        shardings = state_shardings(setup.state, mesh, config.train.fsdp, config.train.fsdp_min_size)
        self.position = dict(FIRST_POSITION)
        if meta is not None:  # resume: the saved state and data position replace the fresh ones
            found = checkpoints.restore(lambda _: abstract_state(setup.state, shardings))
            if found is None:
                raise no_good_checkpoint(self.checkpointer, checkpoints.bad, NO_GOOD_CHECKPOINT_HINT)
            resume_step, meta, self.state = found
            set_aside_corrupt(self.checkpointer, checkpoints.bad, resume_step)
            self.position = meta["data_position"]
        else:
            self.state = place(setup.state, shardings)
        train_step = make_train_step(setup.loss_fn, setup.optimizer, setup.schedule, config.train.skip_nonfinite)
        self.jitted_train_step = keep_state_shardings(train_step, shardings, mesh)
        window = dispatch_window()  # one bound on the train and evaluation steps in flight together
        self.train_step = window.pace(self.jitted_train_step, watched=1)
        self.eval_step = sharded_eval_step(make_eval_step(setup.loss_fn), mesh, config.train.eval_batch_size, window)
        self.eval_carry = zero_carry_on(setup.model, config.train.eval_batch_size, mesh)
        self.writer = MetricWriter(self.workdir, start_step=resume_step) if is_main_process() else NoWriter()

    def next_batch(self) -> dict[str, jax.Array]:
        """The batch at the data position (:meth:`batch_at`); advances the position."""
        batch = self.batch_at(self.position)
        self.position = self.batcher.next_position(self.position)
        return batch

    def batch_at(self, position: dict) -> dict[str, jax.Array]:
        """The batch at ``position``: inputs, targets int32 [batch, seq_len] (streams split over the
        devices; each process places its own), reset bool [] (replicated)."""
        windows, starts_stream = self.batcher.window(position)  # the global window, on every process
        return {
            "inputs": place_rows(windows[:, :-1], self.batch_sharding),
            "targets": place_rows(windows[:, 1:], self.batch_sharding),
            "reset": place_rows(np.asarray(starts_stream), replicated(self.mesh)),
        }

    skipped_in_a_row = 0  # steps skipped by train.skip_nonfinite up to the last log

    def log_train(self, step: int, pending: list, since: float, bar) -> None:
        """Checks the metrics of each step since the last log (at time ``since``), averages and writes them."""
        values = jax.device_get(pending)  # waits for the dispatched steps, so the timing is real
        elapsed = time.perf_counter() - since
        self.skipped_in_a_row = check_steps(step - len(values) + 1, values, self.skipped_in_a_row, self.checkpointer)
        scalars = interval_means(values)
        if "loss" in scalars:  # absent when every step of the interval was skipped
            scalars["bits_per_token"] = scalars["loss"] / math.log(2.0)
            scalars["bpc"] = scalars["bits_per_token"] / self.chars_per_token  # the training split's average
        scalars["tokens_per_second"] = len(values) * self.config.train.batch_size * self.config.train.seq_len / elapsed
        self.writer.write_scalars(step, scalars, "train")
        bar.set_postfix(loss=f"{scalars.get('loss', math.nan):.3f}", tok_s=f"{scalars['tokens_per_second']:.0f}")

    def generate_sample(self, step: int) -> str:
        """A short sample at the configured temperature, seeded by the step."""
        prompt_ids = np.asarray(self.tokenizer.encode(self.prompt), np.int32)[None, :]
        key = jax.random.fold_in(jax.random.PRNGKey(self.config.seed), step)
        carry, key, prompt_ids = place((self.setup.model.zero_carry(1), key, prompt_ids), replicated(self.mesh))
        ids = sample(
            self.setup.apply_fn, self.state.params, carry, key, prompt_ids,
            self.config.train.sample_length, temperature=self.config.train.sample_temperature,
            banned_id=self.tokenizer.unk_id,
        )
        return self.prompt + self.tokenizer.decode(fetch(ids)[0])

    def evaluate_and_sample(self, step: int) -> dict[str, float]:
        """Metrics over the whole validation split, and a sample; both written and shown."""
        metrics = evaluate(
            self.eval_step, self.state.params, self.eval_carry, self.val_split,
            self.config.train.eval_batch_size, self.config.train.seq_len, self.tokenizer.unk_id,
        )
        self.writer.write_scalars(step, metrics, "validation")
        text = self.generate_sample(step)
        self.writer.write_text(step, "sample", text)
        self.release_memory()  # what compiling the evaluation step and the sampler freed
        if is_main_process():
            tqdm.write(
                f"step {step}: validation loss {metrics['loss']:.4f} nats/token, {metrics['bpc']:.4f} bpc, "
                f"perplexity {metrics['perplexity']:.3f}\n--- sample ---\n{text}\n--------------"
            )
        return metrics

    def save(self, step: int, step_metrics: dict, val_loss: float | None) -> None:
        """Checkpoints the current state, unless its loss, gradient or validation loss is not finite."""
        scalars = {name: float(value) for name, value in jax.device_get(step_metrics).items()}
        if val_loss is not None:
            scalars["validation loss"] = val_loss
        ensure_finite(step, scalars, ("loss", "grad_norm", "validation loss"), self.checkpointer)
        meta = make_meta(self.config, self.tokenizer.to_json(), self.position)
        last_saved = self.checkpointer.latest_step()
        try:
            self.checkpointer.save(self.state, meta, val_loss)
        except Exception as error:  # a full disk is the user's to fix; anything else is a bug
            reason = disk_full_reason(error)
            if reason is None:
                raise
            raise DiskFull(disk_full_message(step, "writing its checkpoint", reason, last_saved)) from error

    def interrupted(self, step: int, signal_name: str) -> TrainingInterrupted:
        """The stop after ``signal_name``, once ``step`` is logged and checkpointed."""
        return TrainingInterrupted(
            f"stopped by {signal_name} after step {step}; its checkpoint is saved in "
            f"{self.checkpointer.step_path(step)}; run the same command to resume", signal_name,
        )

    def run(self) -> dict[str, float]:
        """Trains from the current step to ``train.num_steps``; returns the last validation metrics.

        SIGTERM or SIGINT stops training once the step in flight is logged and checkpointed
        (TrainingInterrupted); a full disk stops it with a DiskFull naming the intact checkpoint.
        """
        cfg = self.config.train
        step = int(jax.device_get(self.state.step))
        if step >= cfg.num_steps:
            if is_main_process():
                tqdm.write(f"already trained to step {step} (train.num_steps={cfg.num_steps}); raise it to go on")
            return {}
        bar = tqdm(total=cfg.num_steps, initial=step, desc="train", unit="step", dynamic_ncols=True, mininterval=1.0,
                   disable=not is_main_process())
        current_step = lambda: int(jax.device_get(self.state.step))  # noqa: E731
        try:
            with StopSignals() as stop, disk_full_stops(current_step, self.checkpointer.latest_step,
                                                        f"writing to {self.workdir}"):
                return self.train_steps(step, bar, stop)
        finally:
            bar.close()  # first, so that a message starts on a line of its own

    def train_steps(self, step: int, bar, stop: StopSignals) -> dict[str, float]:
        """The loop from ``step``: train, log, evaluate, checkpoint; returns the last validation metrics."""
        cfg = self.config.train
        metrics, pending = {}, []
        # compiled before the first step, so the compiler's freed memory can be released first
        self.jitted_train_step.lower(self.state, self.batch_at(self.position), self.step_key(step)).compile()
        self.release_memory()
        last_log = time.perf_counter()
        while step < cfg.num_steps:
            key = self.step_key(step)
            self.state, step_metrics = self.train_step(self.state, self.next_batch(), key)
            pending.append(step_metrics)
            step += 1
            bar.update(1)
            # SIGTERM/SIGINT: finish this step, log and save it, stop (after the last step: just finish)
            signal_name = self.stop_request(stop, step)
            stopping = signal_name is not None and step < cfg.num_steps
            if step % cfg.log_every == 0 or step == cfg.num_steps or stopping:
                self.log_train(step, pending, last_log, bar)
                pending, last_log = [], time.perf_counter()
            evaluated = step % cfg.eval_every == 0 or step == cfg.num_steps
            if evaluated:
                metrics = self.evaluate_and_sample(step)
                self.state = self.state._replace(opt_state=after_evaluation(
                    self.state.opt_state, metrics["loss"], cfg.plateau_factor, cfg.plateau_patience))
            if step % cfg.checkpoint_every == 0 or step == cfg.num_steps or stopping:
                self.save(step, step_metrics, metrics["loss"] if evaluated else None)
            if evaluated:
                last_log = time.perf_counter()  # time spent evaluating is not training time
            if stopping:
                raise self.interrupted(step, signal_name)
        return metrics

    def step_key(self, step: int) -> jax.Array:
        """The RNG key of train step ``step`` (dropout)."""
        return jax.random.fold_in(self.state.rng, step)

    def stop_request(self, stop: StopSignals, step: int) -> str | None:
        """The signal that asks to stop after ``step``, or None. With several processes, every one
        must stop at the same step: they agree at each logging step (any process's signal counts)."""
        if jax.process_count() == 1:
            return stop.received
        return agree_on_stop(stop.received) if step % self.config.train.log_every == 0 else None

    def close(self) -> None:
        """Closes the writers and the checkpointer, and releases the workdir.

        A full disk while flushing the last metrics is a warning, not a second error.
        """
        try:
            self.writer.close()
        except OSError as error:
            if disk_full_reason(error) is None:
                raise
            warn(f"the last metrics could not be written to {self.workdir} ({disk_full_reason(error)})")
        finally:
            self.checkpointer.close()
            self.lock.release()


def train_and_evaluate(config, workdir: str, release_memory: Callable[[], object] = no_memory_release) -> dict[str, float]:
    """Trains (or resumes) the run in ``workdir``; returns the final validation metrics.

    ``release_memory`` is called after each compilation (the ``rnngen`` command passes
    :func:`rnngen.runtime.memory.release_freed_memory`).

    Every check of the user's input (settings, workdir, model pieces, resume
    compatibility, corpus) runs before anything is written, so a mistake leaves the
    workdir as it was (or not there at all).
    """
    validate_config(config)
    absolutize_paths(config)
    initialize_distributed(config)  # before anything touches a device
    data = preflight(config, workdir)
    os.makedirs(workdir, exist_ok=True)
    trainer = Trainer(config, workdir, data, release_memory)
    try:
        return trainer.run()
    finally:
        trainer.close()
