"""Word-level LSTM on tiny_shakespeare.

Words, punctuation and newlines are tokens (speaker names keep their lines);
words seen fewer than `tokenizer.min_count` times in the training split become
<unk>. The embedding is tied to the output layer.

`configs/shakespeare_word.py`: 2 x 512 LSTM, dropout 0.4, the whole vocabulary.
`configs/shakespeare_word.py:quick`: a small model that trains on 2 CPU cores
in under 10 minutes, evaluation and checkpoints included.

Offline, point TFDS at karpathy's input.txt: --config.data.manual_dir=DIR.
"""

from rnngen.config import base_config
from rnngen.errors import UsageError


def get_config(variant: str = "full"):
    config = base_config()
    config.data.source = "tiny_shakespeare"
    config.tokenizer.kind = "word"
    config.model.tie_embeddings = True
    if variant == "full":
        config.tokenizer.min_count = 1
        config.model.update(num_layers=2, hidden_size=512, embed_dim=512, dropout=0.4)
        config.train.update(
            batch_size=32, seq_len=35, num_steps=6000, schedule="warmup_cosine", warmup_steps=200,
            learning_rate=2e-3, eval_every=1000, checkpoint_every=1000, sample_length=100,
        )
    elif variant == "quick":
        config.tokenizer.min_count = 2
        config.model.update(num_layers=1, hidden_size=256, embed_dim=256, dropout=0.2)
        config.train.update(
            batch_size=32, seq_len=35, num_steps=2000, schedule="warmup_cosine", warmup_steps=100,
            learning_rate=3e-3, eval_every=500, checkpoint_every=500, sample_length=60,
        )
    else:
        raise UsageError(f"unknown variant {variant!r} of shakespeare_word.py: use full or quick")
    return config
