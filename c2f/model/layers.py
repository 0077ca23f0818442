"""Building blocks of the stacked hourglass (Newell et al. 2016): residual module, hourglass."""

import jax
import jax.numpy as jnp
from flax import nnx

from c2f.model.batch_norm import BatchNorm
from c2f.model.conv import Conv


def max_pool_2x(x):
    """[B, H, W, C] -> [B, H/2, W/2, C], 2x2 max pooling with stride 2 (H, W even).

    A reshape and a max rather than ``lax.reduce_window``: the windows do not overlap, and
    on XLA's CPU backend reduce_window's gradient (select-and-scatter over iotas) made up a
    quarter of the demo config's training step. The gradient of the max splits equally among
    tied inputs (PyTorch routes it to one of them); ties have measure zero for float inputs.
    """
    b, h, w, c = x.shape
    return jnp.max(x.reshape(b, h // 2, 2, w // 2, 2, c), axis=(2, 4))


def upsample_2x(x):
    """[B, H, W, C] -> [B, 2H, 2W, C], nearest neighbour."""
    b, h, w, c = x.shape
    x = jnp.broadcast_to(x[:, :, None, :, None, :], (b, h, 2, w, 2, c))
    return x.reshape(b, 2 * h, 2 * w, c)


class LayerFactory:
    """Builds the network's convolutions and batch norms with shared dtype, init and keys.

    Keys are ``fold_in(key, i)`` of one key drawn from ``rngs``, for the i-th layer: drawing
    each from ``rngs`` writes its counter variable, and under ``nnx.eval_shape`` every such
    write makes jax walk the trace so far (quadratic: 51 s to build the abstract paper
    network instead of a few).
    """

    def __init__(self, dtype, momentum: float, rngs: nnx.Rngs, init: str = "lecun"):
        self.dtype = dtype
        self.momentum = momentum
        self.key = rngs.params()
        self.count = 0
        self.init = init

    def next_key(self):
        self.count += 1
        return jax.random.fold_in(self.key, self.count)

    def conv(self, cin: int, cout: int, kernel: int = 1, stride: int = 1) -> Conv:
        key = self.next_key()
        return Conv(cin, cout, kernel, stride, dtype=self.dtype, key=key, init=self.init)

    def bn(self, n: int) -> BatchNorm:
        rng = self.next_key() if self.init == "torch" else None
        return BatchNorm(n, momentum=self.momentum, dtype=self.dtype, scale_rng=rng)


class Residual(nnx.Module):
    """Pre-activation bottleneck: BN-ReLU-1x1 (cout/2), BN-ReLU-3x3, BN-ReLU-1x1 (cout) + skip.

    The skip is a 1x1 convolution when the channels change (the authors'
    ``src/models/layers/Residual.lua``: convBlock + skipLayer).
    """

    def __init__(self, cin: int, cout: int, make: LayerFactory):
        mid = cout // 2
        self.bn1, self.conv1 = make.bn(cin), make.conv(cin, mid)
        self.bn2, self.conv2 = make.bn(mid), make.conv(mid, mid, 3)
        self.bn3, self.conv3 = make.bn(mid), make.conv(mid, cout)
        self.skip = make.conv(cin, cout) if cin != cout else None

    def __call__(self, x):
        y = self.conv1(nnx.relu(self.bn1(x)))
        y = self.conv2(nnx.relu(self.bn2(y)))
        y = self.conv3(nnx.relu(self.bn3(y)))
        return y + (self.skip(x) if self.skip is not None else x)


class Chain(nnx.Module):
    """Residual modules applied in order (``cin`` -> ``cout`` by the first, then ``cout``)."""

    def __init__(self, cin: int, cout: int, count: int, make: LayerFactory):
        self.layers = nnx.List(
            [Residual(cin if i == 0 else cout, cout, make) for i in range(count)]
        )

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def residuals(cin: int, cout: int, count: int, make: LayerFactory):
    """One :class:`Residual` (parameter paths of the one-module network) or a :class:`Chain`."""
    return Residual(cin, cout, make) if count == 1 else Chain(cin, cout, count, make)
