"""Word- and subword-level models through the real `rnngen` command on a tiny corpus."""

import json
import math

import pytest

from helpers import cli_overrides, rnngen, tree_snapshot

pytestmark = pytest.mark.slow  # real-command runs: the full suite, not the fast tier

TOKENIZER_OVERRIDES = {
    "word": {"tokenizer.min_count": 1},
    "subword": {"tokenizer.vocab_size": 320},
}


@pytest.fixture(scope="module", params=["word", "subword"])
def workdir(request, tmp_path_factory, tiny_corpus):
    kind = request.param
    path = str(tmp_path_factory.mktemp(kind) / "run")
    rnngen("train", "--config", f"configs/shakespeare_{kind}.py:quick", "--workdir", path,
           *cli_overrides(tiny_corpus, **TOKENIZER_OVERRIDES[kind]))
    return kind, path


def test_eval_reports_bits_per_character(workdir):
    kind, path = workdir
    metrics = json.loads(rnngen("eval", "--workdir", path, "--json").stdout.splitlines()[-1])
    assert {"bpc", "loss", "perplexity", "unk_rate", "tokens", "characters"} <= set(metrics)
    # The same total in bits, counted per token and per character.
    assert metrics["bpc"] * metrics["characters"] == pytest.approx(metrics["bits_per_token"] * metrics["tokens"])
    assert metrics["characters"] > metrics["tokens"]  # words and pieces span several characters
    assert metrics["perplexity"] == pytest.approx(math.exp(metrics["loss"]))
    assert metrics["unk_rate"] == 0.0  # the tiny corpus' validation words all occur in training


def test_samples_are_text_and_reproducible(workdir):
    kind, path = workdir
    args = ["sample", "--workdir", path, "--prompt", "KING", "--length", "12", "--num-samples", "2", "--seed", "5"]
    first = rnngen(*args).stdout
    assert first == rnngen(*args).stdout
    samples = first.rstrip("\n").split("\n\n")
    assert len(samples) == 2 and all(s.startswith("KING") for s in samples)
    if kind == "word":
        assert "<unk>" not in first  # the unknown token is never generated


def test_a_prompt_word_outside_the_vocabulary(workdir):
    kind, path = workdir
    args = ["sample", "--workdir", path, "--prompt", "KING Zebedee", "--length", "5"]
    before = tree_snapshot(path)
    result = rnngen(*args, check=False)
    assert tree_snapshot(path) == before
    if kind == "subword":  # byte fallback: no text is unknown
        assert result.returncode == 0 and result.stdout.startswith("KING Zebedee")
        return
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "words the model never saw in training: 'Zebedee'" in result.stderr and "--allow-unknown" in result.stderr
    allowed = rnngen(*args, "--allow-unknown")
    assert allowed.stdout.startswith("KING Zebedee") and "warning" in allowed.stderr and "'Zebedee'" in allowed.stderr
