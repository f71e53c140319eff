"""Training end to end in-process: checkpoints, resume equality, metrics and events."""

import glob
import json
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnngen
from helpers import read_metrics, tiny_config
from rnngen.errors import TrainingDiverged, UsageError
from rnngen.checkpoints.fallback import GoodCheckpoints
from rnngen.checkpoints.integrity import DIGEST_KEYS, CorruptCheckpoint
from rnngen.checkpoints.manager import Checkpointer
from rnngen.train.loop import train_and_evaluate
from rnngen.train.train import abstract_state, build_setup


def assert_trees_equal(a, b):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_checkpoint_round_trip(tmp_path, tiny_corpus):
    config = tiny_config(tiny_corpus)
    state = build_setup(config, vocab_size=20).state
    checkpointer = Checkpointer(str(tmp_path))
    meta = {"config": {"a": 1}, "tokenizer": {"type": "char", "chars": "ab"}, "data_position": {"epoch": 2, "batch": 5}}
    checkpointer.save(state, meta, val_loss=1.5)
    restored = checkpointer.restore_state(0, abstract_state(state))
    assert_trees_equal(restored, state)
    assert type(restored.opt_state) is type(state.opt_state)
    assert checkpointer.restore_meta(0) == meta
    checkpointer.close()


def test_a_checkpoint_whose_meta_has_no_digests_is_corrupt(tmp_path, tiny_corpus):
    """Such a meta (as written before the digests existed) is skipped like any corrupt checkpoint."""
    state = build_setup(tiny_config(tiny_corpus), vocab_size=20).state
    checkpointer = Checkpointer(str(tmp_path))
    meta = {"config": {}, "tokenizer": {}, "data_position": {}}
    for step in (1, 2):
        checkpointer.save(state._replace(step=np.int32(step)), meta)
    path = os.path.join(checkpointer.step_path(2), "meta", "metadata")
    with open(path) as f:
        saved = json.load(f)
    with open(path, "w") as f:
        json.dump({key: value for key, value in saved.items() if key not in DIGEST_KEYS}, f)
    with pytest.raises(CorruptCheckpoint, match=r"step 2 .* unreadable: ValueError: the meta item lacks state_sha256, "
                                                r"params_sha256, meta_sha256$"):
        checkpointer.restore_checked_meta(2)
    walker = GoodCheckpoints(checkpointer, checkpointer.candidates("latest"))
    assert walker.meta()[0] == 1 and [bad.step for bad in walker.bad] == [2]
    checkpointer.close()


def test_keeps_the_latest_and_the_best(tmp_path, tiny_corpus):
    state = build_setup(tiny_config(tiny_corpus), vocab_size=20).state
    checkpointer = Checkpointer(str(tmp_path), keep=2)
    for step, val_loss in [(1, 2.0), (2, 1.0), (3, 3.0), (4, 4.0), (5, None)]:
        checkpointer.save(state._replace(step=np.int32(step)), {}, val_loss)
    assert sorted(checkpointer.manager.all_steps()) == [2, 4, 5]
    assert checkpointer.best_step() == 2 and checkpointer.latest_step() == 5
    assert checkpointer.resolve("best") == 2 and checkpointer.resolve("4") == 4
    with pytest.raises(UsageError, match="available steps: 2, 4, 5"):
        checkpointer.resolve("3")
    checkpointer.close()


def test_resumed_run_equals_uninterrupted_run(tmp_path, tiny_corpus):
    config = tiny_config(tiny_corpus, **{"model.dropout": 0.2})
    straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
    train_and_evaluate(config, straight)
    train_and_evaluate(tiny_config(tiny_corpus, **{"model.dropout": 0.2, "train.num_steps": 3}), resumed)
    train_and_evaluate(config, resumed)  # picks up at step 3
    a, b = rnngen.load(straight), rnngen.load(resumed)
    assert a.step == b.step == 6
    assert_trees_equal(a.trained.params, b.trained.params)
    losses = lambda workdir: [(r["step"], r["loss"]) for r in read_metrics(workdir, "train")]
    assert losses(straight) == losses(resumed)
    assert [r["step"] for r in read_metrics(resumed, "train")] == list(range(1, 7))


def test_writes_metrics_samples_and_tensorboard_events(tmp_path, tiny_corpus):
    workdir = str(tmp_path)
    final = train_and_evaluate(tiny_config(tiny_corpus), workdir)
    train = read_metrics(workdir, "train")
    assert {"loss", "bpc", "perplexity", "grad_norm", "learning_rate", "tokens_per_second"} <= set(train[0])
    assert np.isclose(train[0]["bpc"], train[0]["loss"] / np.log(2), rtol=1e-5)
    validation = read_metrics(workdir, "validation")
    assert [r["step"] for r in validation] == [3, 6] and validation[-1]["loss"] == pytest.approx(final["loss"])
    samples = read_metrics(workdir, "sample")
    assert len(samples) == 2 and len(samples[0]["text"]) > 20
    events = glob.glob(os.path.join(workdir, "tensorboard", "events.out.tfevents.*"))
    assert events and os.path.getsize(events[0]) > 0
    from tensorboard_reader import scalar_tags

    assert {"train/loss", "validation/bpc"} <= scalar_tags(events[0])


def test_resume_with_a_different_model_is_refused(tmp_path, tiny_corpus):
    train_and_evaluate(tiny_config(tiny_corpus, **{"train.num_steps": 3}), str(tmp_path))
    with pytest.raises(UsageError, match="trained with model.hidden_size=16, not 32"):
        train_and_evaluate(tiny_config(tiny_corpus, **{"model.hidden_size": 32}), str(tmp_path))
    with pytest.raises(UsageError, match="trained with train.batch_size=4, not 8"):
        train_and_evaluate(tiny_config(tiny_corpus, **{"train.batch_size": 8}), str(tmp_path))


def test_a_diverging_run_stops_naming_the_step_and_keeps_the_last_checkpoint(tmp_path, tiny_corpus):
    workdir = str(tmp_path)
    train_and_evaluate(tiny_config(tiny_corpus, **{"train.num_steps": 3}), workdir)
    exploding = tiny_config(tiny_corpus, **{"train.learning_rate": float("inf")})  # NaN parameters at once
    with pytest.raises(TrainingDiverged, match=r"step \d+: (loss|grad_norm) is (nan|inf).*step 3 is intact"):
        train_and_evaluate(exploding, workdir)
    checkpointer = Checkpointer(workdir)
    assert checkpointer.manager.all_steps() == [3]
    checkpointer.close()
    assert rnngen.load(workdir).step == 3


def test_an_interrupted_run_logs_every_step_once_after_resuming(tmp_path, tiny_corpus):
    workdir = str(tmp_path)
    train_and_evaluate(tiny_config(tiny_corpus, **{"train.num_steps": 5}), workdir)  # checkpoints 3 and 5
    shutil.rmtree(os.path.join(workdir, "checkpoints", "5"))  # as if killed after logging steps 4-5
    train_and_evaluate(tiny_config(tiny_corpus), workdir)
    assert [r["step"] for r in read_metrics(workdir, "train")] == [1, 2, 3, 4, 5, 6]
    assert [r["step"] for r in read_metrics(workdir, "validation")] == [3, 6]


def halved_forget_gate_step(self, carry, x_t):
    """LSTMCell.step as a researcher might edit it: the forget gate halved."""
    h, c = carry
    i, f, g, o = jax.numpy.split(x_t + h @ self.w_hh[...], 4, axis=-1)
    c = 0.5 * jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jax.numpy.tanh(g)
    h = jax.nn.sigmoid(o) * jax.numpy.tanh(c)
    return (h, c), h


def train_losses(tmp_path, tiny_corpus, name: str, recurrence: str) -> list[float]:
    config = tiny_config(tiny_corpus, **{"train.num_steps": 4, "train.eval_every": 4, "model.recurrence": recurrence})
    train_and_evaluate(config, str(tmp_path / name))
    return [r["loss"] for r in read_metrics(str(tmp_path / name), "train")]


@pytest.mark.slow  # four training runs
def test_an_edit_of_a_built_in_step_trains_under_scan_and_fused_runs_the_same_math(tmp_path, tiny_corpus, monkeypatch):
    """model.recurrence=scan runs the cell's step; fused runs the hand-written form of the unedited math."""
    from rnngen.models import LSTMCell

    scan, fused = train_losses(tmp_path, tiny_corpus, "scan", "scan"), train_losses(tmp_path, tiny_corpus, "fused", "fused")
    np.testing.assert_allclose(fused, scan, rtol=1e-5)
    monkeypatch.setattr(LSTMCell, "step", halved_forget_gate_step)
    edited_scan = train_losses(tmp_path, tiny_corpus, "edited_scan", "scan")
    edited_fused = train_losses(tmp_path, tiny_corpus, "edited_fused", "fused")
    assert not np.allclose(edited_scan, scan, rtol=1e-4)
    np.testing.assert_allclose(edited_fused, fused, rtol=1e-6)


def test_fused_for_a_cell_without_a_fused_form_is_a_one_line_error(tmp_path, tiny_corpus):
    from rnngen.models import RecurrentCell, register_cell

    @register_cell("test_training_plain_cell")
    class PlainCell(RecurrentCell):
        def __init__(self, input_size, hidden_size, *, rngs):
            self.hidden_size = hidden_size
            self.w = jax.numpy.ones((input_size, hidden_size))

        def project_inputs(self, xs):
            return xs @ self.w

        def step(self, h, x_t):
            return h + x_t, h + x_t

    config = tiny_config(tiny_corpus, **{"model.cell": "test_training_plain_cell", "model.recurrence": "fused"})
    with pytest.raises(UsageError, match="has no fused form"):
        train_and_evaluate(config, str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_the_plateau_schedule_divides_the_rate_when_validation_stops_improving():
    from rnngen.train.optimizer import PlateauState, after_evaluation, learning_rate_scale

    state = PlateauState(jnp.ones((), jnp.float32), jnp.full((), jnp.inf, jnp.float32), jnp.zeros((), jnp.int32))
    scales = []
    for val_loss in (3.0, 2.5, 2.6, 2.4, 2.45, 2.5):  # better, better, worse (cut), better, worse (cut), worse (cut)
        state = after_evaluation((state,), val_loss, factor=4.0, patience=0)[0]
        scales.append(float(learning_rate_scale((state,))))
    assert scales == [1.0, 1.0, 0.25, 0.25, 0.0625, 0.015625] and float(state.best) == pytest.approx(2.4)
    patient = PlateauState(jnp.ones(()), jnp.full((), 2.0), jnp.zeros((), jnp.int32))
    patient = after_evaluation(patient, 2.1, 2.0, patience=1)
    assert float(patient.scale) == 1.0 and int(patient.bad_evals) == 1
    assert float(after_evaluation(patient, 2.2, 2.0, patience=1).scale) == 0.5


def test_a_plateau_run_resumes_exactly(tmp_path, tiny_corpus):
    """A learning rate so high that validation worsens: the cuts it makes before step 3 are saved in the
    checkpoint, and the resumed run's steps 4 to 6 train at the cut rate, as the straight run's do."""
    changes = {"train.schedule": "plateau", "train.learning_rate": 4.0, "train.optimizer": "sgd", "train.eval_every": 1}
    straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
    train_and_evaluate(tiny_config(tiny_corpus, **changes), straight)
    train_and_evaluate(tiny_config(tiny_corpus, **changes, **{"train.num_steps": 3}), resumed)
    train_and_evaluate(tiny_config(tiny_corpus, **changes), resumed)
    rates = lambda workdir: [(r["step"], r["learning_rate"], r["loss"]) for r in read_metrics(workdir, "train")]
    assert rates(straight) == rates(resumed)
    assert len({rate for _, rate, _ in rates(straight)}) > 1, rates(straight)  # the rate was cut
