"""Tuning checks: the memory the command hands back after compiling, and the train step compiled once per run.
Figures behind docs/performance.md; run with ``pytest --perf tests/perf``."""

import jax
import pytest

from helpers import tiny_config
from rnngen.runtime.memory import release_freed_memory
from rnngen.train.loop import train_and_evaluate

pytestmark = pytest.mark.perf


def resident_mib() -> float:
    """This process' resident memory now (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


@pytest.fixture
def backend_compiles():
    """The names of the functions XLA compiles while the test runs, one entry per compilation."""
    names = []

    def listener(event, duration, fun_name=None, **_):
        if event == "/jax/core/compile/backend_compile_duration":
            names.append(fun_name)

    jax.monitoring.register_event_duration_secs_listener(listener)
    yield names
    jax.monitoring.unregister_event_duration_listener(listener)


def test_release_freed_memory_hands_the_freed_heap_back():
    if not release_freed_memory():
        pytest.skip("this C library has no malloc_trim")
    blocks = [bytes(1000) for _ in range(100_000)]  # 100 MB in heap chunks below glibc's mmap threshold
    still_held = [bytes(1000) for _ in range(10)]  # above them: glibc cannot shrink the heap's top by itself
    allocated = resident_mib()
    del blocks
    freed = resident_mib()
    assert release_freed_memory()
    released = resident_mib()
    assert freed > allocated - 20 and released < freed - 60, (allocated, freed, released)
    assert len(still_held) == 10


def test_training_compiles_its_train_step_once(tmp_path, tiny_corpus, backend_compiles):
    """The trainer compiles the step ahead for the first batch it will run: the batch, key and state it
    passes match the real ones, so the loop's calls reuse that executable."""
    train_and_evaluate(tiny_config(tiny_corpus, **{"train.num_steps": 3}), str(tmp_path / "run"))
    assert backend_compiles.count("jit(train_step)") == 1, backend_compiles
