"""The PyTorch reference of ``scripts/bench/bench.py``: one case per process, one JSON line out.

    python scripts/bench/bench_torch.py train lstm_2x512
    python scripts/bench/bench_torch.py sample 1
    python scripts/bench/bench_torch.py eval --ids validation.npy
    python scripts/bench/bench_torch.py matmul

The same sizes and optimizer as rnngen's side (``bench_cases``): an ``nn.Embedding``,
PyTorch's fused ``nn.LSTM`` / ``nn.GRU`` (one oneDNN call per layer and sequence) and
an ``nn.Linear`` output layer; Adam with ``clip_grad_norm_``; sampling is a Python
loop of ``nn.LSTMCell`` steps under ``torch.inference_mode`` (PyTorch's
word_language_model / char-rnn way). Needs ``pip install -e ".[bench]"``. On a
machine with a CUDA GPU everything runs there (``nn.LSTM`` / ``nn.GRU`` are then
cuDNN's), each timed call ending in ``torch.cuda.synchronize``.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_cases import (  # noqa: E402
    BATCH, CLIP, EMBED, EVAL_BATCH, LEARNING_RATE, SAMPLE_LENGTH, SAMPLE_TEMPERATURE, SEQ_LEN, TRAIN_CASES, VOCAB,
    MATMUL_SIZE, eval_vocab, median_rate, rate_and_faults, worker_parser,
)
from bench_cases import report as report_line  # noqa: E402

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def synchronize() -> None:
    """Waits for the GPU's queued work (nothing to wait for on the CPU)."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def report(per_s: float, compile_s: float | None, **extra) -> None:
    """The worker's JSON line, with the GPU's peak allocation as the peak memory on a GPU."""
    device_peak = torch.cuda.max_memory_allocated() / 2**20 if DEVICE.type == "cuda" else None
    report_line(per_s, compile_s, device_peak, **extra)


class CharModel(nn.Module):
    """Embedding -> fused multi-layer LSTM/GRU -> Linear; tokens [batch, time] -> logits [batch, time, vocab]."""

    def __init__(self, cell: str, layers: int, hidden: int, vocab: int = VOCAB):
        super().__init__()
        self.embed = nn.Embedding(vocab, EMBED)
        self.rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell](EMBED, hidden, layers, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, tokens, state=None):
        hidden, state = self.rnn(self.embed(tokens), state)
        return self.out(hidden), state


def detach(state):
    """The carried state with its graph cut (truncated BPTT)."""
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def bench_train(case: str, repeats: int) -> None:
    """Characters per second of a full train step: forward, loss, backward, clipping, Adam."""
    torch.manual_seed(0)
    model = CharModel(*TRAIN_CASES[case]).to(DEVICE)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    ids = torch.randint(0, VOCAB, (BATCH, SEQ_LEN + 1), generator=torch.Generator().manual_seed(0)).to(DEVICE)
    inputs, targets = ids[:, :-1], ids[:, 1:]
    holder = {"state": None}

    def run():
        optimizer.zero_grad(set_to_none=True)
        logits, state = model(inputs, holder["state"])
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimizer.step()
        holder["state"] = detach(state)
        synchronize()

    per_s, faulted = rate_and_faults(run, BATCH * SEQ_LEN, warmup=2, repeats=repeats)
    report(per_s, None, faulted_mib_per_step=faulted)


def bench_sample(batch: int, case: str, repeats: int) -> None:
    """Sampled characters per second: a Python loop of LSTMCell steps, temperature and multinomial."""
    torch.manual_seed(0)
    cell, layers, hidden = TRAIN_CASES[case]
    embed = nn.Embedding(VOCAB, EMBED).to(DEVICE)
    cells = nn.ModuleList([nn.LSTMCell(EMBED if i == 0 else hidden, hidden) for i in range(layers)]).to(DEVICE)
    out = nn.Linear(hidden, VOCAB).to(DEVICE)

    @torch.inference_mode()
    def run():
        states = [(torch.zeros(batch, hidden, device=DEVICE), torch.zeros(batch, hidden, device=DEVICE))
                  for _ in range(layers)]
        token = torch.zeros(batch, dtype=torch.long, device=DEVICE)
        for _ in range(SAMPLE_LENGTH):
            x = embed(token)
            for i, lstm in enumerate(cells):
                states[i] = lstm(x, states[i])
                x = states[i][0]
            probs = torch.softmax(out(x) / SAMPLE_TEMPERATURE, dim=-1)
            token = torch.multinomial(probs, 1)[:, 0]
        synchronize()

    report(median_rate(run, batch * SAMPLE_LENGTH, warmup=1, repeats=repeats), None)


def bench_eval(ids: np.ndarray, repeats: int, case: str) -> None:
    """Predicted characters per second over a split's ids [n]: the same batches as rnngen's."""
    from rnngen.data.batching import eval_batches  # numpy only

    batches = [tuple(torch.from_numpy(np.asarray(a)).to(DEVICE) for a in b) for b in eval_batches(ids, EVAL_BATCH, SEQ_LEN)]
    torch.manual_seed(0)
    vocab = eval_vocab(ids)
    model = CharModel(*TRAIN_CASES[case], vocab=vocab).to(DEVICE)

    @torch.inference_mode()
    def run():
        state, total = None, torch.zeros((), device=DEVICE)
        for inputs, targets, mask in batches:
            logits, state = model(inputs.long(), state)
            nll = F.cross_entropy(logits.reshape(-1, vocab), targets.long().reshape(-1), reduction="none")
            total += (nll * mask.reshape(-1)).sum()
        synchronize()

    report(median_rate(run, len(ids) - 1, warmup=1, repeats=repeats), None)


def bench_matmul(repeats: int) -> None:
    """GFLOP/s of a float32 square matmul in PyTorch (its default precision)."""
    size = MATMUL_SIZE["gpu" if DEVICE.type == "cuda" else "cpu"]
    a = torch.randn(size, size, device=DEVICE)

    def run():
        a @ a
        synchronize()

    report(median_rate(run, 2 * size**3 / 1e9, warmup=2, repeats=repeats), None)


def main(argv=None) -> None:
    parser = worker_parser(__doc__, ["train", "sample", "eval", "matmul"])
    args = parser.parse_args(argv)
    if args.kind == "train":
        bench_train(args.arg, args.repeats)
    elif args.kind == "sample":
        bench_sample(int(args.arg), args.model, args.repeats)
    elif args.kind == "eval":
        bench_eval(np.load(args.ids), args.repeats, args.model)
    else:
        bench_matmul(args.repeats)


if __name__ == "__main__":
    main()
