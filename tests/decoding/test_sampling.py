"""The pure sampler against fake logits functions with exact expected outputs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnngen.decoding.filters import top_k_filter, top_p_filter
from rnngen.decoding.sampler import sample

VOCAB = 11


def counting_model(params, tokens, carry):
    """A fake model whose carry counts the tokens seen; it predicts (token + count) % VOCAB.

    tokens int32 [batch, time], carry int32 [batch] -> logits [batch, time, VOCAB].
    """

    def step(count, token):
        count = count + 1
        return count, jax.nn.one_hot((token + count) % VOCAB, VOCAB) * 10.0

    carry, logits = jax.lax.scan(step, carry, tokens.T)
    return jnp.swapaxes(logits, 0, 1), carry


def uniform_model(params, tokens, carry):
    return jnp.zeros(tokens.shape + (VOCAB,)), carry


def expected_counting(prompt, num_new):
    seq, count = list(prompt), 0
    for _ in prompt:
        count += 1
    out = []
    token = (seq[-1] + count) % VOCAB
    for _ in range(num_new):
        out.append(token)
        count += 1
        token = (token + count) % VOCAB
    return out


def run(model, prompt_ids, num_new, seed=0, **options):
    prompt_ids = jnp.asarray(prompt_ids, jnp.int32)
    carry = jnp.zeros((prompt_ids.shape[0],), jnp.int32)
    return np.asarray(sample(model, None, carry, jax.random.PRNGKey(seed), prompt_ids, num_new, **options))


def test_greedy_feeds_each_prediction_back_with_the_carry():
    prompts = [[0, 3, 5], [2, 2, 9]]
    out = run(counting_model, prompts, 8, temperature=0.0)
    assert out.shape == (2, 8)
    for row, prompt in zip(out, prompts):
        assert row.tolist() == expected_counting(prompt, 8)


def test_low_temperature_and_top_k_one_equal_greedy():
    greedy = run(counting_model, [[1, 4]], 10, temperature=0.0)
    assert (run(counting_model, [[1, 4]], 10, seed=3, temperature=1.0) == greedy).all()  # logits are peaked

    def ramp(params, tokens, carry):  # nearly flat logits, largest for the last token
        return jnp.broadcast_to(jnp.arange(VOCAB) * 0.01, tokens.shape + (VOCAB,)), carry

    assert (run(ramp, [[1]], 10, seed=3, temperature=1.0, top_k=1) == VOCAB - 1).all()


def test_same_seed_same_output_different_seed_different_output():
    first = run(uniform_model, [[0]] * 4, 30, seed=7, temperature=1.0)
    again = run(uniform_model, [[0]] * 4, 30, seed=7, temperature=1.0)
    other = run(uniform_model, [[0]] * 4, 30, seed=8, temperature=1.0)
    assert (first == again).all()
    assert (first != other).any()
    assert len({tuple(row) for row in first}) == 4  # each batch row draws its own tokens


def test_greedy_output_does_not_depend_on_the_seed():
    assert (run(counting_model, [[3]], 12, seed=1, temperature=0.0) == run(counting_model, [[3]], 12, seed=2, temperature=0.0)).all()


def test_runtime_settings_do_not_recompile():
    run(uniform_model, [[0]], 5, temperature=0.5, top_k=3, top_p=0.9)
    size = sample._cache_size()
    run(uniform_model, [[0]], 5, temperature=1.5, top_k=5, top_p=0.5)
    run(uniform_model, [[0]], 5, temperature=0.0, top_k=0, top_p=1.0)
    assert sample._cache_size() == size


def test_top_k_filter_keeps_the_k_largest():
    logits = jnp.asarray([[1.0, 4.0, 2.0, 3.0]])
    np.testing.assert_array_equal(top_k_filter(logits, jnp.int32(2)), [[-np.inf, 4.0, -np.inf, 3.0]])
    np.testing.assert_array_equal(top_k_filter(logits, jnp.int32(0)), logits)


@pytest.mark.parametrize("top_p, kept", [(0.5, [0]), (0.7, [0, 1]), (0.85, [0, 1, 2]), (1.0, [0, 1, 2, 3])])
def test_top_p_filter_keeps_the_smallest_nucleus(top_p, kept):
    logits = jnp.log(jnp.asarray([[0.5, 0.3, 0.15, 0.05]]))
    filtered = np.asarray(top_p_filter(logits, jnp.float32(top_p)))[0]
    assert np.flatnonzero(np.isfinite(filtered)).tolist() == kept


def test_top_k_and_top_p_restrict_sampled_tokens():
    logits_row = jnp.log(jnp.asarray([0.4, 0.3, 0.2, 0.1] + [1e-3] * (VOCAB - 4)))

    def peaked(params, tokens, carry):
        return jnp.broadcast_to(logits_row, tokens.shape + (VOCAB,)), carry

    assert set(run(peaked, [[0]] * 8, 40, temperature=1.0, top_k=2).ravel()) == {0, 1}
    assert set(run(peaked, [[0]] * 8, 40, temperature=1.0, top_p=0.75).ravel()) == {0, 1, 2}
