"""Bad input through the real `rnngen` command: one line on stderr naming the problem and the fix,
exit status 2, no traceback, and the workdir exactly as it was (or still absent)."""

import os

import pytest

from helpers import cli_overrides, rnngen, tree_snapshot

pytestmark = pytest.mark.slow  # real-command runs: the full suite, not the fast tier

CONFIG = "configs/shakespeare_char.py:quick"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"  # a PNG header: its first NUL byte is at offset 8
VERSE = "KING 1:\nTo be or not to be, that is the question.\n" * 6  # 300 characters
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_permissions = pytest.mark.skipif(IS_ROOT, reason="root ignores file permissions")


@pytest.fixture(scope="module")
def trained_workdir(tmp_path_factory, tiny_corpus):
    workdir = str(tmp_path_factory.mktemp("bad_input") / "run")
    rnngen("train", "--config", CONFIG, "--workdir", workdir, *cli_overrides(tiny_corpus))
    return workdir


def assert_refused(args, workdir, *needles):
    """Runs `rnngen *args`: exit status 2, one line on stderr holding every needle, workdir unchanged."""
    before = tree_snapshot(workdir)
    result = rnngen(*args, check=False)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert tree_snapshot(workdir) == before


def write(path, content: bytes) -> str:
    path.write_bytes(content)
    return str(path)


def dir_with_dangling_link(tmp_path) -> str:
    """A directory with a text file and a .txt link to nothing."""
    (tmp_path / "texts").mkdir()
    write(tmp_path / "texts" / "verse.txt", VERSE.encode())
    (tmp_path / "texts" / "gone.txt").symlink_to(tmp_path / "deleted.txt")
    return str(tmp_path / "texts")


def dir_without_text(tmp_path) -> str:
    """A directory whose only file is not a text file."""
    (tmp_path / "images").mkdir()
    write(tmp_path / "images" / "picture.png", PNG)
    return str(tmp_path / "images")


# name -> (tmp_path -> config changes, substrings of the one-line error)
DATA_CASES = {
    "missing_path": (lambda d: {"data.path": "/nope"}, ["/nope does not exist", "--config.data.path"]),
    "empty_file": (lambda d: {"data.path": write(d / "empty.txt", b"")}, ["empty.txt is empty", "non-empty"]),
    "directory_without_text_files": (lambda d: {"data.path": dir_without_text(d)}, ["images holds no text files", ".txt"]),
    "dangling_link": (lambda d: {"data.path": dir_with_dangling_link(d)}, ["gone.txt cannot be read", "remove it"]),
    "binary_file": (
        lambda d: {"data.path": write(d / "picture.txt", PNG + VERSE.encode())},
        ["picture.txt looks binary: NUL byte at offset 8"],
    ),
    "not_utf8": (
        lambda d: {"data.path": write(d / "latin1.txt", "café\n".encode("latin-1") + VERSE.encode())},
        ["latin1.txt is not UTF-8 (byte offset 3", "--config.data.encoding_errors=replace"],
    ),
    "shorter_than_one_window": (
        lambda d: {"data.path": write(d / "short.txt", VERSE[:80].encode())},
        ["need at least 83", "--config.train.batch_size"],  # 4 * (16 + 1) + 16 - 1
    ),
    "no_validation_fraction": (
        lambda d: {"data.split_fractions": "(1.0,0.0,0.0)"},
        ["validation split", "is empty", "--config.data.split_fractions"],
    ),
    "corpus_too_small_for_validation": (
        lambda d: {"data.path": write(d / "ten.txt", b"abcdefghij")},
        ["validation split", "is empty", "larger corpus"],
    ),
    "one_token_validation_split": (
        lambda d: {"data.path": write(d / "verse.txt", VERSE.encode()), "data.split_fractions": "(0.99,0.005,0.005)"},
        ["validation split has only 1 token(s)", "--config.data.split_fractions"],
    ),
    "manual_dir_is_a_file": (
        lambda d: {"data.source": "tiny_shakespeare", "data.manual_dir": write(d / "input.txt", b"x"),
                   "data.data_dir": str(d / "tfds")},
        ["input.txt is a file, not a directory", "--config.data.manual_dir=DIR"],
    ),
}

CONFIG_CASES = {
    "unknown_key": ({"train.num_stepz": 5}, ["unknown config key 'train.num_stepz'", "--help"]),
    "int_expected": ({"train.batch_size": "abc"}, ["--config.train.batch_size=abc: expected a value of type int"]),
    "float_expected": ({"model.dropout": "high"}, ["--config.model.dropout=high: expected a value of type float"]),
    "bool_expected": ({"train.skip_nonfinite": "maybe"}, ["expected a value of type bool"]),
    "unknown_encoding_errors": ({"data.encoding_errors": "ignore"}, ["data.encoding_errors must be one of strict, replace"]),
    "out_of_range": ({"train.eval_every": 0}, ["train.eval_every must be > 0"]),
    "unknown_cell": ({"model.cell": "lstmm"}, ["unknown cell 'lstmm'", "register_cell"]),
    "cell_module_missing": ({"model.cell_module": "no_such_module_xyz"}, ["cannot be imported", "PYTHONPATH"]),
    "unknown_optimizer": ({"train.optimizer": "adamm"}, ["train.optimizer must be one of"]),
    "unknown_compute_dtype": ({"train.compute_dtype": "float16"},
                              ["train.compute_dtype must be one of float32, bfloat16, got 'float16'"]),
}


@pytest.mark.parametrize("case", DATA_CASES, ids=list(DATA_CASES))
def test_bad_corpus_is_refused_before_the_workdir_is_created(tmp_path, tiny_corpus, case):
    make_changes, needles = DATA_CASES[case]
    workdir = str(tmp_path / "run")
    assert_refused(["train", "--config", CONFIG, "--workdir", workdir,
                    *cli_overrides(tiny_corpus, **make_changes(tmp_path))], workdir, *needles)
    assert not os.path.exists(workdir)


@pytest.mark.parametrize("case", CONFIG_CASES, ids=list(CONFIG_CASES))
def test_bad_setting_is_refused_before_the_workdir_is_created(tmp_path, tiny_corpus, case):
    changes, needles = CONFIG_CASES[case]
    workdir = str(tmp_path / "run")
    assert_refused(["train", "--config", CONFIG, "--workdir", workdir, *cli_overrides(tiny_corpus, **changes)],
                   workdir, *needles)
    assert not os.path.exists(workdir)


@needs_permissions
def test_unreadable_corpus_is_refused(tmp_path, tiny_corpus):
    path = write(tmp_path / "secret.txt", VERSE.encode())
    os.chmod(path, 0)
    workdir = str(tmp_path / "run")
    assert_refused(["train", "--config", CONFIG, "--workdir", workdir, *cli_overrides(path)],
                   workdir, "secret.txt cannot be read", "permissions")


@pytest.mark.parametrize(
    "make_config, needles",
    [(lambda d: str(d / "missing.py"), ["missing.py' not found", "--config configs/"]),
     (lambda d: str(d), ["is a directory", "--config configs/"]),
     (lambda d: "configs/stdlib_char.py:huge", ["unknown variant 'huge'", "use full or quick"])],
    ids=["missing", "directory", "unknown_variant"],
)
def test_bad_config_file_is_refused(tmp_path, tiny_corpus, make_config, needles):
    workdir = str(tmp_path / "run")
    assert_refused(["train", "--config", make_config(tmp_path), "--workdir", workdir, *cli_overrides(tiny_corpus)],
                   workdir, *needles)


@needs_permissions
def test_unreadable_config_file_is_refused(tmp_path, tiny_corpus):
    config = write(tmp_path / "mine.py", b"from rnngen.config import base_config as get_config\n")
    os.chmod(config, 0)
    workdir = str(tmp_path / "run")
    assert_refused(["train", "--config", config, "--workdir", workdir, *cli_overrides(tiny_corpus)],
                   workdir, "mine.py' cannot be read", "permissions")


@pytest.mark.parametrize(
    "changes, needles",
    [({"model.hidden_size": 32}, ["model.hidden_size=16, not 32", "--workdir"]),
     ({"model.cell": "gru"}, ["model.cell='lstm', not 'gru'"]),
     ({"tokenizer.kind": "word"}, ["tokenizer.kind='char', not 'word'"]),
     ({"tokenizer.vocab_size": 500}, ["tokenizer.vocab_size=2000, not 500"])],
    ids=["hidden_size", "cell", "tokenizer_kind", "tokenizer_vocab_size"],
)
def test_resuming_with_another_model_or_tokenizer_is_refused(trained_workdir, tiny_corpus, changes, needles):
    assert_refused(["train", "--config", CONFIG, "--workdir", trained_workdir,
                    *cli_overrides(tiny_corpus, **{"train.num_steps": 9, **changes})], trained_workdir, *needles)


def test_workdir_below_a_file_is_refused(tmp_path, tiny_corpus):
    blocker = write(tmp_path / "notes.txt", b"a file, not a directory")
    for workdir, needle in [(os.path.join(blocker, "run"), "cannot be created"), (blocker, "is a file")]:
        assert_refused(["train", "--config", CONFIG, "--workdir", workdir, *cli_overrides(tiny_corpus)],
                       blocker, needle, "--workdir")


@needs_permissions
def test_read_only_workdir_is_refused(tmp_path, tiny_corpus):
    read_only = tmp_path / "read_only"
    read_only.mkdir(mode=0o500)
    try:
        for workdir in (read_only / "run", read_only):
            assert_refused(["train", "--config", CONFIG, "--workdir", str(workdir), *cli_overrides(tiny_corpus)],
                           read_only, "not writable", "--workdir")
    finally:
        read_only.chmod(0o700)


@pytest.mark.parametrize(
    "args, needles",
    [(["--prompt", "KINGZ"], ["never saw in training: 'Z'", "--allow-unknown"]),
     (["--temperature", "-1"], ["temperature must be >= 0"]),
     (["--top-p", "0"], ["top_p must be in (0, 1]"]),
     (["--top-p", "1.5"], ["top_p must be in (0, 1]"]),
     (["--top-k", "-1"], ["top_k must be >= 0"]),
     (["--length", "0"], ["length must be > 0"]),
     (["--num-samples", "0"], ["num_samples must be > 0"]),
     (["--checkpoint", "99"], ["no checkpoint at step 99", "available steps: 3, 6"]),
     (["--checkpoint", "last"], ["--checkpoint must be best, latest or a step number"])],
    ids=["unknown_char", "temperature", "top_p_0", "top_p_1.5", "top_k", "length", "num_samples",
         "missing_step", "bad_checkpoint_name"],
)
def test_bad_sampling_arguments_are_refused(trained_workdir, args, needles):
    assert_refused(["sample", "--workdir", trained_workdir, *args], trained_workdir, *needles)


@pytest.mark.parametrize("command", ["sample", "eval"])
def test_sample_and_eval_need_a_trained_workdir(tmp_path, command):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_refused([command, "--workdir", str(empty)], empty, "no checkpoint", "rnngen train")
    missing = tmp_path / "missing"
    assert_refused([command, "--workdir", str(missing)], missing, "does not exist", "rnngen train")
    assert not missing.exists()
    a_file = write(tmp_path / "file", b"x")
    assert_refused([command, "--workdir", a_file], a_file, "is a file, not a directory")
