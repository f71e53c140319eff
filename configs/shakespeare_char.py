"""Character-level LSTM on tiny_shakespeare.

`configs/shakespeare_char.py`: the full model (2 x 512 LSTM, dropout 0.2).
`configs/shakespeare_char.py:quick`: a small model that trains on 2 CPU cores
in under 10 minutes, evaluation and checkpoints included.

Offline, point TFDS at karpathy's input.txt: --config.data.manual_dir=DIR.
"""

from rnngen.config import base_config
from rnngen.errors import UsageError


def get_config(variant: str = "full"):
    config = base_config()
    config.data.source = "tiny_shakespeare"
    if variant == "full":
        config.model.update(num_layers=2, hidden_size=512, dropout=0.2)
        config.train.update(
            seq_len=50, num_steps=5000, schedule="warmup_cosine", warmup_steps=200, learning_rate=2e-3,
            eval_every=1000, checkpoint_every=1000,
        )
    elif variant == "quick":
        # Short windows mean many updates per character: on 2 CPU cores this
        # learns far faster per second than seq_len 100 (measured; see README).
        config.model.update(num_layers=1, hidden_size=256)
        config.train.update(
            seq_len=25, num_steps=8000, schedule="warmup_cosine", warmup_steps=100, learning_rate=3e-3,
            eval_every=2000, checkpoint_every=2000,
        )
    else:
        raise UsageError(f"unknown variant {variant!r} of shakespeare_char.py: use full or quick")
    return config
