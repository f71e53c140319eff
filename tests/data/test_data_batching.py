"""TBPTT training windows and stateful evaluation batches."""

import json

import numpy as np
import pytest

from rnngen.data import DataError, TBPTTBatcher, eval_batches, min_tokens


def _epoch(batcher, epoch):
    """All windows [K, batch, seq_len + 1] and starts_stream flags of an epoch."""
    out = [batcher.window({"epoch": epoch, "batch": k}) for k in range(batcher.batches_per_epoch)]
    return np.stack([w for w, _ in out]), [s for _, s in out]


def test_window_layout_follows_contiguous_streams():
    n, b, t = 1000, 4, 7
    batcher = TBPTTBatcher(np.arange(n), b, t, seed=3)
    windows, starts = _epoch(batcher, 0)
    k = batcher.batches_per_epoch
    assert windows.shape == (k, b, t + 1) and windows.dtype == np.int32
    assert starts == [True] + [False] * (k - 1)
    np.testing.assert_array_equal(np.diff(windows, axis=-1), 1)  # contiguous
    np.testing.assert_array_equal(windows[1:, :, 0], windows[:-1, :, -1])
    offset = batcher.offset(0)
    assert 0 <= offset < t
    np.testing.assert_array_equal(windows[0, :, 0], offset + batcher.stride * np.arange(b))
    # Stream s predicts each of its positions once, in order.
    targets = windows[:, :, 1:].transpose(1, 0, 2).reshape(b, -1)
    first = windows[0, :, :1]
    np.testing.assert_array_equal(targets, first + 1 + np.arange(k * t))
    assert windows.max() < n


def test_positions_are_pure_json_and_wrap_per_epoch():
    batcher = TBPTTBatcher(np.arange(300), 2, 5, seed=0)
    pos, seen = {"epoch": 0, "batch": 0}, []
    for _ in range(2 * batcher.batches_per_epoch):
        seen.append(pos)
        pos = json.loads(json.dumps(batcher.next_position(pos)))
    assert pos == {"epoch": 2, "batch": 0}
    assert seen[batcher.batches_per_epoch] == {"epoch": 1, "batch": 0}
    again = TBPTTBatcher(np.arange(300), 2, 5, seed=0)
    for p in seen[::7]:
        np.testing.assert_array_equal(batcher.window(p)[0], again.window(p)[0])
    with pytest.raises(DataError, match="outside"):
        batcher.window({"epoch": 0, "batch": batcher.batches_per_epoch})


def test_offsets_come_from_seed_and_epoch():
    offsets = lambda seed: [TBPTTBatcher(np.arange(500), 2, 16, seed).offset(e) for e in range(20)]
    assert offsets(1) == offsets(1)
    assert offsets(1) != offsets(2)
    assert len(set(offsets(1))) > 1 and all(0 <= o < 16 for o in offsets(1))


@pytest.mark.parametrize("b,t", [(1, 1), (3, 4), (8, 2), (2, 10)])
def test_minimum_length_fits_every_offset(b, t, monkeypatch):
    n = min_tokens(b, t)
    batcher = TBPTTBatcher(np.arange(n), b, t, seed=0)
    assert batcher.batches_per_epoch == 1
    for offset in range(t):
        monkeypatch.setattr(batcher, "offset", lambda epoch, o=offset: o)
        assert batcher.window({"epoch": 0, "batch": 0})[0].max() < n
    with pytest.raises(DataError, match=f"at least {n} .*smaller"):
        TBPTTBatcher(np.arange(n - 1), b, t, seed=0)


@pytest.mark.parametrize("n,b,t", [(2, 4, 3), (3, 4, 3), (50, 4, 3), (49, 4, 4), (100, 1, 7), (10, 16, 5)])
def test_eval_batches_predict_each_target_once(n, b, t):
    ids = np.arange(n) * 10 + 7
    batches = list(eval_batches(ids, b, t))
    for x, y, m in batches:
        assert x.shape == y.shape == m.shape == (b, t)
        assert x.dtype == y.dtype == np.int32 and m.dtype == np.float32
    x, y, m = (np.concatenate(a, axis=1) for a in zip(*batches))  # [B, W * T]
    assert m.sum() == n - 1
    real = m.astype(bool)
    np.testing.assert_array_equal(y[real], ids[1:])  # row-major = stream order
    np.testing.assert_array_equal(x[real], ids[:-1])
    assert not x[~real].any() and not y[~real].any()
    for row in real:  # real targets form a prefix of each stream
        assert not row[row.sum() :].any()


def test_eval_batches_need_two_tokens():
    with pytest.raises(DataError, match="at least 2 tokens"):
        list(eval_batches(np.array([5]), 2, 3))
