"""Batch normalisation over every axis but the channels, with running averages.

Why not ``nnx.BatchNorm``: it writes its running statistics with ``v[...] = x``; under
``jax.jit`` (flax 0.12 with jax 0.10) every such write makes jax format an error message that
walks the whole trace so far, so tracing grows quadratically with depth: the paper network's
training forward took about 8 s to trace instead of 0.6 s. Replacing the variable's value
whole (``set_value``) avoids the check. Statistics are computed in float32 whatever the compute
dtype, as matrix-vector products (:mod:`c2f.model.channel_ops`). ``model.train()`` /
``model.eval()`` toggle ``use_running_average`` as for flax's own.

In training, the normalisation has a hand-written gradient (:func:`normalize_batch`): the
textbook form, two per-channel sums and one elementwise pass. Differentiated through, the same
function gave XLA about 4 more programs per BatchNorm to compile (369 in the paper network):
the paper step's compilation fell from 32 to 27 s and its tracing from 7 to 5 s
(docs/speed.md); the gradients agree to float32 rounding (tests/test_model_ops.py).
"""

import jax
import jax.numpy as jnp
from flax import nnx

from c2f.model.channel_ops import channel_sum, scale_shift


class BatchNorm(nnx.Module):
    """BatchNorm for [..., C] inputs; Torch's defaults (momentum 0.1 = 0.9 here, eps 1e-5).

    ``scale_rng``: when given, scales start uniform in [0, 1] as Torch7's
    ``nn.SpatialBatchNormalization:reset()`` (the authors' initialisation); otherwise at 1.
    """

    def __init__(
        self,
        num_features: int,
        *,
        momentum: float = 0.9,
        epsilon: float = 1e-5,
        dtype=None,
        scale_rng=None,
    ):
        if scale_rng is None:
            scale = jnp.ones((num_features,), jnp.float32)
        else:
            scale = jax.random.uniform(scale_rng, (num_features,), jnp.float32)
        self.scale = nnx.Param(scale)
        self.bias = nnx.Param(jnp.zeros((num_features,), jnp.float32))
        self.mean = nnx.BatchStat(jnp.zeros((num_features,), jnp.float32))
        self.var = nnx.BatchStat(jnp.ones((num_features,), jnp.float32))
        self.momentum = momentum
        self.epsilon = epsilon
        self.dtype = dtype
        self.use_running_average = False

    def __call__(self, x):
        x = x.astype(self.dtype or x.dtype)
        if not self.use_running_average:
            y, mean, var = normalize_batch(x, self.scale[...], self.bias[...], self.epsilon)
            m = self.momentum
            self.mean.set_value(jax.lax.stop_gradient(m * self.mean[...] + (1 - m) * mean))
            self.var.set_value(jax.lax.stop_gradient(m * self.var[...] + (1 - m) * var))
            return y
        mul = self.scale[...] * jax.lax.rsqrt(self.var[...] + self.epsilon)
        add = self.bias[...] - self.mean[...] * mul
        return scale_shift(x, mul.astype(x.dtype), add.astype(x.dtype))


def batch_statistics(x):
    """Per-channel (mean, variance) of [..., C] ``x``, float32 [C] each (biased variance)."""
    n = x.size // x.shape[-1]
    xf = x.astype(jnp.float32)
    mean = channel_sum(xf) / n
    # Two passes: E[x^2] - E[x]^2 cancels catastrophically when |mean| >> std, which made
    # results depend on the summation order (1 vs 4 devices) at the 1e-4 level.
    var = channel_sum(jnp.square(xf - mean)) / n
    return mean, var


@jax.custom_vjp
def normalize_batch(x, scale, bias, epsilon: float):
    """``(y, mean, var)``: [..., C] ``x`` normalised by its own channel statistics.

    ``y = (x - mean) / sqrt(var + epsilon) * scale + bias`` in ``x``'s dtype; ``mean`` and
    ``var`` (float32 [C]) are returned for the running averages and carry no gradient.
    ``scale`` and ``bias``: float32 [C].
    """
    return _normalize_fwd(x, scale, bias, epsilon)[0]


def _normalize_fwd(x, scale, bias, epsilon):
    mean, var = batch_statistics(x)
    inv = jax.lax.rsqrt(var + epsilon)
    mul = scale * inv
    y = x * mul.astype(x.dtype) + (bias - mean * mul).astype(x.dtype)
    return (y, mean, var), (x, mean, inv, scale)


def _normalize_bwd(residuals, cotangents):
    x, mean, inv, scale = residuals
    g = cotangents[0].astype(jnp.float32)  # mean and var only feed the running averages
    n = x.size // x.shape[-1]
    xhat = (x.astype(jnp.float32) - mean) * inv
    sum_g, sum_gx = channel_sum(g), channel_sum(g * xhat)
    dx = (scale * inv) * (g - sum_g / n - xhat * (sum_gx / n))
    return dx.astype(x.dtype), sum_gx, sum_g, None


normalize_batch.defvjp(_normalize_fwd, _normalize_bwd)
