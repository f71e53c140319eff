"""The decoding options, `rnngen score` and `rnngen chat` through the real command on a tiny trained model.

Most calls go through ``rnngen.cli.main`` in this process (the same code the
console command runs, without a new interpreter per call); streaming and chat
run as real subprocesses, chat on a pseudo-terminal.
"""

import io
import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest

from helpers import ENV, REPO, RNNGEN, cli_overrides, rnngen
from rnngen.cli import main

pytestmark = pytest.mark.slow  # real-command runs: the full suite, not the fast tier


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, tiny_corpus):
    path = str(tmp_path_factory.mktemp("decoding") / "run")
    assert main(["train", "--config", "configs/shakespeare_char.py:quick", "--workdir", path,
                 *cli_overrides(tiny_corpus, **{"train.num_steps": 3})]) == 0
    return path


def run_main(capsys, *args):
    """(exit status, stdout, stderr) of ``rnngen ARGS`` run in this process."""
    capsys.readouterr()
    status = main(list(args))
    out = capsys.readouterr()
    return status, out.out, out.err


def test_score_prints_totals_per_token_lines_and_json(workdir, tmp_path, capsys):
    path = tmp_path / "text.txt"
    path.write_text("KING 3:\nTo be", encoding="utf-8")
    status, out, _ = run_main(capsys, "score", "--workdir", workdir, str(path), "--per-token")
    lines = out.strip().splitlines()
    assert status == 0 and len(lines) == 12 + 1  # 12 predicted characters (not the first), then the totals
    assert [json.loads(line.split("\t")[0]) for line in lines[:-1]] == list("ING 3:\nTo be")
    assert "bits/char" in lines[-1] and "12 tokens" in lines[-1]
    status, out, _ = run_main(capsys, "score", "--workdir", workdir, str(path), "--json", "--per-token")
    scored = json.loads(out)
    assert scored["tokens"] == 12 and sum(scored["token_bits"]) == pytest.approx(scored["bits"])
    assert scored["bits_per_char"] == pytest.approx(scored["bits"] / 12)


def test_score_reads_stdin_and_refuses_a_missing_file(workdir, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("KING 3:\nTo be".encode())))
    status, out, _ = run_main(capsys, "score", "--workdir", workdir, "-", "--json")
    assert status == 0 and json.loads(out)["tokens"] == 12
    status, out, err = run_main(capsys, "score", "--workdir", workdir, "/no/such/file.txt")
    assert status == 2 and "no such file" in err and out == "" and len(err.strip().splitlines()) == 1


def test_stop_strings_cut_the_samples(workdir, capsys):
    args = ["sample", "--workdir", workdir, "--prompt", "KING", "--length", "60", "--num-samples", "3", "--seed", "1"]
    _, full, _ = run_main(capsys, *args)
    _, cut, _ = run_main(capsys, *args, "--stop", "\\n", "--stop", "e")  # the CLI reads \n as a newline
    for whole, short in zip(full.rstrip("\n").split("\n\n"), cut.rstrip("\n").split("\n\n")):
        generated = whole[len("KING"):]
        ends = [i for i in (generated.find("\n"), generated.find("e")) if i >= 0]
        assert short == "KING" + generated[: min(ends, default=len(generated))]


def test_repetition_controls_change_greedy_text(workdir, capsys):
    args = ["sample", "--workdir", workdir, "--prompt", "KING", "--length", "40", "--temperature", "0"]
    _, plain, _ = run_main(capsys, *args)
    _, no_repeat, _ = run_main(capsys, *args, "--no-repeat-ngram-size", "2")
    text = no_repeat.rstrip("\n")
    bigrams = [text[i:i + 2] for i in range(len(text) - 1)]
    assert len(bigrams) == len(set(bigrams)) and no_repeat != plain
    status, penalized, _ = run_main(capsys, *args, "--repetition-penalty", "2.0")
    assert status == 0 and penalized.startswith("KING") and penalized != plain


def test_beam_search_prints_the_best_beams(workdir, capsys):
    args = ["sample", "--workdir", workdir, "--prompt", "KING", "--length", "12", "--num-beams", "4"]
    _, two, _ = run_main(capsys, *args, "--num-return-sequences", "2")
    beams = two.rstrip("\n").split("\n\n")
    assert len(beams) == 2 and beams[0] != beams[1] and all(b.startswith("KING") and len(b) == 16 for b in beams)
    _, one, _ = run_main(capsys, *args, "--seed", "9")  # deterministic: the seed plays no part
    assert one.rstrip("\n") == beams[0]


@pytest.mark.parametrize(
    "args, message",
    [(["--num-return-sequences", "2"], "applies to beam search"),
     (["--num-beams", "2", "--num-return-sequences", "3"], "cannot exceed num_beams=2"),
     (["--num-beams", "2", "--num-samples", "2"], "use num_return_sequences"),
     (["--repetition-penalty", "0"], "repetition_penalty must be > 0"),
     (["--no-repeat-ngram-size", "-1"], "no_repeat_ngram_size must be >= 0"),
     (["--stream", "--num-samples", "2"], "--stream prints one sample"),
     (["--stop", ""], "stop strings must be non-empty")],
)
def test_decoding_mistakes_are_one_line_errors(workdir, capsys, args, message):
    status, out, err = run_main(capsys, "sample", "--workdir", workdir, *args)
    assert status == 2 and message in err and out == "" and len(err.strip().splitlines()) == 1


def test_streamed_text_equals_the_unstreamed_text(workdir, capsys):
    args = ["sample", "--workdir", workdir, "--prompt", "KING", "--length", "70", "--seed", "4", "--stop", "e\\n"]
    assert rnngen(*args, "--stream", "--block", "8").stdout == run_main(capsys, *args)[1]


def read_until(fd, marker: bytes, seen: bytes = b"", timeout: float = 120.0) -> bytes:
    """Output of the pseudo-terminal ``fd`` until ``marker`` has appeared (after ``seen``)."""
    deadline = time.monotonic() + timeout
    data = b""
    while marker not in data and time.monotonic() < deadline:
        if select.select([fd], [], [], 1.0)[0]:
            data += os.read(fd, 4096)
    assert marker in data, f"no {marker!r} in {data!r}"
    return data


def test_chat_continues_lines_and_changes_settings(workdir):
    parent, child = pty.openpty()
    process = subprocess.Popen(RNNGEN + ["chat", "--workdir", workdir], stdin=child, stdout=child, stderr=child,
                               cwd=REPO, env=ENV, close_fds=True)
    os.close(child)
    try:
        read_until(parent, b"> ")
        os.write(parent, b":length 12\n")
        assert b"length=12" in read_until(parent, b"> ")
        os.write(parent, b":temperature 0\n")
        read_until(parent, b"> ")
        os.write(parent, b"KING\n")
        first = read_until(parent, b"> ")
        os.write(parent, b"KING\n")
        again = read_until(parent, b"> ")
        assert first == again and len(first.split(b"\r\n")[1]) == 12  # greedy: the same 12 characters each time
        os.write(parent, b":top_k many\n")
        assert b"error: :top_k needs an integer" in read_until(parent, b"> ")
        os.write(parent, b":quit\n")
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(parent)
