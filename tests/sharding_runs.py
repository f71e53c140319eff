"""The runs behind tests/test_sharding.py, one phase per process (the device count is fixed at JAX's start).

    XLA_FLAGS=--xla_force_host_platform_device_count=8 python tests/sharding_runs.py eight ROOT

Phases, in this order (each uses the workdirs of the ones before it):

- ``one`` (1 device): trains ROOT/one for 20 steps; samples from it.
- ``eight`` (8 devices): trains ROOT/eight, and ROOT/fsdp with train.fsdp, for 20 steps; resumes a
  copy of ROOT/one to step 30 (ROOT/one_to_eight); samples from ROOT/one; records the shardings
  of the state before and after one more step, and of a batch.
- ``back`` (1 device): resumes a copy of ROOT/eight to step 30 (ROOT/eight_to_one); evaluates
  ROOT/fsdp (written with train.fsdp on 8 devices).

Each writes ROOT/PHASE.json: the samples, and the shardings it saw. Training goes through the
real command (``rnngen.cli.main``).
"""

import json
import os
import shutil
import sys

import jax
import numpy as np

from rnngen import cli
from helpers import cli_overrides

# eval_batch_size 16: evaluation runs the wavefront schedule (rnngen.models.wavefront.MIN_BATCH)
STEPS = {"train.batch_size": 8, "train.eval_batch_size": 16, "train.num_steps": 20, "train.eval_every": 10,
         "train.checkpoint_every": 10, "train.sample_length": 10}
SAMPLE_ROWS = (8, 3)  # 8 rows are split over 8 devices; 3 are not (replicated)


def train(root: str, workdir: str, **changes) -> None:
    args = ["train", "--config", "configs/stdlib_char.py:quick", "--workdir", os.path.join(root, workdir),
            *cli_overrides(os.path.join(root, "corpus.txt"), **{**STEPS, **changes})]
    status = cli.main(args)
    assert status == 0, f"rnngen {' '.join(args)} exited with {status}"


def resume_copy(root: str, source: str, target: str) -> None:
    """Copies workdir ``source`` to ``target`` and trains it on to step 30."""
    shutil.copytree(os.path.join(root, source), os.path.join(root, target))
    train(root, target, **{"train.num_steps": 30})


def samples(root: str) -> dict:
    """Texts sampled from ROOT/one: {rows: [texts]} for each of SAMPLE_ROWS."""
    import rnngen

    model = rnngen.load(os.path.join(root, "one"))
    return {str(n): model.generate_many("KING", 40, num_samples=n, temperature=1.0, seed=3) for n in SAMPLE_ROWS}


def specs(tree) -> list[str]:
    return [str(leaf.sharding.spec) for leaf in jax.tree_util.tree_leaves(tree)]


def trainer_shardings(root: str, workdir: str) -> dict:
    """The state's shardings after one more step of ``workdir``'s run (not saved), and the batch's."""
    from rnngen.checkpoints.manager import Checkpointer, config_from_meta
    from rnngen.train.loop import Trainer

    checkpointer = Checkpointer(os.path.join(root, workdir), create=False)
    config = config_from_meta(checkpointer.restore_meta(checkpointer.latest_step()))
    checkpointer.close()
    trainer = Trainer(config, os.path.join(root, workdir))
    try:
        before = specs(trainer.state)
        batch = trainer.next_batch()
        state, _ = trainer.train_step(trainer.state, batch, jax.random.PRNGKey(0))
        return {"before": before, "after": specs(state), "batch": str(batch["inputs"].sharding.spec),
                "carry": specs(state.carry), "params": specs(state.params)}
    finally:
        trainer.close()


def main(phase: str, root: str) -> None:
    result = {"devices": jax.device_count()}
    if phase == "one":
        train(root, "one")
        result["samples"] = samples(root)
    elif phase == "eight":
        train(root, "eight")
        train(root, "fsdp", **{"train.fsdp": True, "train.fsdp_min_size": 64})
        resume_copy(root, "one", "one_to_eight")
        result["samples"] = samples(root)
        result["replicated"] = trainer_shardings(root, "eight")
        result["fsdp"] = trainer_shardings(root, "fsdp")
    else:
        import rnngen

        resume_copy(root, "eight", "eight_to_one")
        result["fsdp_validation_loss"] = rnngen.load(os.path.join(root, "fsdp")).evaluate()["loss"]
    with open(os.path.join(root, f"{phase}.json"), "w", encoding="utf-8") as f:
        json.dump(result, f)
    np.testing.assert_equal(result["devices"], 8 if phase == "eight" else 1)


if __name__ == "__main__":
    main(*sys.argv[1:])
