"""The "uniform" design: the authors' ``hg.lua`` (geopavlakos/c2f-vol-train, src/models/).

``features`` channels everywhere after the stem, ``modules`` residuals on every hourglass branch
(``-nModules``), and residual re-injection: the next stage's input is
``x + conv1x1(lin) + conv1x1(head)`` (``hg.lua``: ``inter = CAddTable{inter, ll_, tmpOut_}``).
With ``modules=1`` this is the network of c2f's first releases (13,170,231 parameters at
1-2-4-64), and its checkpoints keep loading: one module is a plain :class:`Residual`.
"""

from flax import nnx

from c2f.model.config import ModelConfig
from c2f.model.layers import LayerFactory, max_pool_2x, residuals, upsample_2x


class Hourglass(nnx.Module):
    """Recursive hourglass: a full-resolution branch plus a pooled branch that recurses."""

    def __init__(self, levels: int, features: int, make: LayerFactory, modules: int = 1):
        f, m = features, modules
        self.up1 = residuals(f, f, m, make)
        self.low1 = residuals(f, f, m, make)
        self.low2 = Hourglass(levels - 1, f, make, m) if levels > 1 else residuals(f, f, m, make)
        self.low3 = residuals(f, f, m, make)

    def __call__(self, x):
        low = self.low3(self.low2(self.low1(max_pool_2x(x))))
        return self.up1(x) + upsample_2x(low)


class Stage(nnx.Module):
    """One hourglass stage ending in a 1x1 head of ``J * D_k`` channels."""

    def __init__(self, cfg: ModelConfig, k: int, make: LayerFactory):
        f = cfg.features
        channels = cfg.joints * cfg.depths[k]
        self.hourglass = Hourglass(cfg.hourglass_levels, f, make, cfg.modules)
        self.residual = residuals(f, f, cfg.modules, make)
        self.lin, self.lin_bn = make.conv(f, f), make.bn(f)
        self.head = make.conv(f, channels)
        self.last = k == len(cfg.depths) - 1
        if not self.last:
            # Re-inject both the stage's features and its prediction into the next stage.
            self.feat_back, self.pred_back = make.conv(f, f), make.conv(channels, f)

    def __call__(self, x):
        """[B, H, W, f] -> (next stage's input [B, H, W, f], head [B, H, W, J * D_k])."""
        return self.finish(x, self.hourglass(x))

    def finish(self, x, hourglass_out):
        """The stage after its hourglass: (its input, the hourglass's output) as ``__call__``."""
        y = nnx.relu(self.lin_bn(self.lin(self.residual(hourglass_out))))
        h = self.head(y)
        if not self.last:
            x = x + self.feat_back(y) + self.pred_back(h)
        return x, h
