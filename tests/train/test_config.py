"""Config files and command-line overrides."""

import pathlib

import pytest

from helpers import REPO
from rnngen.config import KEYS, base_config, config_keys
from rnngen.config_files import apply_overrides, load_config
from rnngen.errors import UsageError

CONFIGS = pathlib.Path(REPO) / "configs"


def test_every_config_key_is_documented_and_listed_by_train_help():
    from rnngen.cli import config_keys_help

    assert sorted(config_keys(base_config())) == sorted(KEYS)
    listed = config_keys_help()
    assert all(f"  {key} " in listed and text in listed for key, (_, text) in KEYS.items())
    assert "model.recurrence           how the recurrence runs" in listed and "[default: auto]" in listed


def test_overrides_are_typed():
    config = apply_overrides(base_config(), [
        "--config.train.num_steps=7", "--config.train.learning_rate=1", "--config.data.path=123",
        "--config.data.split_fractions=(0.8,0.1,0.1)", "--config.model.cell", "gru", "--config.data.max_chars=None",
    ])
    assert config.train.num_steps == 7 and config.train.learning_rate == 1.0
    assert config.data.path == "123" and config.data.split_fractions == (0.8, 0.1, 0.1)
    assert config.model.cell == "gru" and config.data.max_chars is None


@pytest.mark.parametrize(
    "override, message",
    [("--config.train.num_steps=abc", "expected a value of type int"),
     ("--config.train.nope=1", "unknown config key 'train.nope'"),
     ("--config.nope.x=1", "unknown config key 'nope.x'"),
     ("--config.train.num_steps", "needs a value"),
     ("--steps=3", "unrecognized argument")],
)
def test_bad_overrides_are_usage_errors(override, message):
    with pytest.raises(UsageError, match=message):
        apply_overrides(base_config(), [override])


def test_config_variants_load():
    assert load_config(f"{CONFIGS}/shakespeare_char.py:quick").model.num_layers == 1
    assert load_config(f"{CONFIGS}/shakespeare_char.py").model.hidden_size == 512
    assert load_config(f"{CONFIGS}/stdlib_char.py:quick").data.source == "stdlib"
    with pytest.raises(UsageError, match="unknown variant 'huge'"):
        load_config(f"{CONFIGS}/stdlib_char.py:huge")
    with pytest.raises(UsageError, match="not found"):
        load_config(f"{CONFIGS}/missing.py")


@pytest.mark.parametrize("spec, source, kind, steps_per_epoch", [
    ("wikitext2_word.py:small", "splits", "word", 2_088_628 // (20 * 35)),
    ("wikitext2_word.py:awd", "splits", "word", 2_088_628 // (80 * 70)),
    ("ptb_word.py:tied", "splits", "word", 929_589 // (20 * 35)),
    ("ptb_word.py:awd", "splits", "word", 929_589 // (20 * 70)),
    ("enwik8_byte.py", "bytes", "byte", None),
    ("text8_char.py:quick", "bytes", "char", None),
])
def test_the_protocol_configs_load_and_pass_the_checks(spec, source, kind, steps_per_epoch):
    from rnngen.train.preflight import validate_config

    config = load_config(f"{CONFIGS}/{spec}")
    validate_config(config)
    assert (config.data.source, config.tokenizer.kind) == (source, kind)
    if steps_per_epoch is not None:  # one evaluation per epoch, as the published recipes
        assert config.train.eval_every == steps_per_epoch and config.tokenizer.pretokenized
    with pytest.raises(UsageError, match="use one of small, tied, medium_tied, awd"):
        load_config(f"{CONFIGS}/ptb_word.py:huge")
