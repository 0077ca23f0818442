"""Batch normalisation over every axis but the channels, with running averages.

Why not ``nnx.BatchNorm``: it writes its running statistics with ``v[...] = x``; under
``jax.jit`` (flax 0.12 with jax 0.10) every such write makes jax format an error message that
walks the whole trace so far, so tracing grows quadratically with depth: the paper network's
training forward took about 8 s to trace instead of 0.6 s. Replacing the variable's value
whole (``set_value``) avoids the check. Statistics are computed in float32 whatever the compute
dtype, as matrix-vector products (:mod:`c2f.model.channel_ops`). ``model.train()`` /
``model.eval()`` toggle ``use_running_average`` as for flax's own.
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
        dtype = self.dtype or x.dtype
        if self.use_running_average:
            mean, var = self.mean[...], self.var[...]
        else:
            n = x.size // x.shape[-1]
            xf = x.astype(jnp.float32)
            mean = channel_sum(xf) / n
            # Two passes: E[x^2] - E[x]^2 cancels catastrophically when |mean| >> std, which
            # made results depend on the summation order (1 vs 4 devices) at the 1e-4 level.
            var = channel_sum(jnp.square(xf - mean)) / n
            m = self.momentum
            self.mean.set_value(jax.lax.stop_gradient(m * self.mean[...] + (1 - m) * mean))
            self.var.set_value(jax.lax.stop_gradient(m * self.var[...] + (1 - m) * var))
        mul = self.scale[...] * jax.lax.rsqrt(var + self.epsilon)
        add = self.bias[...] - mean * mul
        return scale_shift(x.astype(dtype), mul.astype(dtype), add.astype(dtype))
