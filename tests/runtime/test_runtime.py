"""The command's process settings (rnngen.runtime), and a library user's process left as it was."""

import os

import pytest

from helpers import tiny_config
from rnngen.runtime import wants_huge_pages
from rnngen.train.loop import train_and_evaluate


def process_settings() -> tuple:
    """What the command's runtime settings would change in this process."""
    import logging
    import sys
    import warnings

    import absl.logging

    return (os.environ.get("XLA_FLAGS"), sys.unraisablehook, warnings._showwarnmsg, absl.logging.get_verbosity(),
            tuple(logging.getLogger("asyncio").filters), os.environ.get("GLIBC_TUNABLES"))


def test_training_and_loading_from_python_change_nothing_in_the_process(tmp_path, tiny_corpus):
    """Library code installs no hook, sets no environment variable and no log level (the command does)."""
    import rnngen

    before = process_settings()
    train_and_evaluate(tiny_config(tiny_corpus, **{"train.num_steps": 3}), str(tmp_path / "run"))
    rnngen.load(str(tmp_path / "run")).generate("T", 5)
    assert process_settings() == before


@pytest.mark.parametrize("argv, environ, wanted", [
    (["train", "--config", "c.py"], {}, False),
    (["--huge-pages", "train", "--config", "c.py"], {}, True),
    (["train", "--config", "c.py"], {"RNNGEN_HUGE_PAGES": "1"}, True),
    (["sample", "--workdir", "w"], {"RNNGEN_HUGE_PAGES": "1"}, False),
    (["--huge-pages", "sample", "--workdir", "w"], {}, False),
])
def test_huge_pages_are_asked_for_train_only(argv, environ, wanted):
    assert wants_huge_pages(argv, environ) is wanted
