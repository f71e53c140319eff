"""The scripts under scripts/ run end to end on a tiny corpus."""

import json
import os
import subprocess
import sys

import pytest

from helpers import ENV, REPO

pytestmark = pytest.mark.slow  # real-command runs: the full suite, not the fast tier

TINY_MODEL = ["model.hidden_size=16", "model.embed_dim=8", "train.batch_size=4", "train.eval_batch_size=4",
              "train.seq_len=16", "tokenizer.vocab_size=320", "tokenizer.min_count=1"]


def test_compare_tokenizations_writes_table_plot_and_json(tmp_path, tiny_corpus):
    out = tmp_path / "comparison"
    command = [sys.executable, os.path.join(REPO, "scripts", "compare_tokenizations.py"), "--text", tiny_corpus,
               "--budget-seconds", "1", "--out", str(out), *[f"--set={item}" for item in TINY_MODEL]]
    subprocess.run(command, check=True, cwd=REPO, env=ENV, capture_output=True, timeout=600)
    rows = json.loads((out / "comparison.json").read_text())
    assert [r["kind"] for r in rows] == ["char", "word", "subword"]
    for r in rows:
        assert r["vocab_size"] > 1 and r["peak_mb"] > 0 and r["tokens_per_s"] > 0
        assert r["params"]["total"] == sum(r["params"][part] for part in ("embedding", "recurrent", "output"))
        assert 0.0 <= r["invented_words"] <= 1.0
        assert set(r["context_bpc"]) == {"16", "64", "256", "1024", "never"}
        assert r["context_bpc"]["never"] == r["validation_bpc"]
    assert rows[0]["chars_per_token"] == 1.0 and rows[1]["chars_per_token"] > 2.0
    table = (out / "comparison.md").read_text()
    assert "| validation bpc |" in table and "| bpc, reset every 16 |" in table
    assert (out / "comparison.png").stat().st_size > 10_000
    again = subprocess.run(command, cwd=REPO, env=ENV, capture_output=True, text=True)
    assert again.returncode != 0 and "runs exists" in again.stderr  # never trains over an earlier comparison
