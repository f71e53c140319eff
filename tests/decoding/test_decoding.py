"""Decoding beyond plain sampling, against fake models with known outputs: repetition
control, stop strings, beam search (against brute force) and scoring."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnngen.decoding.beam_search import beam_search
from rnngen.decoding.repetition import penalize_repeats, repeated_ngram_ban
from rnngen.decoding.stop_strings import StopTable, build_stop_table, cut_at_stop, push_token
from rnngen.decoding.texts import row_texts
from rnngen.decoding.sampler import make_settings, sample, sample_until


# The fake models take what they emit as their params, so that one compiled sampler
# serves every test of a shape (the sampler is compiled once per apply_fn).


def fixed_apply(row, tokens, carry):
    """Logits always ``row`` float32 [vocab]; the carry is unused."""
    return jnp.broadcast_to(row, tokens.shape + row.shape), carry


def script_apply(scripts, tokens, carry):
    """Row b emits scripts[b] (int32 [batch, time]) token by token, whatever it is fed.

    The carry [batch] counts the tokens seen; prompts here have length 1, so the
    prediction after the prompt is scripts[b, 0].
    """
    vocab = len(PIECES)

    def step(count, _):
        target = jnp.take_along_axis(scripts, jnp.minimum(count, scripts.shape[1] - 1)[:, None], axis=1)[:, 0]
        return count + 1, jax.nn.one_hot(target, vocab) * 10.0

    carry, logits = jax.lax.scan(step, carry, None, length=tokens.shape[1])
    return jnp.swapaxes(logits, 0, 1), carry


def table_apply(table, tokens, carry):
    """Logits table[position, previous token] (table float32 [positions, vocab, vocab]); the carry
    [batch] is the position, the prompt's tokens included."""

    def step(position, token):
        return position + 1, table[jnp.minimum(position, table.shape[0] - 1), token]

    carry, logits = jax.lax.scan(step, carry, tokens.T)
    return jnp.swapaxes(logits, 0, 1), carry


class Model:
    """A fake model bound to its params: ``model.apply_fn`` and ``model.params``."""

    def __init__(self, apply_fn, params):
        self.apply_fn, self.params = apply_fn, jnp.asarray(params, jnp.float32)


def fixed_model(row):
    """Logits ``row`` padded to 6 ids with -100 (never chosen), so that every fixed model shares one compilation."""
    return Model(fixed_apply, list(row) + [-100.0] * (6 - len(row)))


def table_model(table):
    return Model(table_apply, table)


def zeros(batch):
    return jnp.zeros((batch,), jnp.int32)


def greedy(model, prompt, num_new, **options):
    """The first ``num_new`` of 12 greedy tokens (decoding is causal; one length compiles once)."""
    prompt = jnp.asarray(prompt, jnp.int32)
    ids = sample(model.apply_fn, model.params, zeros(prompt.shape[0]), jax.random.PRNGKey(0), prompt, 12,
                 temperature=0.0, **options)
    return np.asarray(ids)[:, :num_new].tolist()


# Repetition control ------------------------------------------------------------------


def test_repetition_penalty_divides_positive_and_multiplies_negative_logits():
    logits = jnp.asarray([[2.0, -1.0, 0.5, -2.0]])
    seen = jnp.asarray([[True, True, False, False]])
    np.testing.assert_allclose(penalize_repeats(logits, seen, jnp.float32(2.0)), [[1.0, -2.0, 0.5, -2.0]])


def test_repetition_penalty_counts_the_prompt_and_the_generated_tokens():
    model = fixed_model([3.0, 2.5, 2.0, -1.0])
    # prompt [3]: -1 -> -2; then 0 (3 -> 1.5), 1 (2.5 -> 1.25), 2 (2 -> 1); then 0 stays the largest.
    assert greedy(model, [[3]], 5, repetition_penalty=2.0) == [[0, 1, 2, 0, 0]]
    # prompt [0]: 3 -> 1.5 at once, so 1 comes first.
    assert greedy(model, [[0]], 3, repetition_penalty=2.0) == [[1, 2, 0]]
    assert greedy(model, [[3]], 3) == [[0, 0, 0]]  # 1.0 is off


def test_no_repeat_ngram_bans_the_completions_of_seen_ngrams():
    history = jnp.asarray([[1, 2, 3, 1, 2, 0, 0]])  # the sequence is the first 5; the rest is room
    ban = lambda n: np.flatnonzero(np.asarray(repeated_ngram_ban(history, jnp.int32(5), jnp.int32(n), 5))[0]).tolist()
    assert ban(3) == [3]  # (1, 2) -> 3 seen
    assert ban(2) == [3]  # (2) -> 3 seen; (2, 0) lies outside the sequence
    assert ban(1) == [1, 2, 3]  # every token already present
    assert ban(4) == []  # (3, 1, 2) never followed by anything
    assert ban(0) == []


def test_no_repeat_ngram_changes_greedy_decoding():
    model = fixed_model([3.0, 2.0, 1.0, 0.0])
    # 0 0 (new bigram), then (0, 0) is taken -> 1; 1 -> 0; (0, 0) and (0, 1) are taken -> 2.
    assert greedy(model, [[0]], 4, no_repeat_ngram_size=2) == [[0, 1, 0, 2]]
    assert greedy(model, [[0]], 4) == [[0, 0, 0, 0]]


def reference_greedy(row, prompt, num_new, penalty=1.0, ngram=0):
    """Plain-Python greedy decoding of a fixed logits row with the two repetition controls."""
    seq = list(prompt)
    for _ in range(num_new):
        logits = [(x / penalty if x > 0 else x * penalty) if i in seq else x for i, x in enumerate(row)]
        if ngram:
            tail = tuple(seq[len(seq) - ngram + 1:]) if ngram > 1 else ()
            for i in range(len(seq) - ngram + 1):
                if tuple(seq[i:i + ngram - 1]) == tail:
                    logits[seq[i + ngram - 1]] = -np.inf
        seq.append(int(np.argmax(logits)))
    return seq[len(prompt):]


@pytest.mark.parametrize("penalty, ngram", [(1.7, 0), (1.0, 3), (1.3, 2)])
def test_repetition_controls_match_a_plain_reference(penalty, ngram):
    row = [1.5, 1.4, -0.2, 1.3, 0.9, -1.0]
    got = greedy(fixed_model(row), [[2, 0]], 12, repetition_penalty=penalty, no_repeat_ngram_size=ngram)
    assert got == [reference_greedy(row, [2, 0], 12, penalty, ngram)]


def test_new_runtime_settings_do_not_recompile():
    model = fixed_model([1.0, 0.5, 0.2])
    greedy(model, [[0]], 4, repetition_penalty=1.2, no_repeat_ngram_size=2)
    size = sample._cache_size()
    greedy(model, [[0]], 4, repetition_penalty=1.0, no_repeat_ngram_size=0)
    greedy(model, [[0]], 4, repetition_penalty=3.0, no_repeat_ngram_size=3)
    assert sample._cache_size() == size


# Stop strings -------------------------------------------------------------------------

PIECES = [b"", b"a", b"b", b"\n", b"\n\n", b"x\ny"]


def piece_table(stops):
    width = max(map(len, PIECES))
    pieces = np.full((len(PIECES), width), -1, np.int32)
    for i, p in enumerate(PIECES):
        pieces[i, : len(p)] = list(p)
    stop_width = max(map(len, stops))
    stop_array = np.full((len(stops), stop_width), -1, np.int32)
    for i, s in enumerate(stops):
        stop_array[i, stop_width - len(s):] = list(s.encode())
    return StopTable(jnp.asarray(pieces), jnp.asarray([len(p) for p in PIECES], jnp.int32), jnp.asarray(stop_array))


def run_until(script, stops, batch_scripts=None, num_new=8):
    scripts = jnp.asarray(batch_scripts or [script], jnp.int32)
    prompt = jnp.ones((len(scripts), 1), jnp.int32)
    out = sample_until(script_apply, scripts, zeros(len(scripts)), jax.random.PRNGKey(0), prompt, num_new,
                       make_settings(temperature=0.0), piece_table(stops))
    return jax.device_get(out)


@pytest.mark.parametrize(
    "script, stops, length",
    [
        ([1, 3, 3, 2, 2, 2, 2, 2], ["\n\n"], 3),  # across two tokens
        ([1, 4, 2, 2, 2, 2, 2, 2], ["\n\n"], 2),  # inside one token
        ([1, 5, 2, 2, 2, 2, 2, 2], ["\ny"], 2),  # inside a token that carries text past it
        ([1, 5, 3, 1, 2, 2, 2, 2], ["y\na"], 4),  # over three tokens
        ([3, 1, 2, 1, 2, 1, 2, 1], ["ba", "zz"], 4),  # the first of several
        ([1, 2, 1, 2, 1, 2, 1, 2], ["\n"], 8),  # never: the full length
    ],
)
def test_a_row_stops_at_the_token_that_completes_a_stop_string(script, stops, length):
    out = run_until(script, stops)
    assert out.lengths.tolist() == [length]
    assert out.tokens[0, :length].tolist() == script[:length] and not out.tokens[0, length:].any()


def test_the_loop_ends_once_every_row_has_stopped():
    both = run_until(None, ["\n\n"], [[1, 4, 2, 2, 2, 2, 2, 2], [1, 2, 3, 3, 2, 2, 2, 2]])
    assert both.lengths.tolist() == [2, 4] and int(both.steps) == 4
    one = run_until(None, ["\n\n"], [[1, 4, 2, 2, 2, 2, 2, 2], [1, 2, 2, 2, 2, 2, 2, 2]])
    assert one.lengths.tolist() == [2, 8] and int(one.steps) == 8


def test_without_stops_the_stopping_sampler_equals_sample():
    row = jnp.linspace(0.0, 1.0, 7)
    prompt = jnp.zeros((3, 2), jnp.int32)
    key = jax.random.PRNGKey(4)
    plain = sample(fixed_apply, row, zeros(3), key, prompt, 20, temperature=1.3, top_k=5)
    stopping = sample_until(fixed_apply, row, zeros(3), key, prompt, 20, make_settings(1.3, 5), None)
    assert (np.asarray(plain) == np.asarray(stopping.tokens)).all() and stopping.lengths.tolist() == [20] * 3


class Chars:
    """A toy tokenizer: ids index PIECES; decoding concatenates them."""

    type_name = "subword"
    piece_bytes = tuple(PIECES)

    def decode(self, ids):
        return b"".join(PIECES[i] for i in ids).decode()


def test_the_text_is_cut_before_the_stop_string():
    assert cut_at_stop("ab\n\ncd", ["\n\n"]) == ("ab", True)
    assert cut_at_stop("abcd", ["zz", "c", "b"]) == ("a", True)
    assert cut_at_stop("abcd", ["zz"]) == ("abcd", False)
    out = run_until([1, 5, 3, 1, 2, 2, 2, 2], ["y\na"])
    assert row_texts(Chars(), out.tokens, out.lengths, ["y\na"]) == ["ax\n"]
    table = build_stop_table(Chars(), ["\n\n"])
    np.testing.assert_array_equal(table.pieces, piece_table(["\n\n"]).pieces)


def test_push_token_keeps_the_last_bytes():
    table = piece_table(["ab"])
    tail = jnp.full((1, table.stops.shape[1] + table.pieces.shape[1] - 1), -2, jnp.int32)
    tail, stopped = push_token(table, tail, jnp.asarray([1]))
    assert not stopped[0] and tail[0, -1] == ord("a")
    tail, stopped = push_token(table, tail, jnp.asarray([5]))
    assert not stopped[0] and tail[0, -3:].tolist() == list(b"x\ny")


# Beam search --------------------------------------------------------------------------


def brute_force(table, prompt, num_new):
    """Every continuation's log-probability under :func:`table_apply`, best first."""
    vocab = table.shape[-1]
    seqs = [list(s) for s in itertools.product(range(vocab), repeat=num_new)]
    ids = jnp.asarray([prompt + s for s in seqs], jnp.int32)
    logits, _ = table_apply(jnp.asarray(table), ids[:, :-1], zeros(len(seqs)))
    log_probs = jax.nn.log_softmax(logits[:, len(prompt) - 1:], axis=-1)
    totals = np.take_along_axis(np.asarray(log_probs), np.asarray(ids[:, len(prompt):, None]), -1).sum(axis=(1, 2))
    order = np.argsort(-totals, kind="stable")
    return [seqs[i] for i in order], totals[order]


@pytest.mark.parametrize("vocab, num_new", [(3, 4), (4, 3)])
def test_beam_search_finds_the_most_likely_sequences(vocab, num_new):
    table = np.asarray(jax.random.normal(jax.random.PRNGKey(vocab), (num_new + 2, vocab, vocab))) * 2.0
    prompts = [[0, 1], [2, 2]]
    num_beams = vocab ** (num_new - 1)  # enough beams to keep every prefix: exact
    beams = beam_search(table_apply, jnp.asarray(table, jnp.float32), zeros(2), jnp.asarray(prompts, jnp.int32), num_new, num_beams)
    for row, prompt in enumerate(prompts):
        best_seqs, best_totals = brute_force(table, prompt, num_new)
        assert beams.tokens[row, :3].tolist() == best_seqs[:3]
        np.testing.assert_allclose(beams.log_probs[row, :3], best_totals[:3], rtol=1e-5)


def test_beam_search_beats_greedy_where_greedy_is_short_sighted():
    # Position 0: token 0 (0.6) over 1 (0.4); after 0 the next is uniform over 3, after 1 it is certain.
    table = np.zeros((3, 3, 3), np.float32)
    table[0, 2] = np.log([0.6, 0.4, 1e-9])
    table[1, 1] = [0.0, -50.0, -50.0]
    prompt = jnp.asarray([[2]], jnp.int32)
    assert greedy(table_model(table), prompt, 2) == [[0, 0]]
    beams = beam_search(table_apply, jnp.asarray(table, jnp.float32), zeros(1), prompt, 2, 2)
    assert beams.tokens[0, 0].tolist() == [1, 0]
    np.testing.assert_allclose(beams.log_probs[0, 0], np.log(0.4), rtol=1e-5)


def test_one_beam_is_greedy_and_the_search_is_deterministic():
    table = np.asarray(jax.random.normal(jax.random.PRNGKey(1), (12, 5, 5)))
    prompt = jnp.asarray([[0, 3], [4, 1]], jnp.int32)
    beams = beam_search(table_apply, jnp.asarray(table, jnp.float32), zeros(2), prompt, 10, 1)
    assert beams.tokens[:, 0].tolist() == greedy(table_model(table), prompt, 10)
    again = beam_search(table_apply, jnp.asarray(table, jnp.float32), zeros(2), prompt, 10, 3)
    assert (beam_search(table_apply, jnp.asarray(table, jnp.float32), zeros(2), prompt, 10, 3).tokens == again.tokens).all()


def test_beam_scores_follow_the_length_penalty_and_skip_the_banned_id():
    table = np.asarray(jax.random.normal(jax.random.PRNGKey(2), (8, 4, 4)))
    out = beam_search(table_apply, jnp.asarray(table, jnp.float32), zeros(1), jnp.asarray([[1]], jnp.int32), 6, 3, 2.0, banned_id=0)
    np.testing.assert_allclose(out.scores, out.log_probs / 6 ** 2.0, rtol=1e-6)
    assert (np.asarray(out.tokens) != 0).all()
    assert (np.diff(np.asarray(out.log_probs)[0]) <= 0).all()  # best first


# Scoring ------------------------------------------------------------------------------


def test_score_equals_the_evaluation_loss_and_sums_its_token_surprisals(tmp_path):
    from flax import nnx
    from helpers import tiny_config
    from rnngen.api import LanguageModel
    from rnngen.data.char_tokenizer import CharTokenizer
    from rnngen.data.corpus import encode_split
    from rnngen.train.evaluation import evaluate
    from rnngen.checkpoints.restoring import TrainedModel
    from rnngen.train.train import build_setup
    from rnngen.train.train import make_eval_step

    text = "".join(f"KING {i % 7}: to be or not to be {i % 13}.\n" for i in range(12))  # > one 256-token window
    tokenizer = CharTokenizer.from_text(text)
    config = tiny_config(str(tmp_path / "unused.txt"))
    setup = build_setup(config, tokenizer.vocab_size)
    graphdef = nnx.split(setup.model)[0]
    model = LanguageModel(TrainedModel(config, tokenizer, setup.model, setup.apply_fn, setup.state.params, 0, graphdef))
    scored = model.score(text)
    expected = evaluate(jax.jit(make_eval_step(setup.loss_fn)), setup.state.params, setup.model.zero_carry(1),
                        encode_split(tokenizer, text), batch_size=1, seq_len=16)
    assert scored["tokens"] == expected["tokens"] == len(text) - 1
    assert scored["bits_per_char"] == pytest.approx(expected["bpc"], rel=1e-5)
    assert sum(scored["token_bits"]) == pytest.approx(scored["bits"], rel=1e-9)
    assert "".join(scored["token_texts"]) == text[1:]
    with pytest.raises(ValueError, match="fewer than 2 tokens"):
        model.score("K")


def test_a_word_model_continuation_is_spaced_from_its_prompt():
    from ml_collections import ConfigDict

    from rnngen.data.char_tokenizer import CharTokenizer
    from rnngen.data.word_tokenizer import WordTokenizer
    from rnngen.decoding.texts import separator

    words = WordTokenizer.from_text("KING HENRY:\nI go.\n", ConfigDict({"lowercase": False, "min_count": 1, "max_size": 0, "pretokenized": False, "unk_token": "<unk>"}))
    king, henry, colon = (int(words.encode(w)[0]) for w in ("KING", "HENRY", ":"))
    assert separator(words, king, [henry]) == " "
    assert separator(words, king, [colon]) == ""
    assert separator(words, king, []) == ""
    chars = CharTokenizer.from_text("ab")
    assert separator(chars, 1, [2]) == ""
