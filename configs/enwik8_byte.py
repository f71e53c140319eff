"""Byte-level LSTM on enwik8 in its standard protocol: the first 90M bytes train, the next 5M
validate, the last 5M test; bits per character are bits per byte.

    rnngen train --config configs/enwik8_byte.py --workdir runs/enwik8 --config.data.path=enwik8
    rnngen eval --workdir runs/enwik8 --split test --checkpoint best      # prints bits/byte

The model is AWD-LSTM's for enwik8 (Merity et al. 2018, "An Analysis of Neural Language Modeling
at Multiple Scales", and its repository's enwik8 command): 3 layers of 1840 units, a 400-wide
embedding, Adam at 1e-3, 150-byte windows of 128 streams, gradients clipped at 0.25, locked
dropout 0.1 on inputs, between layers and on outputs, weight drop 0.2, 50 epochs (about
234,000 steps). Expected test result, as published there: 1.232 bits per byte (not yet
measured with rnngen: the corpus cannot be downloaded on the development machines).
Differences: the published model's last layer is 400 wide (here every layer is 1840 wide,
projected to the output), it divides the rate by 10 at epochs 25 and 35 (here constant), and
it uses weight decay 1.2e-6. ``:quick`` is a 1x512 model for a first look on a GPU.
"""

from rnngen.config import base_config
from rnngen.errors import UsageError

TRAIN_BYTES = 90_000_000


def get_config(variant: str = "full"):
    config = base_config()
    config.data.update(source="bytes", split_bytes=(90_000_000, 5_000_000, 5_000_000))
    config.tokenizer.kind = "byte"
    config.train.update(optimizer="adam", learning_rate=1e-3, grad_clip=0.25, seq_len=150, batch_size=128,
                        eval_batch_size=128, sample_length=300)
    if variant == "full":
        config.model.update(num_layers=3, hidden_size=1840, embed_dim=400, locked_dropout=True, dropout=0.1,
                            weight_drop=0.2)
        epochs = 50
    elif variant == "quick":
        config.model.update(num_layers=1, hidden_size=512, embed_dim=64)
        epochs = 1
    else:
        raise UsageError(f"unknown variant {variant!r} of enwik8_byte.py: use full or quick")
    steps_per_epoch = TRAIN_BYTES // (config.train.batch_size * config.train.seq_len)
    config.train.update(num_steps=epochs * steps_per_epoch, eval_every=steps_per_epoch // 4,
                        checkpoint_every=steps_per_epoch // 4)
    return config
