"""Shared fixtures (the tiny_shakespeare manual directory, small corpora) and the test tiers.

- ``slow``: end-to-end runs left out of the fast tier, ``pytest -m "not slow" -n 2``.
- ``perf``: checks of compiled programs and tuning (tests/perf/) that a JAX or XLA upgrade may
  break without any change a user sees; skipped unless ``pytest --perf``.
"""

import atexit
import os
import pathlib
import shutil
import tempfile

import pytest

# Token ids prepared by the tests (rnngen.data.token_store) go to a cache of this run, removed at exit,
# never to the user's; subprocesses inherit it through the environment.
TEST_CACHE = tempfile.mkdtemp(prefix="rnngen-test-cache-")
os.environ["XDG_CACHE_HOME"] = TEST_CACHE
atexit.register(shutil.rmtree, TEST_CACHE, True)

REPO = pathlib.Path(__file__).resolve().parents[1]
SHAKESPEARE_DIR = REPO.parent / "shared" / "data" / "tinyshakespeare"


@pytest.fixture(scope="session")
def shakespeare_dir() -> str:
    if not (SHAKESPEARE_DIR / "input.txt").is_file():
        pytest.skip(f"tiny_shakespeare input.txt not found in {SHAKESPEARE_DIR}")
    return str(SHAKESPEARE_DIR)


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> str:
    """A small text file written by the tests: a few thousand characters of verse-like lines."""
    path = tmp_path_factory.mktemp("corpus") / "tiny.txt"
    lines = []
    for i in range(300):
        lines.append(f"KING {i % 7}:\nTo be or not to be, that is the question {i % 13}.\n")
    path.write_text("".join(lines), encoding="utf-8")
    return str(path)


def pytest_addoption(parser):
    parser.addoption("--perf", action="store_true", help="also run the tests marked perf (tests/perf/)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--perf"):
        return
    skip = pytest.mark.skip(reason="a compiled-program or tuning check: run with --perf")
    for item in items:
        if "perf" in item.keywords:
            item.add_marker(skip)
