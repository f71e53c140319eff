"""The base configuration every config file starts from: each key's default beside its one-line help.

Config files in ``configs/`` call :func:`base_config` and change what they need;
every key can be overridden on the command line as ``--config.KEY=VALUE``, and
``rnngen train --help`` lists them all with their defaults (:data:`KEYS`).
"""

from __future__ import annotations

import ml_collections
from ml_collections import config_dict

# key -> (default, one-line help). A type as the default (str, int) means None until set, of that type.
KEYS: dict[str, tuple[object, str]] = {
    "seed": (0, "seed for parameter init, data order, dropout and eval samples"),

    # data
    "data.source": ("tiny_shakespeare", "tiny_shakespeare | text (one text cut by split_fractions) | "
                    "splits (one file per split) | bytes (a file's first split_bytes: enwik8, text8) | stdlib"),
    "data.path": (str, "text: file or directory of UTF-8 text | splits: a directory in a standard layout "
                  "(train.txt/valid.txt/test.txt, wiki.*.tokens, ptb.*.txt)"),
    "data.train_path": (str, "the training split's file (data.source=splits, instead of data.path)"),
    "data.validation_path": (str, "the validation split's file (data.source=splits)"),
    "data.test_path": (str, "the test split's file (data.source=splits)"),
    "data.split_bytes": ((90_000_000, 5_000_000, 5_000_000),
                         "(train, validation, test) byte counts from the file's start (data.source=bytes)"),
    "data.manual_dir": (str, "directory holding karpathy's input.txt (offline tiny_shakespeare)"),
    "data.data_dir": (str, "TFDS data dir where prepared data is cached (default: TFDS's)"),
    "data.split_fractions": ((0.9, 0.05, 0.05), "(train, validation, test) fractions for text and stdlib sources"),
    "data.max_chars": (int, "cap on the stdlib corpus size in characters (None: no cap)"),
    "data.cache_dir": (str, "where token ids are prepared once and memory-mapped "
                       "(default: $XDG_CACHE_HOME/rnngen/tokens, else ~/.cache/rnngen/tokens)"),
    "data.encoding_errors": ("strict",
        "strict: non-UTF-8 or NUL bytes are an error naming file and offset | replace: bad bytes become U+FFFD"),

    # tokenizer
    "tokenizer.kind": ("char", "char | byte (256 ids) | word (regex words, punctuation, newlines; or pretokenized) | "
                       "subword (SentencePiece)"),
    "tokenizer.lowercase": (False, "lowercase the text before word tokenization (tokenizer.kind=word)"),
    "tokenizer.min_count": (1, "words seen fewer times in the training split become <unk> (word)"),
    "tokenizer.max_size": (0, "cap on the word vocabulary, <unk> included; 0: no cap (word)"),
    "tokenizer.pretokenized": (False, "word: the corpus is already tokenized (PTB, WikiText): split on whitespace, "
                               "<eos> at every line end, its unk_token is the unknown id"),
    "tokenizer.unk_token": ("<unk>", "the pre-tokenized corpus's own unknown token (tokenizer.pretokenized)"),
    "tokenizer.vocab_size": (2000, "SentencePiece vocabulary size (subword)"),
    "tokenizer.subword_model": ("bpe", "bpe | unigram (subword)"),

    # model
    "model.cell": ("lstm", "registered cell name: lstm | gru | rnn | your own"),
    "model.cell_module": (str, "a .py file or module name imported first; it registers your own cells"),
    "model.recurrence": ("auto",
        "how the recurrence runs: scan (lax.scan of the cell's step, the reference) | fused (the built-in cells' hand-"
        "written backward pass) | auto (fused where the cell has it, else scan)"),
    "model.num_layers": (2, "number of stacked recurrent layers"),
    "model.hidden_size": (256, "units per recurrent layer"),
    "model.input": ("embedding", "embedding (learned) | one_hot (classic char-rnn)"),
    "model.embed_dim": (64, "embedding size (model.input=embedding)"),
    "model.dropout": (0.0, "dropout on the embedding, between layers and before the output layer"),
    "model.input_dropout": (float, "dropout on the embedded input (unset: model.dropout); AWD-LSTM's dropouti"),
    "model.hidden_dropout": (float, "dropout between layers (unset: model.dropout); AWD-LSTM's dropouth"),
    "model.output_dropout": (float, "dropout before the output layer (unset: model.dropout); AWD-LSTM's dropout"),
    "model.locked_dropout": (False, "one dropout mask per sequence, the same at every step (variational dropout)"),
    "model.embed_dropout": (0.0, "drop whole embedding rows: every occurrence of a word at once (AWD-LSTM's dropoute)"),
    "model.weight_drop": (0.0, "DropConnect on the hidden-to-hidden weights w_hh, one mask per batch (AWD-LSTM's wdrop)"),
    "model.forget_bias": (1.0, "initial LSTM forget-gate bias"),
    "model.init": ("default", "default (orthogonal recurrent weights, forget bias) | pytorch (nn.LSTM/GRU/RNN, "
                   "nn.Embedding and nn.Linear defaults)"),
    "model.tie_embeddings": (False,
        "share the embedding matrix with the output layer (a projection maps hidden_size to embed_dim)"),

    # train
    "train.batch_size": (64, "number of parallel contiguous streams"),
    "train.seq_len": (100, "truncated-BPTT window length in tokens"),
    "train.num_steps": (5000, "total optimizer steps (a resumed run continues to this)"),
    "train.optimizer": ("adam", "adam | adamw | rmsprop | sgd"),
    "train.learning_rate": (2e-3, "peak learning rate"),
    "train.weight_decay": (0.0, "decoupled weight decay (adamw)"),
    "train.momentum": (0.9, "momentum (sgd, rmsprop)"),
    "train.grad_clip": (5.0, "clip gradients by global norm (0: off)"),
    "train.ar_alpha": (0.0, "activation regularization: alpha * mean square of the last layer's dropped outputs (AR)"),
    "train.tar_beta": (0.0, "temporal activation regularization: beta * mean square of its outputs' step change (TAR)"),
    "train.skip_nonfinite": (False,
        "skip steps with a NaN/inf loss, gradient or update (state kept, `skipped` logged) instead of stopping"),
    "train.schedule": ("constant", "constant | warmup_cosine | plateau (divide by plateau_factor when "
                       "validation stops improving)"),
    "train.plateau_factor": (4.0, "train.schedule=plateau: divide the rate by this (PyTorch's word_language_model: 4)"),
    "train.plateau_patience": (0, "train.schedule=plateau: evaluations without improvement before a cut"),
    "train.warmup_steps": (0, "linear warmup steps (warmup_cosine)"),
    "train.final_lr_fraction": (0.1, "cosine decays to learning_rate * this"),
    "train.compute_dtype": ("float32",
        "float32 | bfloat16: dtype of the recurrent matmuls (parameters, optimizer and loss stay float32)"),
    "train.loss_chunk_size": (0,
        "tokens per chunk of the output layer + loss; 0: auto (chunks of <= 32 MiB logits), -1: never chunk"),
    "train.log_every": (50, "steps between training-metric log lines"),
    "train.eval_every": (500, "steps between evaluations on the whole validation split"),
    "train.eval_batch_size": (16, "streams used by evaluation"),
    "train.checkpoint_every": (500, "steps between checkpoints"),
    "train.keep_checkpoints": (3, "how many latest checkpoints to keep (the best is kept too)"),
    "train.sample_length": (200, "tokens of the sample generated at every evaluation"),
    "train.sample_temperature": (0.8, "temperature of that sample"),
    "train.fsdp": (False,
        "split large parameters and optimizer state over the devices' data axis (FSDP) instead of replicating them"),
    "train.fsdp_min_size": (2**18, "with train.fsdp, arrays of fewer elements than this stay replicated"),

    # distributed
    "distributed.initialize": ("auto",
        "auto (join other processes when the launch has several: SLURM srun, Open MPI, TPU slice, a coordinator set) | "
        "on | off"),
    "distributed.coordinator_address": (str, "host:port of process 0 (None: from the cluster environment)"),
    "distributed.num_processes": (int, "number of processes of the run (None: from the cluster environment)"),
    "distributed.process_id": (int, "this process's index in [0, num_processes) (None: from the cluster environment)"),
}


def base_config() -> ml_collections.ConfigDict:
    """A small LSTM on tiny_shakespeare, from :data:`KEYS`; config files start from this."""
    config = ml_collections.ConfigDict()
    for key, (default, _) in KEYS.items():
        *sections, name = key.split(".")
        section = config
        for part in sections:
            if part not in section:
                section[part] = ml_collections.ConfigDict()
            section = section[part]
        section[name] = config_dict.placeholder(default) if isinstance(default, type) else default
    return config


def config_keys(config: ml_collections.ConfigDict, prefix: str = "") -> list[str]:
    """All leaf keys of ``config`` as dotted paths."""
    keys = []
    for name, value in config.items():
        path = f"{prefix}{name}"
        if isinstance(value, ml_collections.ConfigDict):
            keys.extend(config_keys(value, path + "."))
        else:
            keys.append(path)
    return keys
