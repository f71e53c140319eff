"""Importing a researcher's own code (cells) named in a config: ``model.cell_module``."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys

from rnngen.errors import UsageError


def _import_file(path: str) -> None:
    """Imports the .py file at ``path`` once per process (keyed by its absolute path)."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise UsageError(f"model.cell_module {path!r} is not a file; give a .py path or a module name")
    name = "rnngen_plugin_" + hashlib.sha1(path.encode()).hexdigest()[:12]
    if name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as error:
        del sys.modules[name]  # a failed import must not look imported next time
        if isinstance(error, OSError) and error.filename == path:
            raise UsageError(f"model.cell_module {path!r} cannot be read ({error.strerror}); fix its permissions") from None
        raise


def _import_module(name: str) -> None:
    """Imports a module by name, finding it in the current directory too (as `python -m` would)."""
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as error:
        raise UsageError(
            f"model.cell_module {name!r} cannot be imported ({error}); give a .py path or put it on PYTHONPATH"
        ) from None


def import_cell_module(spec: str | None) -> None:
    """Imports ``spec`` (a .py path or a dotted module name) so that its cells register themselves."""
    if not spec:
        return
    if spec.endswith(".py"):
        _import_file(spec)
    else:
        _import_module(spec)
