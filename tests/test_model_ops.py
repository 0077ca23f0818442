"""The network's fast building blocks against the plain formulations they replace."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from c2f.model.batch_norm import BatchNorm
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


def test_batch_norm_gradient_matches_autodiff_of_the_plain_formula():
    # The hand-written backward of training-mode BatchNorm against jax differentiating the
    # textbook formula; the input's mean is far from 0, where a careless form loses precision.
    from flax import nnx

    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.normal(3.0, 2.0, size=(2, 6, 8, 5)), jnp.float32)
    weights = jnp.asarray(rng.normal(size=x.shape), jnp.float32)
    bn = BatchNorm(5, scale_rng=jax.random.key(0))
    bn.bias.set_value(jnp.asarray(rng.normal(size=5), jnp.float32))
    scale, bias = bn.scale[...], bn.bias[...]

    def plain(x, scale, bias):
        mean = jnp.mean(x, axis=(0, 1, 2))
        var = jnp.mean(jnp.square(x - mean), axis=(0, 1, 2))
        return (x - mean) / jnp.sqrt(var + 1e-5) * scale + bias, mean, var

    def ours(x, scale, bias):
        model = nnx.clone(bn)
        model.scale.set_value(scale)
        model.bias.set_value(bias)
        y = model(x)
        return y, (model.mean[...] - 0.9 * bn.mean[...]) / 0.1, (model.var[...] - 0.9) / 0.1

    for f in (plain, ours):
        y, mean, var = jax.jit(f)(x, scale, bias)
        np.testing.assert_allclose(mean, jnp.mean(x, axis=(0, 1, 2)), rtol=1e-5)
        np.testing.assert_allclose(var, jnp.var(x, axis=(0, 1, 2)), rtol=1e-4)
    ys = [jax.jit(f)(x, scale, bias)[0] for f in (plain, ours)]
    np.testing.assert_allclose(ys[1], ys[0], rtol=1e-5, atol=1e-5)

    def loss(f):
        return lambda *args: jnp.sum(jnp.tanh(f(*args)[0]) * weights)

    grads = [jax.jit(jax.grad(loss(f), argnums=(0, 1, 2)))(x, scale, bias) for f in (plain, ours)]
    for name, a, b in zip(("x", "scale", "bias"), *grads):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5, err_msg=name)
    assert float(jnp.abs(grads[1][0]).max()) > 0.01  # not vacuous


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
