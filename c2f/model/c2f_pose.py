"""The coarse-to-fine volumetric network (Pavlakos et al. 2017) in Flax NNX."""

import jax.numpy as jnp
from flax import nnx

from c2f.checks import check_array
from c2f.model import stacked, uniform
from c2f.model.config import ModelConfig
from c2f.model.layers import LayerFactory, Residual, max_pool_2x


class C2FPose(nnx.Module):
    """Stacked hourglass with coarse-to-fine voxel heads, of either design (:class:`ModelConfig`).

    A 7x7 stride-2 stem, residual modules and a max-pool bring the input to a quarter of its
    resolution; each stage k then predicts a volume of ``D_k`` depth bins per joint that is fed
    back into the next stage. BatchNorm uses batch statistics after ``model.train()`` and the
    running averages after ``model.eval()``.

    Call: ``images`` [B, R, R, 3] float in [0, 1] (R = ``input_res``) ->
    list over stages of [B, J, D_k, R/4, R/4] volumes in ``compute_dtype``.
    Channel ``j * D_k + d`` of a head is joint j at depth bin d: the authors' layout
    (``getPreds3D`` in c2f-vol-train ``src/util/eval.lua`` views a head as [J, D * H * W]).
    """

    def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
        self.config = config
        make = LayerFactory(config.dtype, config.bn_momentum, rngs, config.init)
        f = config.features
        self.stem, self.stem_bn = make.conv(3, f // 4, 7, stride=2), make.bn(f // 4)
        self.res1 = Residual(f // 4, f // 2, make)
        k = range(len(config.depths))
        if config.design == "uniform":
            self.res2 = Residual(f // 2, f // 2, make)
            self.res3 = Residual(f // 2, f, make)
            self.stages = nnx.List([uniform.Stage(config, i, make) for i in k])
        else:  # hg-stacked-N.lua lines 38-43: r4, r5, r6 after the pool
            self.res4 = Residual(f // 2, f // 2, make)
            self.res5 = Residual(f // 2, f // 2, make)
            self.res6 = Residual(f // 2, f, make)
            self.stages = nnx.List([stacked.StackedStage(config, i, make) for i in k])

    def __call__(self, images):
        x, previous = self.begin(images)
        heads = []
        for stage in self.stages:
            if self.config.design == "uniform":
                x, h = stage(x)
            else:
                x, previous, h = stage(x, previous)
            heads.append(h)
        return heads_to_volumes(heads, self.config)

    def begin(self, images):
        """The stem: images -> (first stage's input, the features its merge reads or None).

        [B, R, R, 3] -> [B, R/4, R/4, f] and, for "stacked", the pooled [B, R/4, R/4, f/2].
        """
        cfg = self.config
        images = check_array("images", images, (None, cfg.input_res, cfg.input_res, 3))
        x = jnp.asarray(images, cfg.dtype)
        x = nnx.relu(self.stem_bn(self.stem(x)))
        pooled = max_pool_2x(self.res1(x))
        if cfg.design == "uniform":
            return self.res3(self.res2(pooled)), None
        return self.res6(self.res5(self.res4(pooled))), pooled


def heads_to_volumes(heads, cfg: ModelConfig):
    """Heads [B, H, W, J * D_k] -> volumes [B, J, D_k, H, W], one per stage (channel j * D + d)."""
    volumes = []
    for h, depth in zip(heads, cfg.depths):
        b, height, width, _ = h.shape
        volumes.append(h.reshape(b, height, width, cfg.joints, depth).transpose(0, 3, 4, 1, 2))
    return volumes


def abstract_model(cfg: ModelConfig) -> C2FPose:
    """The model with shape-only parameters (no memory, no initialisation)."""
    return nnx.eval_shape(lambda: C2FPose(cfg, rngs=nnx.Rngs(0)))
