"""The temporal designs, one table of names: ``DESIGNS``.

* ``dilated``: VideoPose3D's temporal convolutions (Pavllo et al. 2019): a width-3 convolution
  over the window, then blocks of a width-3 convolution dilated 3, 9, ... and a 1x1 one, each
  with a residual sliced to its output; the receptive field is ``3^(blocks + 1)`` frames. Its
  causal variant slices the residuals at the window's end instead of its centre.
* ``attention``: a transformer over the window's frames (learned position embeddings,
  pre-norm blocks of multi-head self-attention and an MLP), read at the target frame, in the
  spirit of MPS-Net's attention over neighbouring frames; causal: a causal mask.

Both predict a correction to the target frame's 3D joints (the head starts at zero, so an
untrained model is the identity) for any keypoint set: ``joints`` is the config's.
Call: ``windows`` [B, W, J, FEATURES] -> refined target-frame joints [B, J, 3] in metres.
"""

import dataclasses

import jax.numpy as jnp
from flax import nnx

from c2f.temporal.windows import FEATURES


@dataclasses.dataclass(frozen=True)
class TemporalConfig:
    """A temporal model: design, window, width; validated once."""

    design: str = "dilated"
    joints: int = 17
    window: int = 27
    causal: bool = False
    width: int = 256
    depth: int = 2  # dilated: residual blocks (window 3^(depth + 1)); attention: layers
    heads: int = 4
    dropout: float = 0.1

    def __post_init__(self):
        if self.design not in DESIGNS:
            raise ValueError(f"TemporalConfig.design: one of {tuple(DESIGNS)}, got {self.design!r}")
        if self.design == "dilated" and self.window != 3 ** (self.depth + 1):
            raise ValueError(f"TemporalConfig.window: the dilated design with depth {self.depth} "
                             f"sees 3^{self.depth + 1} = {3 ** (self.depth + 1)} frames, got "
                             f"{self.window}")  # fmt: skip
        if not self.causal and self.window % 2 == 0:
            raise ValueError(f"TemporalConfig.window: a centred window is odd, got {self.window}")
        if self.width % self.heads:
            raise ValueError(f"TemporalConfig.width {self.width} is not a multiple of heads "
                             f"{self.heads}")  # fmt: skip
        if min(self.joints, self.window, self.width, self.depth) < 1:
            raise ValueError("TemporalConfig: joints, window, width and depth must be >= 1")


class Dilated(nnx.Module):
    """The ``dilated`` design (module docstring); [B, W, J, F] -> [B, J, 3] correction."""

    def __init__(self, cfg: TemporalConfig, rngs: nnx.Rngs):
        self.cfg = cfg
        cin = cfg.joints * FEATURES
        self.expand = nnx.Conv(cin, cfg.width, (3,), padding="VALID", rngs=rngs)
        self.convs = nnx.List([
            nnx.Conv(cfg.width, cfg.width, (3,), kernel_dilation=(3 ** (i + 1),),
                     padding="VALID", rngs=rngs)
            for i in range(cfg.depth)
        ])  # fmt: skip
        self.mixes = nnx.List([nnx.Conv(cfg.width, cfg.width, (1,), rngs=rngs)
                               for _ in range(cfg.depth)])  # fmt: skip
        self.drop = nnx.Dropout(cfg.dropout, rngs=rngs)
        self.head = nnx.Linear(cfg.width, cfg.joints * 3, kernel_init=nnx.initializers.zeros,
                               rngs=rngs)  # fmt: skip

    def __call__(self, windows):
        b, w = windows.shape[:2]
        x = self.drop(nnx.relu(self.expand(windows.reshape(b, w, -1))))
        for i, (conv, mix) in enumerate(zip(self.convs, self.mixes)):
            cut = 3 ** (i + 1)  # frames the dilated width-3 convolution removes per side
            keep = x[:, 2 * cut :] if self.cfg.causal else x[:, cut:-cut]
            x = keep + self.drop(nnx.relu(mix(self.drop(nnx.relu(conv(x))))))
        return self.head(x[:, -1]).reshape(b, self.cfg.joints, 3)


class Attention(nnx.Module):
    """The ``attention`` design (module docstring); [B, W, J, F] -> [B, J, 3] correction."""

    def __init__(self, cfg: TemporalConfig, rngs: nnx.Rngs):
        self.cfg = cfg
        self.embed = nnx.Linear(cfg.joints * FEATURES, cfg.width, rngs=rngs)
        init = nnx.initializers.normal(0.02)
        self.position = nnx.Param(init(rngs.params(), (cfg.window, cfg.width)))
        self.norms = nnx.List([nnx.LayerNorm(cfg.width, rngs=rngs) for _ in range(2 * cfg.depth)])
        self.attention = nnx.List([
            nnx.MultiHeadAttention(cfg.heads, cfg.width, decode=False, rngs=rngs)
            for _ in range(cfg.depth)
        ])  # fmt: skip
        self.mlp_in = nnx.List([nnx.Linear(cfg.width, 2 * cfg.width, rngs=rngs)
                                for _ in range(cfg.depth)])  # fmt: skip
        self.mlp_out = nnx.List([nnx.Linear(2 * cfg.width, cfg.width, rngs=rngs)
                                 for _ in range(cfg.depth)])  # fmt: skip
        self.drop = nnx.Dropout(cfg.dropout, rngs=rngs)
        self.out_norm = nnx.LayerNorm(cfg.width, rngs=rngs)
        self.head = nnx.Linear(cfg.width, cfg.joints * 3, kernel_init=nnx.initializers.zeros,
                               rngs=rngs)  # fmt: skip

    def __call__(self, windows):
        b, w = windows.shape[:2]
        x = self.embed(windows.reshape(b, w, -1)) + self.position[...][:w]
        mask = nnx.make_causal_mask(jnp.ones((b, w))) if self.cfg.causal else None
        for i in range(self.cfg.depth):
            h = self.norms[2 * i](x)
            x = x + self.drop(self.attention[i](h, mask=mask))
            h = self.norms[2 * i + 1](x)
            x = x + self.drop(self.mlp_out[i](nnx.gelu(self.mlp_in[i](h))))
        target = -1 if self.cfg.causal else w // 2
        return self.head(self.out_norm(x[:, target])).reshape(b, self.cfg.joints, 3)


DESIGNS = {"dilated": Dilated, "attention": Attention}
RELATIVE_SCALE = 10.0  # metres -> decimetres
CORRECTION_MM = 10.0  # the designs' output unit: centimetres


class TemporalModel(nnx.Module):
    """A design of ``DESIGNS`` around the residual: target-frame joints + the correction.

    Call: ``windows`` [B, W, J, FEATURES] (:func:`c2f.temporal.windows.sequence_windows` of
    :func:`c2f.temporal.windows.frame_features`) -> [B, J, 3] root-relative joints, mm.
    """

    def __init__(self, cfg: TemporalConfig, *, rngs: nnx.Rngs):
        self.cfg = cfg
        self.body = DESIGNS[cfg.design](cfg, rngs)

    def __call__(self, windows):
        target = -1 if self.cfg.causal else self.cfg.window // 2
        joints = windows[:, target, :, :3]
        # The window relative to its target frame, in decimetres: what a correction depends on
        # (motion, noise), at a scale that an initialised network passes on.
        moved = (windows[..., :3] - joints[:, None]) * RELATIVE_SCALE
        rel = jnp.concatenate([moved, windows[..., 3:]], axis=-1)
        return 1000.0 * joints + CORRECTION_MM * self.body(rel)
