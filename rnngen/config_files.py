"""Loading ``path.py[:arg]`` config files and applying ``--config.KEY=VALUE`` overrides."""

from __future__ import annotations

import ast
import importlib.util
import os

import ml_collections

from rnngen.errors import UsageError

OVERRIDE_PREFIX = "--config."


def load_config(spec: str) -> ml_collections.ConfigDict:
    """``configs/x.py`` or ``configs/x.py:variant`` -> ``get_config()`` or ``get_config("variant")``."""
    path, _, variant = spec.partition(":")
    if not os.path.isfile(path):
        what = "is a directory" if os.path.isdir(path) else "not found"
        raise UsageError(f"config file {path!r} {what}; pass e.g. --config configs/shakespeare_char.py:quick")
    module_spec = importlib.util.spec_from_file_location(f"rnngen_config_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except OSError as error:
        raise UsageError(f"config file {path!r} cannot be read ({error.strerror or error}); fix its permissions") from None
    if not hasattr(module, "get_config"):
        raise UsageError(f"config file {path!r} defines no get_config()")
    return module.get_config(variant) if variant else module.get_config()


def parse_value(text: str):
    """Python literals (numbers, tuples, None, True) as such; true/false; anything else as a string."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def apply_override(config: ml_collections.ConfigDict, key: str, text: str) -> None:
    """Sets ``config.<key>`` from its command-line text, checking the key and the type."""
    *parents, name = key.split(".")
    node = config
    for part in parents:
        if part not in node or not isinstance(node[part], ml_collections.ConfigDict):
            raise UsageError(f"unknown config key {key!r}; `rnngen train --help` lists the keys")
        node = node[part]
    if name not in node:
        raise UsageError(f"unknown config key {key!r}; `rnngen train --help` lists the keys")
    value = parse_value(text)
    expected = node.get_type(name)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if expected is str and value is not None:
        value = text
    try:
        node[name] = value
    except TypeError:
        example = "" if node[name] is None else f", such as {node[name]!r}"
        raise UsageError(f"--config.{key}={text}: expected a value of type {expected.__name__}{example}") from None


def apply_overrides(config: ml_collections.ConfigDict, overrides: list[str]) -> ml_collections.ConfigDict:
    """Applies ``--config.KEY=VALUE`` arguments (``--config.KEY VALUE`` also works)."""
    args = list(overrides)
    while args:
        arg = args.pop(0)
        if not arg.startswith(OVERRIDE_PREFIX):
            raise UsageError(f"unrecognized argument {arg!r}; config overrides look like --config.train.num_steps=100")
        key, has_value, text = arg[len(OVERRIDE_PREFIX):].partition("=")
        if not has_value:
            if not args:
                raise UsageError(f"{arg} needs a value, e.g. {arg}=VALUE")
            text = args.pop(0)
        apply_override(config, key, text)
    return config
