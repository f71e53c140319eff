"""Reliability through the real `rnngen` command: kill -9, SIGTERM/SIGINT, corrupt checkpoints,
a full disk, and one training process per workdir."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import jax
import numpy as np
import pytest

import rnngen
from helpers import ENV, REPO, RNNGEN, cli_overrides, read_metrics
from processes import cluster_overrides, run_together
from rnngen.errors import UsageError
from rnngen.checkpoints.manager import remove_for_good
from rnngen.checkpoints.workdir import disk_full_reason
from rnngen.train.metrics_writer import drop_records_after
from rnngen.checkpoints.workdir import StopSignals
from rnngen.checkpoints.workdir import WorkdirLock

pytestmark = pytest.mark.slow  # real-command runs: the full suite, not the fast tier

CONFIG = "configs/stdlib_char.py:quick"
# Long enough that a signal sent once the first step is logged lands inside the loop.
SIGNAL_RUN = {"train.num_steps": 300, "train.eval_every": 100, "train.checkpoint_every": 100, "model.dropout": 0.1}


def train_args(workdir, corpus, **changes) -> list[str]:
    return [*RNNGEN, "train", "--config", CONFIG, "--workdir", str(workdir), *cli_overrides(corpus, **changes)]


def run(args, check=True):
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=REPO, env=ENV)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


def rnngen_cli(*args, check=True):
    return run([*RNNGEN, *args], check=check)


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def assert_same_params(workdir_a, workdir_b, rtol=0.0):
    """The latest checkpoints of two workdirs: the same step and parameters (bitwise unless ``rtol``)."""
    a, b = rnngen.load(str(workdir_a)), rnngen.load(str(workdir_b))
    assert a.step == b.step
    for x, y in zip(jax.tree_util.tree_leaves(a.trained.params), jax.tree_util.tree_leaves(b.trained.params), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=0.0)


def train_losses(workdir) -> list[tuple[int, float]]:
    return [(r["step"], r["loss"]) for r in read_metrics(str(workdir), "train")]


def files_under(directory) -> dict[str, tuple[int, int]]:
    """path -> (size, mtime_ns) of every file under ``directory``."""
    found = {}
    for folder, _, names in os.walk(directory):
        for name in names:
            info = os.stat(os.path.join(folder, name))
            found[os.path.relpath(os.path.join(folder, name), directory)] = (info.st_size, info.st_mtime_ns)
    return found


# --- kill -9 -------------------------------------------------------------------------------


def test_a_truncated_last_metrics_line_is_dropped(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "split": "train", "loss": 2.0}\n{"step": 2, "split": "train", "loss": 1.5}\n'
                    '{"step": 3, "split": "train", "lo')  # a process killed mid-write
    drop_records_after(str(path), 2)
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [1, 2]
    path.write_text('{"step": 1, "split": "train", "loss": 2.0}')  # a whole record, its newline lost
    drop_records_after(str(path), 1)
    assert path.read_text() == '{"step": 1, "split": "train", "loss": 2.0}\n'


def test_crash_test_script_survives_sigkill(tmp_path):
    """scripts/crash_test.py: SIGKILLs at random moments, then the final parameters bit for bit."""
    command = [sys.executable, os.path.join(REPO, "scripts", "crash_test.py"), "--kills", "1", "--steps", "12",
               "--workdir-root", str(tmp_path / "crash")]
    result = run(command, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(last_line(result.stdout))
    assert summary["identical"] and summary["metrics_identical"] and summary["kills_landed"] == 1
    assert summary["final_step"] == 12 and summary["eval_loss"]["interrupted"] == summary["eval_loss"]["uninterrupted"]
    assert summary["leftover_tmp_dirs"] == 0 and summary["set_aside_checkpoints"] == 0


def test_a_save_cut_short_by_sigkill_is_ignored_then_cleaned(tmp_path, tiny_corpus):
    workdir = tmp_path / "run"
    run(train_args(workdir, tiny_corpus, **{"train.num_steps": 3}))
    # What a save killed half-way leaves; step 4 is never saved again, so only the clean-up on start removes it.
    partial = workdir / "checkpoints" / "4.orbax-checkpoint-tmp"
    shutil.copytree(workdir / "checkpoints" / "3", partial)
    (partial / "commit_success.txt").unlink(missing_ok=True)
    result = rnngen_cli("eval", "--workdir", str(workdir), "--json")
    assert json.loads(last_line(result.stdout))["step"] == 3 and "warning" not in result.stderr
    assert partial.is_dir()  # eval only reads
    run(train_args(workdir, tiny_corpus))
    assert sorted(os.listdir(workdir / "checkpoints")) == ["3", "6"]


# --- SIGTERM / SIGINT ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def signal_reference(tmp_path_factory, tiny_corpus):
    workdir = tmp_path_factory.mktemp("signal") / "reference"
    run(train_args(workdir, tiny_corpus, **SIGNAL_RUN))
    return workdir


def wait_for_first_step(process, workdir, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if (workdir / "metrics.jsonl").exists() and '"train"' in (workdir / "metrics.jsonl").read_text():
            return
        time.sleep(0.02)
    raise AssertionError("training never logged a step")


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 0), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_saves_the_step_and_the_resumed_run_is_exact(tmp_path, tiny_corpus, signal_reference, signum, status):
    workdir = tmp_path / "run"
    process = subprocess.Popen(train_args(workdir, tiny_corpus, **SIGNAL_RUN), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, cwd=REPO, env=ENV)
    wait_for_first_step(process, workdir)
    process.send_signal(signum)
    process.send_signal(signum)  # a second one, while the step and its save finish, changes nothing
    stderr = process.communicate(timeout=120)[1]
    assert process.returncode == status and "Traceback" not in stderr
    message = last_line(stderr)
    match = re.fullmatch(rf"rnngen train: stopped by {signum.name} after step (\d+); its checkpoint is saved in "
                         r"(\S+); run the same command to resume", message)
    assert match, message
    step = int(match.group(1))
    assert 0 < step < 300 and rnngen.load(str(workdir)).step == step
    run(train_args(workdir, tiny_corpus, **SIGNAL_RUN))
    assert_same_params(workdir, signal_reference)
    assert train_losses(workdir) == train_losses(signal_reference)


def test_inside_stop_signals_sigint_and_sigterm_are_recorded_not_raised():
    before = signal.getsignal(signal.SIGINT)
    with StopSignals() as stop:
        os.kill(os.getpid(), signal.SIGINT)  # outside the block: KeyboardInterrupt
        os.kill(os.getpid(), signal.SIGTERM)  # outside the block: the process ends
        time.sleep(0.01)  # the handlers run between bytecodes
    assert stop.received == "SIGINT"
    assert signal.getsignal(signal.SIGINT) is before


# --- corrupt checkpoints -------------------------------------------------------------------


@pytest.fixture(scope="module")
def six_steps(tmp_path_factory, tiny_corpus):
    """A workdir trained 6 steps by the CLI, with checkpoints 3 and 6."""
    workdir = tmp_path_factory.mktemp("corrupt") / "run"
    run(train_args(workdir, tiny_corpus))
    return workdir


def largest_file(directory):
    paths = [os.path.join(folder, name) for folder, _, names in os.walk(directory) for name in names]
    return max(paths, key=os.path.getsize)


def corrupt_item(directory, how):
    """Damages every file of a checkpoint item: sampling and evaluation read only the parameters (a damaged
    optimizer state alone does not stop them), and which of Orbax's data files holds them varies."""
    for folder, _, names in os.walk(directory):
        for name in names:
            corrupt(os.path.join(folder, name), how)


def corrupt(path, how):
    """Truncates ``path`` to its first 64 bytes, or garbles every byte after them."""
    data = open(path, "rb").read()
    if how == "truncate":
        data = data[:64]
    else:
        data = data[:64] + bytes(b ^ 0x5A for b in data[64:])
    open(path, "wb").write(data)


@pytest.mark.parametrize("item, how, which", [("state", "truncate", "latest"), ("state", "garble", "best"),
                                              ("meta", "garble", "latest")])
def test_a_corrupt_latest_checkpoint_falls_back_to_the_previous_one(tmp_path, tiny_corpus, six_steps, item, how, which):
    workdir = tmp_path / "run"
    shutil.copytree(six_steps, workdir)
    assert rnngen.load(str(workdir), which).step == 6  # the checkpoint about to be corrupted
    corrupt_item(workdir / "checkpoints" / "6" / item, how)
    before = files_under(workdir)

    result = rnngen_cli("eval", "--workdir", str(workdir), "--json", "--checkpoint", which)
    assert json.loads(last_line(result.stdout))["step"] == 3
    warning = last_line(result.stderr)
    assert re.search(r"warning: checkpoint step 6 \(\S+/checkpoints/6\) is unreadable: .+; using the checkpoint of "
                     r"step 3 instead$", warning), warning
    explicit = rnngen_cli("sample", "--workdir", str(workdir), "--checkpoint", "6", check=False)
    assert explicit.returncode == 2 and "Traceback" not in explicit.stderr
    assert last_line(explicit.stderr).startswith("rnngen sample: error: checkpoint step 6 (")
    assert files_under(workdir) == before  # sample and eval never write

    result = run(train_args(workdir, tiny_corpus))
    assert "checkpoint step 6" in result.stderr and "moved it to" in result.stderr
    assert sorted(os.listdir(workdir / "corrupt_checkpoints" / "6")) == sorted(os.listdir(six_steps / "checkpoints" / "6"))
    assert_same_params(workdir, six_steps)  # step 6 trained again from step 3: the same parameters
    assert [r["step"] for r in read_metrics(str(workdir), "train")] == [1, 2, 3, 4, 5, 6]


def test_two_processes_resuming_past_a_corrupt_checkpoint_set_it_aside_once(tmp_path, tiny_corpus, six_steps):
    """A run of two processes (one CPU device each, jax.distributed) on one shared workdir: the corrupt
    checkpoint is moved once, by process 0, and both processes resume from step 3."""
    workdir = tmp_path / "run"
    shutil.copytree(six_steps, workdir)
    corrupt_item(workdir / "checkpoints" / "6" / "state", "truncate")
    env = {**ENV, "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}
    cluster = cluster_overrides(2)
    commands = [train_args(workdir, tiny_corpus, **cluster, **{"distributed.process_id": index}) for index in range(2)]
    ended = run_together(commands, tmp_path, REPO, env)
    for returncode, stderr in ended:
        assert returncode == 0 and "Traceback" not in stderr, stderr
    stderrs = [stderr for _, stderr in ended]
    assert os.listdir(workdir / "corrupt_checkpoints") == ["6"]
    assert "moved it to" in stderrs[0]
    assert rnngen.load(str(workdir)).step == 6
    # step 6 trained again from step 3, the gradients summed over two devices: equal up to rounding
    assert_same_params(workdir, six_steps, rtol=1e-5)


def test_every_checkpoint_corrupt_is_an_error_that_changes_nothing(tmp_path, tiny_corpus, six_steps):
    workdir = tmp_path / "run"
    shutil.copytree(six_steps, workdir)
    for step in ("3", "6"):
        corrupt(largest_file(workdir / "checkpoints" / step / "meta"), "truncate")
    before = files_under(workdir)
    for args in (["sample", "--workdir", str(workdir)], train_args(workdir, tiny_corpus)[len(RNNGEN):]):
        result = rnngen_cli(*args, check=False)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert "no readable checkpoint" in last_line(result.stderr)
    after = files_under(workdir)
    assert {k: v for k, v in after.items() if k != "train.lock"} == {k: v for k, v in before.items() if k != "train.lock"}


# --- a full disk -----------------------------------------------------------------------------


# `rnngen ...` with RLIMIT_FSIZE set: writing past LIMIT bytes of a file fails with EFBIG, as on a full
# disk (Python ignores SIGXFSZ). Set in the child itself: a preexec_fn is unsafe in this threaded process.
WITH_FILE_SIZE_LIMIT = (
    "import resource, runpy, sys\n"
    "limit = int(sys.argv.pop(1))\n"
    "resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))\n"
    "sys.argv[0] = 'rnngen'\n"
    "runpy.run_module('rnngen.cli', run_name='__main__')\n"
)


def test_a_full_disk_while_saving_keeps_the_previous_checkpoint(tmp_path, tiny_corpus):
    workdir = tmp_path / "run"
    bigger = {"model.hidden_size": 128, "model.embed_dim": 64}  # a state of 1.2 MB; metrics and events stay small
    run(train_args(workdir, tiny_corpus, **bigger, **{"train.num_steps": 3}))
    limited = [sys.executable, "-c", WITH_FILE_SIZE_LIMIT, "200000", *train_args(workdir, tiny_corpus, **bigger)[3:]]
    result = run(limited, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert last_line(result.stderr) == (
        "rnngen train: error: step 6: writing its checkpoint failed ([Errno 27] File too large); the checkpoint of "
        "step 3 is intact. Free disk space, then run the same command to resume")
    assert sorted(os.listdir(workdir / "checkpoints")) == ["3"]  # no partial save left behind
    assert rnngen.load(str(workdir)).step == 3
    run(train_args(workdir, tiny_corpus, **bigger))
    assert rnngen.load(str(workdir)).step == 6


def test_a_failed_saves_temporary_directory_is_removed_although_late_writes_recreate_it(tmp_path):
    """As a failed Orbax save's sibling writes do, a thread writes into the directory after the failure."""
    partial = tmp_path / "6.orbax-checkpoint-tmp"

    def late_write(delay):
        time.sleep(delay)
        (partial / "state").mkdir(parents=True, exist_ok=True)
        (partial / "state" / "array").write_bytes(b"late")

    (partial / "state").mkdir(parents=True)
    writers = [threading.Thread(target=late_write, args=(delay,)) for delay in (0.1, 0.4)]
    for writer in writers:
        writer.start()
    remove_for_good(str(partial), settled_s=0.6)
    for writer in writers:
        writer.join()
    assert not partial.exists()


# A coroutine defined in an Orbax file and one elsewhere, each abandoned as Orbax abandons the sibling
# writes of a failed one (each its own name: the warnings registry shows a repeated warning only once).
ABANDONED_WRITES = (
    "import asyncio, gc\n"
    "from rnngen.runtime.orbax_reports import drop_abandoned_io_reports\n"
    "drop_abandoned_io_reports()\n"
    "for folder in ('orbax', 'elsewhere'):\n"
    "    code = compile(f'async def write_{folder}():\\n    raise ValueError(\"failed writing\")', f'/site/{folder}/io.py', 'exec')\n"
    "    scope = {}; exec(code, scope); write = scope[f'write_{folder}']\n"
)
# Failed, and nobody retrieves its exception: asyncio logs it when the task is garbage-collected.
TASK_NEVER_RETRIEVED = (
    "    loop = asyncio.new_event_loop(); task = loop.create_task(write())\n"
    "    loop.run_until_complete(asyncio.sleep(0)); loop.close(); del task; gc.collect()\n"
)
# Two gathers of writes, both failed, the first awaited: the second one's exception is never retrieved.
GATHER_NEVER_RETRIEVED = (
    "    async def save():\n        first, second = asyncio.gather(write()), asyncio.gather(write())\n"
    "        await first\n"
    "    loop = asyncio.new_event_loop()\n"
    "    try:\n        loop.run_until_complete(save())\n    except ValueError:\n        pass\n"
    "    loop.close(); gc.collect()\n"
)
# Never started: Python warns when the coroutine is garbage-collected.
COROUTINE_NEVER_AWAITED = "    coroutine = write(); del coroutine; gc.collect()\n"


@pytest.mark.parametrize(
    "abandon, report",
    [(TASK_NEVER_RETRIEVED, "Task exception was never retrieved"),
     (GATHER_NEVER_RETRIEVED, "_GatheringFuture exception was never retrieved"),
     (COROUTINE_NEVER_AWAITED, "was never awaited")],
)
def test_orbax_abandoned_writes_are_not_reported_but_others_are(abandon, report):
    result = run([sys.executable, "-c", ABANDONED_WRITES + abandon])
    assert result.stderr.count(report) == 1, result.stderr
    assert "write_elsewhere" in result.stderr and "write_orbax" not in result.stderr, result.stderr


def test_a_full_disk_is_recognised_as_an_os_error_or_in_a_writer_message():
    assert disk_full_reason(OSError(28, "No space left on device")) == "[Errno 28] No space left on device"
    tensorstore_like = ValueError('OUT_OF_RANGE: Error writing "x": Failed writing: [OS error 122: Disk quota exceeded]')
    try:
        raise RuntimeError("save failed") from tensorstore_like
    except RuntimeError as wrapped:
        assert disk_full_reason(wrapped) == "[Errno 122] Disk quota exceeded"
    assert disk_full_reason(ValueError("permission denied")) is None


# --- one training process per workdir ------------------------------------------------------


def test_the_workdir_lock_refuses_a_second_holder_until_released(tmp_path):
    first = WorkdirLock(str(tmp_path))
    with pytest.raises(UsageError, match=rf"being trained by another process \(pid {os.getpid()}\)"):
        WorkdirLock(str(tmp_path))
    first.release()
    WorkdirLock(str(tmp_path)).release()


def test_a_second_train_is_refused_while_the_first_lives_and_proceeds_once_it_is_killed(tmp_path, tiny_corpus):
    workdir = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom rnngen.checkpoints.workdir import WorkdirLock\n"
         "lock = WorkdirLock(sys.argv[1]); print('locked', flush=True); time.sleep(300)", str(workdir)],
        stdout=subprocess.PIPE, text=True, cwd=REPO, env=ENV)
    try:
        assert holder.stdout.readline().strip() == "locked"
        refused = run(train_args(workdir, tiny_corpus, **{"train.num_steps": 3}), check=False)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        assert f"is being trained by another process (pid {holder.pid})" in last_line(refused.stderr)
        assert os.listdir(workdir) == ["train.lock"]  # nothing else was touched
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    run(train_args(workdir, tiny_corpus, **{"train.num_steps": 3}))
    assert rnngen.load(str(workdir)).step == 3
