"""Character-level LSTM on the running Python's own standard library sources.

Needs no network and no data files, so it runs anywhere.
`configs/stdlib_char.py`: 2 x 512 LSTM; `configs/stdlib_char.py:quick`: a
small model on a 2 MB slice of the corpus, a few minutes on 2 CPU cores.
"""

from rnngen.config import base_config
from rnngen.errors import UsageError


def get_config(variant: str = "full"):
    config = base_config()
    config.data.source = "stdlib"
    if variant == "full":
        config.model.update(num_layers=2, hidden_size=512, dropout=0.1)
        config.train.update(num_steps=20000, schedule="warmup_cosine", warmup_steps=200)
    elif variant == "quick":
        config.data.max_chars = 2_000_000
        config.model.update(num_layers=1, hidden_size=256)
        config.train.update(
            seq_len=50, num_steps=2000, schedule="warmup_cosine", warmup_steps=100, learning_rate=3e-3,
            eval_every=500, checkpoint_every=500,
        )
    else:
        raise UsageError(f"unknown variant {variant!r} of stdlib_char.py: use full or quick")
    return config
