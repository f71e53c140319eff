"""The published word-level recipes as config changes, shared by ``configs/wikitext2_word.py`` and
``configs/ptb_word.py``.

- ``small`` / ``tied`` / ``medium_tied``: PyTorch's ``word_language_model`` example: a 2-layer
  LSTM (200 units, dropout 0.2; or 650 units, dropout 0.5), SGD at rate 20 with gradients
  clipped at 0.25, 35-step windows of 20 streams, the rate divided by 4 after every epoch
  whose validation loss did not improve, 40 epochs (6 for ``small`` as in its README).
- ``awd``: AWD-LSTM's regularization (Merity et al. 2018): 3 layers of 1150 units, a tied
  400-wide embedding, locked dropout, embedding dropout 0.1, weight drop 0.5, AR 2 and
  TAR 1, SGD at rate 30 with clipping 0.25, 70-step windows. Differences from AWD-LSTM:
  no NT-ASGD averaging yet (the plateau schedule instead), a fixed window length, every
  layer 1150 wide with a projection to the tied embedding, no weight decay, no fine-tuning.

The corpus is the pre-tokenized one, read as split files (``--config.data.path=DIR``).
"""

from __future__ import annotations

from rnngen.config import base_config
from rnngen.errors import UsageError

VARIANTS = ("small", "tied", "medium_tied", "awd")


def word_language_model(variant: str, train_tokens: int, awd_dropouts: dict, awd_batch_size: int,
                        awd_epochs: int, name: str):
    """The config of ``variant`` for a corpus of ``train_tokens`` training tokens (``<eos>``
    included); ``awd_dropouts`` are the corpus's AWD-LSTM input and hidden dropouts."""
    config = base_config()
    config.data.source = "splits"
    config.tokenizer.update(kind="word", pretokenized=True, min_count=1, max_size=0)
    config.train.update(optimizer="sgd", grad_clip=0.25, schedule="plateau", plateau_factor=4.0,
                        plateau_patience=0, eval_batch_size=10, sample_length=50)
    if variant in ("small", "tied", "medium_tied"):
        width, dropout, epochs = (650, 0.5, 40) if variant == "medium_tied" else (200, 0.2, 6 if variant == "small" else 40)
        config.model.update(num_layers=2, hidden_size=width, embed_dim=width, dropout=dropout,
                            tie_embeddings=variant != "small")
        config.train.update(learning_rate=20.0, batch_size=20, seq_len=35)
    elif variant == "awd":
        config.model.update(num_layers=3, hidden_size=1150, embed_dim=400, tie_embeddings=True, locked_dropout=True,
                            output_dropout=0.4, embed_dropout=0.1, weight_drop=0.5, **awd_dropouts)
        config.train.update(learning_rate=30.0, batch_size=awd_batch_size, seq_len=70, ar_alpha=2.0, tar_beta=1.0)
        epochs = awd_epochs
    else:
        raise UsageError(f"unknown variant {variant!r} of {name}: use one of {', '.join(VARIANTS)}")
    steps_per_epoch = train_tokens // (config.train.batch_size * config.train.seq_len)
    config.train.update(num_steps=epochs * steps_per_epoch, eval_every=steps_per_epoch, checkpoint_every=steps_per_epoch)
    return config
