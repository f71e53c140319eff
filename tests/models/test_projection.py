"""The input projection's hand-written backward pass against autodiff of the plain matmul."""


import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnngen.models.projection import project

TIME, BATCH, INPUT, PROJ = 7, 3, 5, 20


def plain_project(xs, kernel, bias, compute_dtype):
    product = jnp.matmul(xs.astype(compute_dtype), kernel.astype(compute_dtype), preferred_element_type=jnp.float32)
    return product + bias


def arrays(seed=0):
    keys = jax.random.split(jax.random.PRNGKey(seed), 4)
    xs = jax.random.normal(keys[0], (TIME, BATCH, INPUT))
    kernel, bias = jax.random.normal(keys[1], (INPUT, PROJ)), jax.random.normal(keys[2], (PROJ,))
    weights = jax.random.normal(keys[3], (TIME, BATCH, PROJ))
    return xs, kernel, bias, weights


@pytest.mark.parametrize("compute_dtype", [jnp.float32, jnp.bfloat16])
def test_project_equals_the_plain_matmul_in_values_and_gradients(compute_dtype):
    xs, kernel, bias, weights = arrays()

    def loss(fn, xs, kernel, bias):
        out = fn(xs, kernel, bias, compute_dtype)
        return jnp.sum(out * weights), out

    (value, out), grads = jax.value_and_grad(lambda *a: loss(project, *a), argnums=(0, 1, 2), has_aux=True)(
        xs, kernel, bias
    )
    (ref_value, ref_out), ref_grads = jax.value_and_grad(
        lambda *a: loss(plain_project, *a), argnums=(0, 1, 2), has_aux=True
    )(xs, kernel, bias)
    tolerance = 1e-5 if compute_dtype == jnp.float32 else 2e-2
    np.testing.assert_allclose(value, ref_value, rtol=tolerance)
    for got, want in zip((out, *grads), (ref_out, *ref_grads)):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance)


def test_no_input_gradient_is_computed_for_inputs_that_are_not_differentiated():
    """A one-hot table's projection: only the kernel and bias gradients are computed."""
    xs, kernel, bias, weights = arrays(2)
    jaxpr = jax.make_jaxpr(jax.grad(lambda kernel: jnp.sum(project(xs, kernel, bias, jnp.float32) * weights)))(kernel)
    outputs = [v.aval.shape for eqn in jaxpr.jaxpr.eqns for v in eqn.outvars if eqn.primitive.name == "dot_general"]
    assert xs.shape not in outputs, outputs
    assert any(shape in (kernel.shape, kernel.shape[::-1]) for shape in outputs), outputs
