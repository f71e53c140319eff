"""``rnngen --huge-pages train`` restarts itself with glibc's malloc asking for transparent huge pages (rnngen.runtime.huge_pages).

The restart tests run real processes: a child that calls
:func:`restart_with_huge_pages` and then reports what its malloc did, and the real
command, whose every interpreter start a ``sitecustomize`` module logs.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
import textwrap

import pytest

from helpers import REPO
from rnngen.runtime.huge_pages import (
    FIRST_GLIBC_WITH_TUNABLE, glibc_version, huge_pages_on_request, tunables_with_huge_pages,
)

RESTARTS_HERE = (glibc_version() or (0, 0)) >= FIRST_GLIBC_WITH_TUNABLE and huge_pages_on_request()
needs_restart = pytest.mark.skipif(not RESTARTS_HERE, reason="needs glibc 2.35+ and transparent huge pages on madvise")


def test_the_tunable_is_added_to_the_others():
    assert tunables_with_huge_pages("") == "glibc.malloc.hugetlb=1"
    assert tunables_with_huge_pages("glibc.malloc.arena_max=2") == "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"


@pytest.mark.parametrize("tunables", ["glibc.malloc.hugetlb=0", "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=2"])
def test_a_hugetlb_setting_already_given_wins(tunables):
    assert tunables_with_huge_pages(tunables) is None


@pytest.mark.parametrize("setting, on_request", [
    ("always [madvise] never\n", True), ("[always] madvise never\n", False), ("always madvise [never]\n", False),
])
def test_huge_pages_on_request_reads_the_kernel_setting(tmp_path, setting, on_request):
    path = tmp_path / "enabled"
    path.write_text(setting)
    assert huge_pages_on_request(str(path)) is on_request
    assert huge_pages_on_request(str(tmp_path / "missing")) is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_version_is_the_running_one():
    major, minor = platform.libc_ver()[1].split(".")[:2]
    assert glibc_version() == (int(major), int(minor))


CHILD = textwrap.dedent("""
    import ctypes, os
    print("start", os.getpid(), os.environ.get("GLIBC_TUNABLES", ""), flush=True)
    from rnngen.runtime.huge_pages import restart_with_huge_pages
    restart_with_huge_pages()
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    size = 256 << 20  # well above malloc's largest mmap threshold (32 MiB), as XLA's step buffers are
    ctypes.memset(libc.malloc(ctypes.c_size_t(size)), 1, size)
    rollup = dict(line.split(":", 1) for line in open("/proc/self/smaps_rollup") if ":" in line)
    print("huge_kb", rollup["AnonHugePages"].split()[0])
""")


def child_env(tunables: str | None, pythonpath: str, **extra: str) -> dict[str, str]:
    """This environment with ``GLIBC_TUNABLES`` replaced by ``tunables`` (None: unset) and ``pythonpath``."""
    env = {key: value for key, value in os.environ.items() if key != "GLIBC_TUNABLES"}
    env.update(PYTHONPATH=pythonpath, **extra)
    if tunables is not None:
        env["GLIBC_TUNABLES"] = tunables
    return env


def run_child(tunables: str | None, from_stdin: bool = False) -> tuple[list[list[str]], int | None]:
    """Runs CHILD (given with -c, or on stdin) -> (its "start" lines split, the KiB of its memory in huge
    pages, None if it did not get that far)."""
    env = child_env(tunables, REPO)
    args, stdin = ([sys.executable, "-"], CHILD) if from_stdin else ([sys.executable, "-c", CHILD], None)
    out = subprocess.run(args, input=stdin, capture_output=True, text=True, env=env, check=True).stdout
    lines = [line.split() for line in out.splitlines()]
    huge_kb = [int(line[1]) for line in lines if line[0] == "huge_kb"]
    return [line for line in lines if line[0] == "start"], huge_kb[0] if huge_kb else None


@needs_restart
def test_the_restart_keeps_the_process_and_its_malloc_gets_huge_pages():
    starts, huge_kb = run_child(None)
    assert [line[2:] for line in starts] == [[], ["glibc.malloc.hugetlb=1"]]
    assert starts[0][1] == starts[1][1]  # the same process id: execve, not a child process
    assert huge_kb >= 128 << 10  # most of the 256 MiB block
    kept_starts, kept_huge_kb = run_child("glibc.malloc.hugetlb=0")
    assert len(kept_starts) == 1 and kept_huge_kb < huge_kb


@needs_restart
def test_a_program_read_from_stdin_is_not_restarted():
    # Restarted, it would find stdin empty and end at once, having run nothing.
    starts, huge_kb = run_child(None, from_stdin=True)
    assert [line[2:] for line in starts] == [[]] and huge_kb is not None  # it ran to its end


LOG_STARTS = 'import os, sys; open(os.environ["START_LOG"], "a").write(f"{os.getpid()} {os.environ.get(\'GLIBC_TUNABLES\', \'\')}\\n")\n'


def command_starts(tmp_path, *args, tunables: str | None = None, **extra: str) -> list[list[str]]:
    """Runs ``python -m rnngen.cli ARGS`` -> each interpreter start's [pid, GLIBC_TUNABLES...]."""
    tmp_path.mkdir()
    (tmp_path / "sitecustomize.py").write_text(LOG_STARTS)
    log = tmp_path / "starts.log"
    env = child_env(tunables, f"{tmp_path}{os.pathsep}{REPO}", START_LOG=str(log), **extra)
    if "RNNGEN_HUGE_PAGES" not in extra:
        env.pop("RNNGEN_HUGE_PAGES", None)
    subprocess.run([sys.executable, "-m", "rnngen.cli", *args], capture_output=True, env=env, check=True, timeout=120)
    return [line.split() for line in log.read_text().splitlines()]


def test_rnngen_train_is_one_ordinary_process_unless_asked(tmp_path):
    assert len(command_starts(tmp_path / "train", "train", "--help")) == 1


@needs_restart
def test_rnngen_train_restarts_with_huge_pages_when_asked_and_the_other_commands_do_not(tmp_path):
    for name, args, extra in (("flag", ("--huge-pages", "train", "--help"), {}),
                              ("env", ("train", "--help"), {"RNNGEN_HUGE_PAGES": "1"})):
        train = command_starts(tmp_path / name, *args, **extra)
        assert [start[1:] for start in train] == [[], ["glibc.malloc.hugetlb=1"]] and train[0][0] == train[1][0]
    assert len(command_starts(tmp_path / "sample", "sample", "--help", RNNGEN_HUGE_PAGES="1")) == 1
    assert len(command_starts(tmp_path / "kept", "--huge-pages", "train", "--help", tunables="glibc.malloc.hugetlb=0")) == 1


def test_the_console_script_is_the_entry_point_that_installs_the_settings():
    scripts = importlib.metadata.entry_points(group="console_scripts", name="rnngen")
    assert [script.value for script in scripts] == ["rnngen.cli:command"]
