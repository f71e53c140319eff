"""Data parallelism on 8 fake CPU devices (XLA_FLAGS=--xla_force_host_platform_device_count=8).

JAX is already started with one device in this process, so the runs happen in subprocesses
(tests/sharding_runs.py, one per device count), once per test session, shared by the tests here
(and by pytest-xdist workers, through a lock file).
"""

import fcntl
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from helpers import ENV, REPO, RNNGEN, cli_overrides, read_metrics, tree_snapshot
from processes import cluster_overrides, run_together

pytestmark = pytest.mark.slow  # real-command runs: the full suite, not the fast tier

RUNS = os.path.join(REPO, "tests", "sharding_runs.py")
EIGHT = "--xla_force_host_platform_device_count=8"
PHASES = (("one", ""), ("eight", EIGHT), ("back", ""))  # (phase, XLA_FLAGS), in order


def run(args: list[str], xla_flags: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": REPO, "XLA_FLAGS": xla_flags}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)


def run_phases(root) -> None:
    """Writes a small corpus in ``root`` and runs every phase of tests/sharding_runs.py there."""
    root.mkdir(parents=True, exist_ok=True)
    lines = [f"KING {i % 7}:\nTo be or not to be, that is the question {i % 13}.\n" for i in range(300)]
    (root / "corpus.txt").write_text("".join(lines), encoding="utf-8")
    for phase, xla_flags in PHASES:
        result = run([RUNS, phase, str(root)], xla_flags)
        assert result.returncode == 0, f"phase {phase} failed ({result.returncode}):\n{result.stderr[-3000:]}"


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    """The root of the shared runs; every phase done once per session, whichever worker comes first."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if worker else base) / "sharding_runs"
    with open(str(root) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "back.json").exists():
            run_phases(root)
    return root


def results(root, phase: str) -> dict:
    return json.loads((root / f"{phase}.json").read_text(encoding="utf-8"))


def losses(root, workdir: str) -> np.ndarray:
    return np.array([r["loss"] for r in read_metrics(str(root / workdir), "train")])


def test_training_on_8_devices_gives_the_losses_of_1_device(runs):
    one, eight = losses(runs, "one"), losses(runs, "eight")
    assert len(one) == len(eight) == 20
    np.testing.assert_allclose(eight, one, rtol=1e-5)
    validation = [[r["loss"] for r in read_metrics(str(runs / run), "validation")] for run in ("one", "eight")]
    assert len(validation[0]) == 2  # evaluated in the wavefront schedule (16 rows), 2 rows per device on 8
    np.testing.assert_allclose(validation[1], validation[0], rtol=1e-5)
    assert results(runs, "eight")["devices"] == 8 and results(runs, "one")["devices"] == 1


def test_streams_and_carry_are_split_and_the_state_keeps_its_shardings(runs):
    seen = results(runs, "eight")["replicated"]
    assert seen["batch"] == "P('data',)"
    assert set(seen["carry"]) == {"P('data',)"} and set(seen["params"]) == {"P()"}
    assert seen["after"] == seen["before"]


def test_fsdp_trains_as_replicated_with_large_arrays_split(runs):
    np.testing.assert_allclose(losses(runs, "fsdp"), losses(runs, "eight"), rtol=1e-5)
    seen = results(runs, "eight")["fsdp"]
    assert seen["after"] == seen["before"]
    split = [spec for spec in seen["params"] if "data" in spec]
    assert split and len(split) < len(seen["params"])  # the small ones stay replicated
    last_validation = read_metrics(str(runs / "fsdp"), "validation")[-1]["loss"]
    assert results(runs, "back")["fsdp_validation_loss"] == pytest.approx(last_validation, rel=1e-5)  # on 1 device


def test_checkpoints_move_between_1_and_8_devices_and_training_continues(runs):
    one_to_eight, eight_to_one = losses(runs, "one_to_eight"), losses(runs, "eight_to_one")
    assert len(one_to_eight) == len(eight_to_one) == 30
    np.testing.assert_allclose(one_to_eight[:20], losses(runs, "one"), rtol=1e-5)  # the copied history
    np.testing.assert_allclose(one_to_eight[20:], eight_to_one[20:], rtol=1e-5)  # steps 21-30 after the move
    assert sorted(os.listdir(runs / "one_to_eight" / "checkpoints"))[-1] == "30"


def test_sampling_on_8_devices_gives_the_text_of_1_device(runs):
    one, eight = results(runs, "one")["samples"], results(runs, "eight")["samples"]
    assert set(one) == {"8", "3"}  # 8 rows split over the devices, 3 replicated
    assert one == eight
    assert len(set(one["8"])) == 8 and all(text.startswith("KING") for text in one["8"])


def write_long_corpus(path) -> str:
    """About 367,000 characters: a validation split of about 290 evaluation windows of 8 x 8 tokens."""
    lines = [f"KING {i % 7}:\nTo be or not to be, that is the question {i % 13}, said {i % 101}.\n" for i in range(6000)]
    path.write_text("".join(lines), encoding="utf-8")
    return str(path)


LONG_RUN = {"train.batch_size": 8, "train.eval_batch_size": 8, "train.seq_len": 8, "train.num_steps": 8,
            "train.eval_every": 8, "train.checkpoint_every": 8}


def long_run(corpus: str, workdir, **more) -> list[str]:
    """The command of a short training run whose one evaluation queues about 290 steps."""
    return [*RNNGEN, "train", "--config", "configs/stdlib_char.py:quick", "--workdir", str(workdir),
            *cli_overrides(corpus, **LONG_RUN, **more)]


def run_on_devices(command: list[str], devices: int) -> None:
    env = {**ENV, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=REPO, env=env)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]


def assert_same_losses(tmp_path, run: str, reference: str) -> None:
    for split in ("train", "validation"):
        losses, expected = (read_metrics(str(tmp_path / name), split) for name in (run, reference))
        assert len(losses) == len(expected) > 0
        np.testing.assert_allclose([r["loss"] for r in losses], [r["loss"] for r in expected], rtol=1e-5)


def test_one_process_of_8_devices_evaluates_a_long_split_as_1_device(tmp_path):
    """One process of 8 CPU devices; its evaluation queues about 290 steps. Without the dispatch window
    (sharding.DispatchWindow) XLA's CPU client aborted there every time, in an all-gather that one of the
    8 devices never joined. Losses: those of one device."""
    corpus = write_long_corpus(tmp_path / "corpus.txt")
    run_on_devices(long_run(corpus, tmp_path / "eight"), 8)
    run_on_devices(long_run(corpus, tmp_path / "one"), 1)
    assert_same_losses(tmp_path, "eight", "one")


def test_two_processes_of_4_devices_each_train_and_evaluate_as_1_device(tmp_path):
    """Two jax.distributed processes of 4 CPU devices each, evaluating as the test above (the same
    window keeps them from aborting). Losses: those of one device."""
    corpus = write_long_corpus(tmp_path / "corpus.txt")
    cluster = cluster_overrides(2)
    env = {**ENV, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    commands = [long_run(corpus, tmp_path / "two", **cluster, **{"distributed.process_id": index}) for index in range(2)]
    for returncode, stderr in run_together(commands, tmp_path, REPO, env, timeout=180):
        assert returncode == 0 and "Traceback" not in stderr, stderr[-3000:]
    run_on_devices(long_run(corpus, tmp_path / "one"), 1)
    assert_same_losses(tmp_path, "two", "one")
    assert sorted(os.listdir(tmp_path / "two" / "checkpoints")) == ["8"]


def test_a_batch_size_the_devices_do_not_divide_is_a_one_line_error(tmp_path, tiny_corpus):
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "notes.txt").write_text("mine")
    before = tree_snapshot(workdir)
    args = ["-m", "rnngen.cli", "train", "--config", "configs/stdlib_char.py:quick", "--workdir", str(workdir)]
    result = run([*args, *cli_overrides(tiny_corpus, **{"train.batch_size": 30})], EIGHT)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        "rnngen train: error: --config.train.batch_size=30 is not divisible by the 8 devices of the data axis; "
        "use a multiple of 8 such as 24 or 32"
    )
    assert tree_snapshot(workdir) == before


@pytest.mark.parametrize(
    "shape, expected",
    [((64, 256), (None, "data")), ((256, 64), ("data", None)), ((48, 48), ("data", None)), ((12, 20), ()),
     ((256,), ("data",)), ((), ()), ((8, 4), ())],
)
def test_fsdp_splits_the_largest_divisible_dimension_of_large_arrays(shape, expected):
    from rnngen.train.sharding import fsdp_spec

    assert tuple(fsdp_spec(shape, 8, min_size=64)) == expected


@pytest.mark.parametrize(
    "changes, message",
    [({"train.batch_size": 4}, "train.batch_size=4 is not divisible by the 8 devices of the data axis; "
      "use a multiple of 8 such as 8"),
     ({"train.eval_batch_size": 20}, "train.eval_batch_size=20 is not divisible by the 8 devices of the data axis; "
      "use a multiple of 8 such as 16 or 24")],
)
def test_batch_size_errors_name_sizes_that_work(changes, message):
    from rnngen.config import base_config
    from rnngen.errors import UsageError
    from rnngen.train.preflight import check_divisible_by_devices

    config = base_config()
    for key, value in {"train.batch_size": 64, "train.eval_batch_size": 16, **changes}.items():
        section, name = key.split(".")
        config[section][name] = value
    with pytest.raises(UsageError, match=message.replace(".", r"\.")):
        check_divisible_by_devices(config, 8)
    check_divisible_by_devices(config, 1)


@pytest.mark.parametrize(
    "env, launched",
    [({}, False), ({"SLURM_STEP_NUM_TASKS": "1", "SLURM_STEP_NODELIST": "n1"}, False),
     ({"SLURM_STEP_NUM_TASKS": "8", "SLURM_STEP_NODELIST": "n[1-2]"}, True), ({"SLURM_NTASKS": "8"}, False),
     ({"OMPI_COMM_WORLD_SIZE": "2"}, True), ({"JAX_COORDINATOR_ADDRESS": "h:1"}, True),
     ({"TPU_WORKER_HOSTNAMES": "w0,w1"}, True), ({"TPU_WORKER_HOSTNAMES": "w0"}, False)],
)
def test_auto_joins_other_processes_only_when_the_launch_has_several(monkeypatch, env, launched):
    from rnngen.config import base_config
    from rnngen.train.distributed import several_processes_launched

    for name in ("SLURM_STEP_NUM_TASKS", "SLURM_STEP_NODELIST", "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE",
                 "JAX_COORDINATOR_ADDRESS", "TPU_WORKER_HOSTNAMES", "TPU_PROCESS_ADDRESSES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = base_config().distributed
    assert (several_processes_launched(settings) is not None) == launched
    settings.num_processes = 2
    assert several_processes_launched(settings) is not None


def test_a_bad_distributed_mode_is_a_usage_error():
    from rnngen.config import base_config
    from rnngen.errors import UsageError
    from rnngen.train.distributed import initialize

    config = base_config()
    config.distributed.initialize = "maybe"
    with pytest.raises(UsageError, match="distributed.initialize must be one of auto, on, off, got 'maybe'"):
        initialize(config)
    config.distributed.initialize = "off"
    initialize(config)  # nothing to join
