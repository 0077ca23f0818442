"""The coarse-to-fine volumetric network (Pavlakos et al. 2017) in Flax NNX."""

import jax.numpy as jnp
from flax import nnx

from c2f.checks import check_array
from c2f.model.config import ModelConfig
from c2f.model.layers import Hourglass, LayerFactory, Residual, max_pool_2x


class Stage(nnx.Module):
    """One hourglass stage ending in a 1x1 head of ``J * D_k`` channels."""

    def __init__(self, cfg: ModelConfig, k: int, make: LayerFactory):
        f = cfg.features
        channels = cfg.joints * cfg.depths[k]
        self.hourglass = Hourglass(cfg.hourglass_levels, f, make)
        self.residual = Residual(f, f, make)
        self.lin, self.lin_bn = make.conv(f, f), make.bn(f)
        self.head = make.conv(f, channels)
        self.last = k == len(cfg.depths) - 1
        if not self.last:
            # Re-inject both the stage's features and its prediction into the next stage.
            self.feat_back, self.pred_back = make.conv(f, f), make.conv(channels, f)

    def __call__(self, x):
        y = nnx.relu(self.lin_bn(self.lin(self.residual(self.hourglass(x)))))
        h = self.head(y)
        if not self.last:
            x = x + self.feat_back(y) + self.pred_back(h)
        return x, h


class C2FPose(nnx.Module):
    """Stacked hourglass with coarse-to-fine voxel heads.

    A 7x7 stride-2 stem, residual modules and a max-pool bring the input to a quarter of its
    resolution; each stage k then predicts a volume of ``D_k`` depth bins per joint that is fed
    back into the next stage. BatchNorm uses batch statistics after ``model.train()`` and the
    running averages after ``model.eval()``.

    Call: ``images`` [B, R, R, 3] float in [0, 1] (R = ``input_res``) ->
    list over stages of [B, J, D_k, R/4, R/4] volumes in ``compute_dtype``.
    Channel ``j * D_k + d`` of a head is joint j at depth bin d (the PyTorch twin's layout).
    """

    def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
        self.config = config
        make = LayerFactory(config.dtype, config.bn_momentum, rngs)
        f = config.features
        self.stem, self.stem_bn = make.conv(3, f // 4, 7, stride=2), make.bn(f // 4)
        self.res1 = Residual(f // 4, f // 2, make)
        self.res2 = Residual(f // 2, f // 2, make)
        self.res3 = Residual(f // 2, f, make)
        self.stages = nnx.List([Stage(config, k, make) for k in range(len(config.depths))])

    def __call__(self, images):
        cfg = self.config
        images = check_array("images", images, (None, cfg.input_res, cfg.input_res, 3))
        x = jnp.asarray(images, cfg.dtype)
        x = nnx.relu(self.stem_bn(self.stem(x)))
        x = self.res3(self.res2(max_pool_2x(self.res1(x))))
        volumes = []
        for stage, depth in zip(self.stages, cfg.depths):
            x, h = stage(x)
            b, height, width, _ = h.shape
            volumes.append(h.reshape(b, height, width, cfg.joints, depth).transpose(0, 3, 4, 1, 2))
        return volumes
