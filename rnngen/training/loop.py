"""The training loop: ``train_and_evaluate(config, workdir)``, split into named pieces."""

from __future__ import annotations

import math
import os
import time
from typing import Any

import jax
import numpy as np
from tqdm.auto import tqdm

from rnngen.data.batching import TBPTTBatcher
from rnngen.data.corpus import encode_split, load_corpus
from rnngen.errors import TrainingDiverged
from rnngen.sampling import sample
from rnngen.training.checkpointing import Checkpointer, config_from_meta, make_meta
from rnngen.training.evaluation import evaluate
from rnngen.training.metrics_writer import MetricWriter
from rnngen.training.run_checks import absolutize_paths, check_resumable, validate_config
from rnngen.training.setup import abstract_state, build_setup
from rnngen.training.steps import make_eval_step, make_train_step

FIRST_POSITION = {"epoch": 0, "batch": 0}


def sample_prompt(tokenizer, train_ids: np.ndarray) -> str:
    """The prompt of evaluation samples: a newline if it is a known token, else the corpus' first token."""
    if len(tokenizer.encode("\n")) == 1 and not tokenizer.unknown_tokens("\n"):
        return "\n"
    return tokenizer.decode(train_ids[:1])


def ensure_finite(step: int, scalars: dict[str, float], names: tuple[str, ...], checkpointer: Checkpointer) -> None:
    """Stops training with a clear message when one of ``names`` is NaN or infinite."""
    bad = [name for name in names if name in scalars and not np.isfinite(scalars[name])]
    if bad:
        last_saved = checkpointer.latest_step()
        kept = "no checkpoint was saved yet" if last_saved is None else f"the checkpoint of step {last_saved} is intact"
        raise TrainingDiverged(
            f"step {step}: {bad[0]} is {scalars[bad[0]]}; {kept}. Lower --config.train.learning_rate "
            "or set --config.train.grad_clip, then run the same command to resume"
        )


class Trainer:
    """Holds one run's static pieces; :meth:`run` trains to ``train.num_steps``."""

    def __init__(self, config, workdir: str):
        self.config = config
        self.workdir = workdir
        self.checkpointer = Checkpointer(workdir, keep=config.train.keep_checkpoints)
        resume_step = self.checkpointer.latest_step()
        meta = None if resume_step is None else self.checkpointer.restore_meta(resume_step)
        if meta is not None:
            check_resumable(config, config_from_meta(meta))
        self.tokenizer, texts = load_corpus(config.data, config.tokenizer, meta and meta["tokenizer"])
        train_split = encode_split(self.tokenizer, texts["train"])
        self.chars_per_token = train_split.num_chars / max(len(train_split.ids) - 1, 1)
        self.prompt = sample_prompt(self.tokenizer, train_split.ids)
        self.batcher = TBPTTBatcher(train_split.ids, config.train.batch_size, config.train.seq_len, config.seed)
        self.val_split = encode_split(self.tokenizer, texts["validation"])
        self.setup = setup = build_setup(config, self.tokenizer.vocab_size)
        self.state, self.position = setup.state, dict(FIRST_POSITION)
        if meta is not None:  # resume: the saved state and data position replace the fresh ones
            self.state = self.checkpointer.restore_state(resume_step, abstract_state(setup.state))
            self.position = meta["data_position"]
        self.train_step = make_train_step(setup.loss_fn, setup.optimizer, setup.schedule)
        self.eval_step = make_eval_step(setup.loss_fn)
        self.eval_carry = setup.model.zero_carry(config.train.eval_batch_size)
        self.writer = MetricWriter(workdir, start_step=resume_step or 0)

    def next_batch(self) -> dict[str, np.ndarray]:
        """The next batch: inputs, targets int32 [batch, seq_len], reset bool []; advances the data position."""
        windows, starts_stream = self.batcher.window(self.position)
        self.position = self.batcher.next_position(self.position)
        return {"inputs": windows[:, :-1], "targets": windows[:, 1:], "reset": np.asarray(starts_stream)}

    def log_train(self, step: int, pending: list, since: float, bar) -> None:
        """Averages the metrics of the steps since the last log (at time ``since``) and writes them."""
        values = jax.device_get(pending)  # waits for the dispatched steps, so the timing is real
        elapsed = time.perf_counter() - since
        scalars = {name: float(np.mean([m[name] for m in values])) for name in values[0]}
        ensure_finite(step, scalars, ("loss", "grad_norm"), self.checkpointer)
        scalars["bits_per_token"] = scalars["loss"] / math.log(2.0)
        scalars["bpc"] = scalars["bits_per_token"] / self.chars_per_token  # the training split's average
        scalars["tokens_per_second"] = len(values) * self.config.train.batch_size * self.config.train.seq_len / elapsed
        self.writer.write_scalars(step, scalars, "train")
        bar.set_postfix(loss=f"{scalars['loss']:.3f}", tok_s=f"{scalars['tokens_per_second']:.0f}")

    def generate_sample(self, step: int) -> str:
        """A short sample at the configured temperature, seeded by the step."""
        prompt_ids = np.asarray(self.tokenizer.encode(self.prompt), np.int32)[None, :]
        key = jax.random.fold_in(jax.random.PRNGKey(self.config.seed), step)
        ids = sample(
            self.setup.apply_fn, self.state.params, self.setup.model.zero_carry(1), key, prompt_ids,
            self.config.train.sample_length, temperature=self.config.train.sample_temperature,
            banned_id=self.tokenizer.unk_id,
        )
        return self.prompt + self.tokenizer.decode(np.asarray(ids[0]))

    def evaluate_and_sample(self, step: int) -> dict[str, float]:
        """Metrics over the whole validation split, and a sample; both written and shown."""
        metrics = evaluate(
            self.eval_step, self.state.params, self.eval_carry, self.val_split,
            self.config.train.eval_batch_size, self.config.train.seq_len, self.tokenizer.unk_id,
        )
        self.writer.write_scalars(step, metrics, "validation")
        text = self.generate_sample(step)
        self.writer.write_text(step, "sample", text)
        tqdm.write(
            f"step {step}: validation loss {metrics['loss']:.4f} nats/token, "
            f"{metrics['bpc']:.4f} bpc, perplexity {metrics['perplexity']:.3f}\n--- sample ---\n{text}\n--------------"
        )
        return metrics

    def save(self, step: int, step_metrics: dict, val_loss: float | None) -> None:
        """Checkpoints the current state, unless its loss, gradient or validation loss is not finite."""
        scalars = {name: float(value) for name, value in jax.device_get(step_metrics).items()}
        if val_loss is not None:
            scalars["validation loss"] = val_loss
        ensure_finite(step, scalars, ("loss", "grad_norm", "validation loss"), self.checkpointer)
        meta = make_meta(self.config, self.tokenizer.to_json(), self.position)
        self.checkpointer.save(self.state, meta, val_loss)

    def run(self) -> dict[str, float]:
        """Trains from the current step to ``train.num_steps``; returns the last validation metrics."""
        cfg = self.config.train
        step = int(jax.device_get(self.state.step))
        if step >= cfg.num_steps:
            tqdm.write(f"already trained to step {step} (train.num_steps={cfg.num_steps}); raise it to go on")
            return {}
        metrics, pending = {}, []
        bar = tqdm(total=cfg.num_steps, initial=step, desc="train", unit="step", dynamic_ncols=True, mininterval=1.0)
        last_log = time.perf_counter()
        while step < cfg.num_steps:
            key = jax.random.fold_in(self.state.rng, step)
            self.state, step_metrics = self.train_step(self.state, self.next_batch(), key)
            pending.append(step_metrics)
            step += 1
            bar.update(1)
            if step % cfg.log_every == 0 or step == cfg.num_steps:
                self.log_train(step, pending, last_log, bar)
                pending, last_log = [], time.perf_counter()
            evaluated = step % cfg.eval_every == 0 or step == cfg.num_steps
            if evaluated:
                metrics = self.evaluate_and_sample(step)
            if step % cfg.checkpoint_every == 0 or step == cfg.num_steps:
                self.save(step, step_metrics, metrics["loss"] if evaluated else None)
            if evaluated:
                last_log = time.perf_counter()  # time spent evaluating is not training time
        bar.close()
        return metrics

    def close(self) -> None:
        self.writer.close()
        self.checkpointer.close()


def train_and_evaluate(config, workdir: str) -> dict[str, float]:
    """Trains (or resumes) the run in ``workdir``; returns the final validation metrics."""
    validate_config(config)
    absolutize_paths(config)
    os.makedirs(workdir, exist_ok=True)
    trainer = Trainer(config, workdir)
    try:
        return trainer.run()
    finally:
        trainer.close()
