"""The network's fast building blocks against the plain formulations they replace."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from c2f.model.channel_ops import add_bias, channel_sum, scale_shift
from c2f.model.conv import Conv
from c2f.model.layers import max_pool_2x


@pytest.fixture(scope="module")
def x():
    return jnp.asarray(np.random.default_rng(0).normal(size=(2, 6, 8, 5)), jnp.float32)


def test_channel_sum_and_custom_gradients_match_autodiff(x):
    np.testing.assert_allclose(channel_sum(x), jnp.sum(x, (0, 1, 2)), rtol=1e-5)
    rng = np.random.default_rng(1)
    mul, add = (jnp.asarray(rng.normal(size=5), jnp.float32) for _ in range(2))
    weights = jnp.asarray(rng.normal(size=x.shape), jnp.float32)

    def loss(f):
        return lambda *args: jnp.sum(jnp.tanh(f(*args)) * weights)

    ours = jax.grad(loss(scale_shift), argnums=(0, 1, 2))(x, mul, add)
    plain = jax.grad(loss(lambda a, m, b: a * m + b), argnums=(0, 1, 2))(x, mul, add)
    for a, b in zip(ours, plain):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    ours = jax.grad(loss(add_bias), argnums=(0, 1))(x, add)
    plain = jax.grad(loss(lambda a, b: a + b), argnums=(0, 1))(x, add)
    for a, b in zip(ours, plain):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_max_pool_matches_reduce_window_value_and_gradient(x):
    def window(v):
        return jax.lax.reduce_window(v, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

    np.testing.assert_array_equal(max_pool_2x(x), window(x))
    w = jnp.arange(2 * 3 * 4 * 5, dtype=jnp.float32).reshape(2, 3, 4, 5)
    g_ours = jax.grad(lambda v: jnp.sum(max_pool_2x(v) * w))(x)
    g_window = jax.grad(lambda v: jnp.sum(window(v) * w))(x)
    np.testing.assert_array_equal(g_ours, g_window)  # distinct inputs: no ties


@pytest.mark.parametrize("kernel, stride", [(1, 1), (3, 1), (7, 2)])
def test_conv_matches_lax_convolution(x, kernel, stride):
    from flax import nnx

    conv = Conv(5, 4, kernel, stride, dtype=jnp.float32, rngs=nnx.Rngs(0))
    conv.bias.set_value(jnp.arange(4, dtype=jnp.float32))
    pad = kernel // 2
    ref = jax.lax.conv_general_dilated(
        x, conv.kernel[...], (stride, stride), ((pad, pad), (pad, pad)),
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    ) + conv.bias[...]  # fmt: skip
    np.testing.assert_allclose(conv(x), ref, rtol=1e-5, atol=1e-5)
    assert conv.kernel[...].shape == (kernel, kernel, 5, 4)  # nnx.Conv's names and shapes
