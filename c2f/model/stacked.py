"""The "stacked" design: the authors' ``hg-stacked-{2,3,4}.lua``, the networks of the paper.

Transcribed from geopavlakos/c2f-vol-train ``src/models/hg-stacked-4.lua`` (the 2- and 3-stage
files differ only in the number of stages). With f = ``features`` (256) and w =
``wide_features`` (512):

* ``hourglass(n, numIn, numOut)`` (lines 3-25): upper branch Res(numIn, f), Res(f, f),
  Res(f, numOut); lower branch max-pool, Res(numIn, f), Res(f, f), Res(f, f), then the inner
  hourglass(n - 1, f, numOut) or Res(f, numOut) at the bottom, Res(numOut, numOut), nearest
  upsampling; the branches are added. numOut = w.
* ``lin`` (lines 27-31): 1x1 convolution, BatchNorm, ReLU. After each hourglass lin(w, w) then
  lin(w, f), or lin(w, w) on the last stage (line 107), whose head reads w channels.
* Stage k + 1's input (lines 55-58, 72-75, 89-92): conv1x1(concat(this stage's lin output,
  the previous one's; the stem's pooled f/2 features for the first)) + conv1x1(head), so the
  hourglass inputs have f, f + f/2, 2f, 2f, ... channels (256, 384, 512, 512).

Convolutions carry biases as Torch's do; the paper configuration (1-2-4-64, 256 px) has
53,585,847 parameters, as the PyTorch twin in ``../shared/peers/torch_c2f.py``.
"""

import jax.numpy as jnp
from flax import nnx

from c2f.model.config import ModelConfig
from c2f.model.layers import LayerFactory, Residual, max_pool_2x, upsample_2x


def stage_inputs(cfg: ModelConfig) -> list[int]:
    """Channels entering each stage's hourglass: f, f + f/2, then 2f."""
    f = cfg.features
    return [f, f + f // 2] + [2 * f] * (len(cfg.depths) - 2)


class StackedHourglass(nnx.Module):
    """``hourglass(n, numIn, numOut)`` of hg-stacked-N.lua: three residuals per branch."""

    def __init__(self, levels: int, cin: int, cout: int, features: int, make: LayerFactory):
        f = features
        self.up = nnx.List([Residual(cin, f, make), Residual(f, f, make), Residual(f, cout, make)])
        self.low = nnx.List([Residual(cin, f, make), Residual(f, f, make), Residual(f, f, make)])
        self.inner = (
            StackedHourglass(levels - 1, f, cout, f, make)
            if levels > 1
            else Residual(f, cout, make)
        )
        self.low_out = Residual(cout, cout, make)

    def open(self, x):
        """[B, H, W, cin] -> (upper branch [B, H, W, cout], lower branch [B, H/2, W/2, f])."""
        up = x
        for layer in self.up:
            up = layer(up)
        low = max_pool_2x(x)
        for layer in self.low:
            low = layer(low)
        return up, low

    def close(self, up, inner):
        """(upper branch, the inner hourglass's output [B, H/2, W/2, cout]) -> [B, H, W, cout]."""
        return up + upsample_2x(self.low_out(inner))

    def __call__(self, x):
        up, low = self.open(x)
        return self.close(up, self.inner(low))


class StackedStage(nnx.Module):
    """Hourglass, two lin layers and the head of one stage; the merge into the next stage."""

    def __init__(self, cfg: ModelConfig, k: int, make: LayerFactory):
        f, w = cfg.features, cfg.wide_features
        cins = stage_inputs(cfg)
        channels = cfg.joints * cfg.depths[k]
        self.last = k == len(cfg.depths) - 1
        out = w if self.last else f
        self.hourglass = StackedHourglass(cfg.hourglass_levels, cins[k], w, f, make)
        self.lin1, self.lin1_bn = make.conv(w, w), make.bn(w)
        self.lin2, self.lin2_bn = make.conv(w, out), make.bn(out)
        self.head = make.conv(out, channels)
        if not self.last:
            self.cat_conv = make.conv(cins[k + 1], cins[k + 1])
            self.pred_back = make.conv(channels, cins[k + 1])

    def __call__(self, x, previous):
        """(input, previous lin features) -> (next input, this stage's lin features, head).

        ``x`` [B, H, W, cin_k]; ``previous`` [B, H, W, f or f/2]; the head is
        [B, H, W, J * D_k]. On the last stage the next input is None.
        """
        return self.finish(self.hourglass(x), previous)

    def finish(self, hourglass_out, previous):
        """The stage after its hourglass ([B, H, W, w]): as ``__call__``."""
        y = nnx.relu(self.lin1_bn(self.lin1(hourglass_out)))
        y = nnx.relu(self.lin2_bn(self.lin2(y)))
        h = self.head(y)
        if self.last:
            return None, y, h
        # JoinTable(2)({l2, pool}): this stage's features first, then the previous ones.
        merged = self.cat_conv(jnp.concatenate([y, previous.astype(y.dtype)], axis=-1))
        return merged + self.pred_back(h), y, h
