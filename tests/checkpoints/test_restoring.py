"""Restoring for inference: only the parameters are read, checked against their own digest, and
sampling imports nothing of the trainer."""

import json
import subprocess
import sys

import jax
import numpy as np
import pytest

import rnngen
from helpers import ENV, tiny_config
from rnngen.checkpoints.integrity import CorruptCheckpoint
from rnngen.checkpoints.manager import Checkpointer
from rnngen.train.loop import train_and_evaluate
from rnngen.train.train import abstract_state, build_setup

SAMPLE_IN_A_FRESH_PROCESS = """
import json, sys
import rnngen
model = rnngen.load(sys.argv[1])
text = model.generate_many("a", length=40, temperature=0.8, seed=3)[0]
print(json.dumps({"text": text, "trainer_modules": sorted(m for m in sys.modules if m.startswith("rnngen.train"))}))
"""


def test_a_loaded_model_holds_the_trained_parameters_and_samples_without_the_trainer(tmp_path, tiny_corpus):
    config = tiny_config(tiny_corpus, **{"train.num_steps": 3})
    workdir = str(tmp_path / "run")
    train_and_evaluate(config, workdir)
    loaded = rnngen.load(workdir)

    checkpointer = Checkpointer(workdir, create=False)
    setup = build_setup(config, loaded.tokenizer.vocab_size)
    full = checkpointer.restore_state(3, abstract_state(setup.state))
    checkpointer.close()
    for got, want in zip(jax.tree_util.tree_leaves(loaded.trained.params), jax.tree_util.tree_leaves(full.params),
                         strict=True):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))

    done = subprocess.run([sys.executable, "-c", SAMPLE_IN_A_FRESH_PROCESS, workdir], env=ENV,
                          capture_output=True, text=True, check=True)
    fresh = json.loads(done.stdout.strip().splitlines()[-1])
    assert fresh["trainer_modules"] == []
    assert fresh["text"] == loaded.generate_many("a", length=40, temperature=0.8, seed=3)[0]


def test_parameters_that_do_not_match_their_digest_are_corrupt(tmp_path, tiny_corpus):
    state = build_setup(tiny_config(tiny_corpus), vocab_size=20).state
    checkpointer = Checkpointer(str(tmp_path))
    meta = {"config": {}, "tokenizer": {}, "data_position": {}}
    checkpointer.save(state, meta)
    other_config = tiny_config(tiny_corpus)
    other_config.seed = 1
    other = build_setup(other_config, vocab_size=20).state
    checkpointer.save(other._replace(step=np.int32(1)), meta)
    sealed = checkpointer.restore_checked_meta(1)  # the digests of the seed-1 parameters
    abstract = abstract_state(state.params)
    np.testing.assert_array_equal(  # step 0 reads back as it was saved ...
        jax.tree_util.tree_leaves(checkpointer.restore_checked_params(0, abstract, checkpointer.restore_checked_meta(0)))[0],
        jax.tree_util.tree_leaves(state.params)[0])
    with pytest.raises(CorruptCheckpoint, match="step 0 .* the parameters do not match the digest saved with them"):
        checkpointer.restore_checked_params(0, abstract, sealed)  # ... and not as step 1's digests say
    checkpointer.close()
