"""Process-level settings of the ``rnngen`` command, installed once by its entry point.

Library code never changes the process it runs in: importing rnngen, or calling
``rnngen.load``, ``train_and_evaluate`` or the CLI's ``main`` from Python, sets no
environment variable, installs no hook and restarts nothing. Only the console entry
point (:func:`rnngen.cli.command`) calls :func:`install`:

- :mod:`~rnngen.runtime.xla_flags`: XLA's CPU code for 512-bit vectors, unless ``XLA_FLAGS``
  names a width already (every subcommand);
- absl's log level ERROR: Orbax and TFDS log routine warnings through absl;
- :mod:`~rnngen.runtime.orbax_reports`: Orbax's reports of the reads and writes it abandons
  after a failure are dropped, so a full disk or a corrupt checkpoint is one line;
- :mod:`~rnngen.runtime.huge_pages`: opt-in, ``rnngen --huge-pages train ...`` or
  ``RNNGEN_HUGE_PAGES=1``: ``rnngen train`` restarts itself with malloc's huge pages.

The trainer's memory hand-back (:mod:`~rnngen.runtime.memory`) is passed to
``train_and_evaluate`` by the command, as a callback, not installed.
"""

from __future__ import annotations

import os
from typing import Mapping, Sequence

from rnngen.runtime.huge_pages import restart_with_huge_pages
from rnngen.runtime.orbax_reports import drop_abandoned_io_reports
from rnngen.runtime.xla_flags import prefer_wide_vectors

HUGE_PAGES_FLAG = "--huge-pages"
HUGE_PAGES_ENV = "RNNGEN_HUGE_PAGES"


def wants_huge_pages(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> bool:
    """Whether ``argv`` (the arguments after ``rnngen``) is ``train`` asked to run with huge pages:
    ``--huge-pages`` before the subcommand, or ``RNNGEN_HUGE_PAGES=1``."""
    if "train" not in argv:
        return False
    before = argv[: list(argv).index("train")]
    return HUGE_PAGES_FLAG in before or environ.get(HUGE_PAGES_ENV) == "1"


def install(argv: Sequence[str]) -> None:
    """The command's process settings, before JAX starts; ``argv``: the arguments after ``rnngen``.
    With huge pages asked for, this process is replaced by the same command line with them on."""
    if wants_huge_pages(argv):
        restart_with_huge_pages()
    prefer_wide_vectors()  # XLA reads XLA_FLAGS once, when JAX starts its first backend
    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)
    drop_abandoned_io_reports()
