"""Subword-level LSTM on tiny_shakespeare: a SentencePiece vocabulary learned
from the training split (`tokenizer.subword_model` bpe or unigram,
`tokenizer.vocab_size` pieces). Decoding is exact: byte fallback means no
piece of text is ever unknown. The embedding is tied to the output layer.

`configs/shakespeare_subword.py`: 2 x 512 LSTM, dropout 0.3, 2,000 BPE pieces.
`configs/shakespeare_subword.py:quick`: a small model that trains on 2 CPU
cores in under 10 minutes, evaluation and checkpoints included.

Offline, point TFDS at karpathy's input.txt: --config.data.manual_dir=DIR.
"""

from rnngen.config import base_config
from rnngen.errors import UsageError


def get_config(variant: str = "full"):
    config = base_config()
    config.data.source = "tiny_shakespeare"
    config.tokenizer.update(kind="subword", subword_model="bpe", vocab_size=2000)
    config.model.tie_embeddings = True
    if variant == "full":
        config.model.update(num_layers=2, hidden_size=512, embed_dim=512, dropout=0.3)
        config.train.update(
            batch_size=32, seq_len=50, num_steps=6000, schedule="warmup_cosine", warmup_steps=200,
            learning_rate=2e-3, eval_every=1000, checkpoint_every=1000, sample_length=120,
        )
    elif variant == "quick":
        config.tokenizer.vocab_size = 1000
        config.model.update(num_layers=1, hidden_size=256, embed_dim=256, dropout=0.1)
        config.train.update(
            batch_size=32, seq_len=50, num_steps=4000, schedule="warmup_cosine", warmup_steps=100,
            learning_rate=3e-3, eval_every=1000, checkpoint_every=1000, sample_length=80,
        )
    else:
        raise UsageError(f"unknown variant {variant!r} of shakespeare_subword.py: use full or quick")
    return config
