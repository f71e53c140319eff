"""Word-level LSTMs on WikiText-2 in its published protocol.

    rnngen train --config configs/wikitext2_word.py:tied --workdir runs/wt2 \
        --config.data.path=wikitext-2        # wiki.train.tokens, wiki.valid.tokens, wiki.test.tokens
    rnngen eval --workdir runs/wt2 --split test --checkpoint best

Variants (``rnngen/protocols.py``): ``small`` (PyTorch's word_language_model defaults, 6
epochs), ``tied`` (the same, tied, 40 epochs), ``medium_tied`` (650 units, dropout 0.5, tied,
40 epochs), ``awd`` (AWD-LSTM's regularization, 750 epochs). Perplexity is per WikiText token,
<eos> included (2,088,628 training tokens).

Expected test perplexity, as published (not yet measured with rnngen: the corpus cannot be
downloaded on the development machines): ``small`` 117.61 and ``tied`` 87.17 (the
word_language_model README, WikiText-2: 6 epochs untied, 40 epochs tied); ``awd`` 65.8 test /
68.6 validation with NT-ASGD and fine-tuning (Merity et al. 2018, table 2), which rnngen does not
have yet (see rnngen/protocols.py).
"""

from rnngen.protocols import word_language_model

TRAIN_TOKENS = 2_088_628


def get_config(variant: str = "tied"):
    return word_language_model(variant, TRAIN_TOKENS, {"input_dropout": 0.65, "hidden_dropout": 0.2},
                               awd_batch_size=80, awd_epochs=750, name="wikitext2_word.py")
