"""Guarded training: a non-finite step stops the run naming that step, or, with
train.skip_nonfinite, is skipped with the state kept as it was."""

import jax
import numpy as np
import pytest

import rnngen
from helpers import read_metrics, tiny_config
from rnngen.errors import TrainingDiverged
from rnngen.train import loop
from rnngen.checkpoints.manager import Checkpointer
from rnngen.train.loop import train_and_evaluate
from rnngen.train.train import abstract_state, build_setup

# Finite in Python (and in the saved config's JSON) but infinite in float32: every Adam update overflows.
OVERFLOWING_LR = 1e39
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")


def assert_trees_equal(a, b):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def saved_state(workdir: str, step: int):
    """The whole train state saved at ``step``."""
    model = rnngen.load(workdir, step)
    fresh = build_setup(model.config, model.tokenizer.vocab_size).state
    checkpointer = Checkpointer(workdir, create=False)
    try:
        return checkpointer.restore_state(step, abstract_state(fresh))
    finally:
        checkpointer.close()


@pytest.fixture
def three_steps(tmp_path, tiny_corpus):
    """A workdir trained to step 3 (checkpoint 3)."""
    workdir = str(tmp_path / "run")
    train_and_evaluate(tiny_config(tiny_corpus, **{"train.num_steps": 3}), workdir)
    return workdir


def test_a_nonfinite_step_is_named_even_between_logs(three_steps, tiny_corpus):
    workdir = three_steps
    # Step 4 is finite but its update overflows, so step 5's loss is the first NaN; the log comes at step 6.
    exploding = tiny_config(tiny_corpus, **{"train.learning_rate": OVERFLOWING_LR, "train.log_every": 3})
    with pytest.raises(TrainingDiverged, match=r"^step 5: (loss|grad_norm) is (nan|inf); the checkpoint of step 3 is intact"):
        train_and_evaluate(exploding, workdir)
    checkpointer = Checkpointer(workdir, create=False)
    assert checkpointer.manager.all_steps() == [3]
    checkpointer.close()
    assert rnngen.load(workdir).step == 3
    assert [r["step"] for r in read_metrics(workdir, "train")] == [1, 2, 3]  # nothing logged from the bad steps


def test_skip_nonfinite_keeps_the_state_and_goes_on(three_steps, tiny_corpus):
    workdir = three_steps
    skipping = tiny_config(tiny_corpus, **{"train.learning_rate": OVERFLOWING_LR, "train.skip_nonfinite": True})
    train_and_evaluate(skipping, workdir)  # turned on when resuming: the state's structure is the same
    at_3, at_6 = saved_state(workdir, 3), saved_state(workdir, 6)
    assert int(at_6.step) == 6
    # Every update overflowed and none was applied: parameters, optimizer state and carry are step 3's.
    assert_trees_equal(at_6._replace(step=at_3.step), at_3)
    records = read_metrics(workdir, "train")
    assert [(r["step"], r.get("skipped")) for r in records] == [(1, None), (2, None), (3, None), (4, 1.0), (5, 1.0), (6, 1.0)]
    assert all(np.isfinite(r["loss"]) for r in read_metrics(workdir, "validation"))


def test_skip_nonfinite_gives_up_after_too_many_skipped_steps_in_a_row(three_steps, tiny_corpus, monkeypatch):
    workdir = three_steps
    monkeypatch.setattr(loop, "MAX_SKIPPED_IN_A_ROW", 2)
    skipping = tiny_config(tiny_corpus, **{"train.learning_rate": OVERFLOWING_LR, "train.skip_nonfinite": True})
    with pytest.raises(TrainingDiverged, match=r"^steps 4 to 5: 2 steps in a row .* skipped; the checkpoint of step 3 is intact"):
        train_and_evaluate(skipping, workdir)
