"""Patterns of the programs XLA compiles for CPU: the optimized recurrence's and projection's gradients keep
their buffers in place and transpose nothing. A JAX or XLA upgrade may change these without any change a user
sees; they guard the figures in docs/performance.md (run with ``pytest --perf tests/perf``)."""

import re

import jax
import jax.numpy as jnp
import pytest
from flax import nnx

from rnngen.models import GRUCell, LSTMCell
from rnngen.models.projection import project
from helpers import weighted_sum

TIME, BATCH, INPUT, HIDDEN, PROJ = 7, 3, 4, 5, 20
pytestmark = [pytest.mark.perf,
              pytest.mark.skipif(jax.default_backend() != "cpu", reason="checks the program XLA compiles for CPU")]


def compiled_recurrence_gradient(cell, time, batch, input_size):
    """The compiled gradient, for the parameters and the inputs, of a weighted sum of the outputs and final
    carry of the cell's projection and recurrence over random inputs [time, batch, input_size]."""
    cell.recurrence = "fused"
    graphdef, params = nnx.split(cell)
    inputs = jax.random.normal(jax.random.PRNGKey(4), (time, batch, input_size))

    def loss(params, inputs):
        module = nnx.merge(graphdef, params)
        hs, final = module.recur(module.project_inputs(inputs), module.zero_carry(batch))
        return weighted_sum(hs, final, jax.random.PRNGKey(5))

    return jax.jit(jax.grad(loss, argnums=(0, 1))).lower(params, inputs).compile()


@pytest.mark.parametrize("cell_class,num_gates", [(LSTMCell, 4), (GRUCell, 3)])
def test_the_gradient_keeps_the_gates_and_their_gradients_in_the_input_projections_buffer(cell_class, num_gates):
    """No zero-filled or copied [time, batch, gates] buffer: the forward scan writes the activated gates
    over the input projections, and the backward scan their gradients over the gates, in place."""
    hlo = compiled_recurrence_gradient(cell_class(INPUT, HIDDEN, rngs=nnx.Rngs(0)), TIME, BATCH, INPUT).as_text()
    gates = rf"= f32\[{TIME},{BATCH},{num_gates * HIDDEN}\]\{{[\d,]+\}}"
    filled = re.findall(rf"{gates} (?:broadcast|fusion)\(%constant[.\d]*\)", hlo)
    copied = re.findall(rf"{gates} copy\(", hlo)
    assert not filled and not copied, (filled, copied)
    assert re.search(gates, hlo), "the test's pattern matches no buffer of the gates' shape"


def test_the_gru_gradient_stacks_one_hidden_sized_buffer_besides_the_outputs():
    """The GRU's residual keeps r, z and n in the projection's buffer and only the recurrent part of n as a
    stacked extra, which the backward overwrites with the n-block of its recurrent gradient. The compiled
    gradient's temporaries measured 8.1 [time, batch, hidden] arrays' worth so, 17.0 with r, z, n,
    h_n and the gradients dx and dhz each stacked separately."""
    time, batch, hidden = 50, 16, 64
    compiled = compiled_recurrence_gradient(GRUCell(hidden, hidden, rngs=nnx.Rngs(0)), time, batch, hidden)
    step_bytes = time * batch * hidden * 4
    assert compiled.memory_analysis().temp_size_in_bytes < 9 * step_bytes


def test_the_kernel_gradient_does_not_transpose_the_output_gradient():
    """XLA transposes neither the [proj, time, batch] nor the [proj, time * batch] output gradient (autodiff's
    ``xs.T @ d_out`` does, at every size)."""
    keys = jax.random.split(jax.random.PRNGKey(1), 4)
    xs, weights = jax.random.normal(keys[0], (TIME, BATCH, INPUT)), jax.random.normal(keys[1], (TIME, BATCH, PROJ))
    kernel, bias = jax.random.normal(keys[2], (INPUT, PROJ)), jax.random.normal(keys[3], (PROJ,))

    def loss(kernel, xs, bias, weights):
        return jnp.sum(project(xs, kernel, bias, jnp.float32) * weights)

    hlo = jax.jit(jax.grad(loss)).lower(kernel, xs, bias, weights).compile().as_text()
    transposed = re.findall(rf"= f32\[{PROJ},(?:{TIME},{BATCH}|{TIME * BATCH})\]\{{[\d,]+\}} \w+", hlo)
    assert not transposed, transposed
