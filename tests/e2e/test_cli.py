"""The real `rnngen` command end to end on a tiny corpus, and its user-error handling. Training a workdir and
evaluating it is the fast tier's one end-to-end run; the rest is marked slow."""

import json
import os
import textwrap

import pytest

from helpers import ENV, REPO, cli_overrides, rnngen


@pytest.fixture(scope="module")
def trained_workdir(tmp_path_factory, tiny_corpus):
    workdir = str(tmp_path_factory.mktemp("cli") / "run")
    rnngen("train", "--config", "configs/shakespeare_char.py:quick", "--workdir", workdir, *cli_overrides(tiny_corpus))
    return workdir


def test_train_writes_a_self_describing_workdir(trained_workdir):
    assert sorted(os.listdir(os.path.join(trained_workdir, "checkpoints"))) == ["3", "6"]
    assert os.path.isfile(os.path.join(trained_workdir, "metrics.jsonl"))


def test_eval_json_is_the_last_line(trained_workdir):
    result = rnngen("eval", "--workdir", trained_workdir, "--split", "test", "--json")
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"loss", "bpc", "perplexity"} <= set(metrics) and metrics["split"] == "test"
    assert metrics["bpc"] == pytest.approx(metrics["loss"] / 0.6931471805599453)


@pytest.mark.slow
def test_sample_prints_prompt_and_is_reproducible(trained_workdir):
    args = ["sample", "--workdir", trained_workdir, "--prompt", "KING", "--length", "30", "--temperature", "0.8",
            "--num-samples", "2", "--seed", "3", "--checkpoint", "best"]
    first, again = rnngen(*args).stdout, rnngen(*args).stdout
    assert first == again
    samples = first.rstrip("\n").split("\n\n")
    assert len(samples) == 2 and all(s.startswith("KING") for s in samples)
    other = rnngen(*args[:-4], "--seed", "4", "--checkpoint", "best").stdout
    assert other != first


@pytest.mark.parametrize("user_flags, wide", [("", True), ("--xla_cpu_prefer_vector_width=256", False)])
@pytest.mark.slow
def test_the_command_compiles_for_512_bit_vectors_unless_xla_flags_name_a_width(trained_workdir, tmp_path, user_flags,
                                                                                wide):
    """XLA dumps each compiled program's non-default options: the sampler's show the command's width."""
    dump = tmp_path / "xla"
    env = {**ENV, "XLA_FLAGS": f"--xla_dump_to={dump} {user_flags}"}
    rnngen("sample", "--workdir", trained_workdir, "--length", "5", env=env)
    options = [path.read_text() for path in dump.glob("*jit_sample*.debug_options")]
    assert options, sorted(path.name for path in dump.iterdir())[:20]
    assert all(("xla_cpu_prefer_vector_width: 512" in text) == wide for text in options)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--prompt", "KINGZ"], "never saw in training: 'Z'"),
        (["--temperature", "-1"], "temperature must be >= 0"),
        (["--top-p", "0"], "top_p must be in (0, 1]"),
        (["--checkpoint", "99"], "no checkpoint at step 99"),
    ],
)
@pytest.mark.slow
def test_sample_user_errors_are_one_line(trained_workdir, args, message):
    result = rnngen("sample", "--workdir", trained_workdir, *args, check=False)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.slow
def test_sample_without_checkpoint_is_a_clear_error(tmp_path):
    result = rnngen("eval", "--workdir", str(tmp_path), check=False)
    assert result.returncode == 2 and "no checkpoint" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_bad_override_is_a_clear_error(tmp_path, tiny_corpus):
    result = rnngen("train", "--config", "configs/stdlib_char.py:quick", "--workdir", str(tmp_path / "w"),
                    "--config.train.num_stepz=5", check=False)
    assert result.returncode == 2 and "unknown config key 'train.num_stepz'" in result.stderr


@pytest.mark.parametrize(
    "override, message",
    [("--config.train.eval_every=0", "train.eval_every must be > 0"),
     ("--config.model.dropout=1.0", "model.dropout must be in [0, 1)"),
     ("--config.model.cell_module=no_such_module_xyz", "cannot be imported")],
)
@pytest.mark.slow
def test_bad_config_values_are_one_line_errors(tmp_path, tiny_corpus, override, message):
    workdir = tmp_path / "w"
    result = rnngen("train", "--config", "configs/stdlib_char.py:quick", "--workdir", str(workdir),
                    *cli_overrides(tiny_corpus), override, check=False)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_resuming_with_a_changed_batch_size_is_refused(trained_workdir, tiny_corpus):
    before = sorted(os.listdir(os.path.join(trained_workdir, "checkpoints")))
    result = rnngen("train", "--config", "configs/shakespeare_char.py:quick", "--workdir", trained_workdir,
                    *cli_overrides(tiny_corpus, **{"train.batch_size": 8, "train.num_steps": 9}), check=False)
    assert result.returncode == 2 and "train.batch_size=4, not 8" in result.stderr
    assert sorted(os.listdir(os.path.join(trained_workdir, "checkpoints"))) == before


@pytest.mark.slow
def test_help_lists_every_config_key():
    text = rnngen("train", "--help").stdout
    for key in ("seed", "data.source", "data.manual_dir", "model.cell", "train.checkpoint_every"):
        assert key in text
    assert "sample" in rnngen("--help").stdout


@pytest.mark.parametrize("as_module", [False, True], ids=["py_file", "module_name"])
@pytest.mark.slow
def test_a_cell_defined_outside_rnngen_is_trained_and_sampled(tmp_path, tiny_corpus, as_module):
    cell_file = tmp_path / "my_cells.py"
    cell_file.write_text(textwrap.dedent('''
        import jax.numpy as jnp
        from flax import nnx
        from rnngen.models import RecurrentCell, register_cell

        @register_cell("leaky_rnn")
        class LeakyRNN(RecurrentCell):
            """h' = 0.5 h + 0.5 tanh(x W + h U)."""
            def __init__(self, input_size, hidden_size, *, rngs):
                self.hidden_size = hidden_size
                self.w = nnx.Param(nnx.initializers.lecun_normal()(rngs.params(), (input_size, hidden_size)))
                self.u = nnx.Param(nnx.initializers.orthogonal()(rngs.params(), (hidden_size, hidden_size)))
            def project_inputs(self, xs):
                return xs @ self.w[...]
            def step(self, h, x_t):
                h = 0.5 * h + 0.5 * jnp.tanh(x_t + h @ self.u[...])
                return h, h
    '''))
    workdir = str(tmp_path / "run")
    cell_module = "my_cells" if as_module else str(cell_file)
    cwd = str(tmp_path) if as_module else REPO  # a module name is found in the working directory
    rnngen("train", "--config", os.path.join(REPO, "configs/stdlib_char.py:quick"), "--workdir", workdir,
           *cli_overrides(tiny_corpus, **{"model.cell": "leaky_rnn", "model.cell_module": cell_module, "train.num_steps": 3}),
           cwd=cwd)
    text = rnngen("sample", "--workdir", workdir, "--prompt", "KING", "--length", "10", cwd=cwd).stdout
    assert text.startswith("KING") and len(text.rstrip("\n")) == 14


@pytest.mark.slow
def test_quick_shakespeare_config_trains_from_the_tfds_manual_dir(tmp_path, shakespeare_dir):
    workdir = str(tmp_path / "run")
    small = ["--config.model.hidden_size=16", "--config.train.num_steps=2", "--config.train.eval_every=2",
             "--config.train.checkpoint_every=2", "--config.train.sample_length=10"]
    rnngen("train", "--config", "configs/shakespeare_char.py:quick", "--workdir", workdir,
           f"--config.data.manual_dir={shakespeare_dir}", f"--config.data.data_dir={tmp_path / 'tfds'}", *small)
    assert os.path.isdir(tmp_path / "tfds" / "tiny_shakespeare" / "1.0.0")
    result = rnngen("eval", "--workdir", workdir, "--split", "test", "--json")
    assert json.loads(result.stdout.splitlines()[-1])["tokens"] == 55_769  # every test character after the first
