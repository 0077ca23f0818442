"""The temporal designs, one table of names: ``DESIGNS``.

* ``dilated``: VideoPose3D's temporal convolutions (Pavllo et al. 2019): a width-3 convolution
  over the window, then blocks of a width-3 convolution dilated 3, 9, ... and a 1x1 one, each
  with a residual sliced to its output; the receptive field is ``3^(blocks + 1)`` frames. Its
  causal variant slices the residuals at the window's end instead of its centre.
* ``attention``: a transformer over the window's frames (learned position embeddings,
  pre-norm blocks of multi-head self-attention and an MLP), read at the target frame, in the
  spirit of MPS-Net's attention over neighbouring frames; causal: a causal mask.

Both predict a correction to a filtered estimate of the target frame's 3D joints, for any
keypoint set (``joints`` is the config's). The estimate is a learned linear filter over the
window's 3D joints (one weight per frame), started as the Savitzky-Golay filter that
``c2f eval --smooth savgol`` applies (9 frames, order 2; at the window's end when causal), and
the correction's head starts at zero: an untrained model IS that filter, and training can only
start from the filter's accuracy and smoothness. (A residual on the raw target frame instead,
tried first, passed most of the frame's jitter through: acceleration error 76 mm/frame^2 on the
demo against the filter's 17.)
Call: ``windows`` [B, W, J, FEATURES] -> refined target-frame joints [B, J, 3] in metres.
"""

import dataclasses

import jax.numpy as jnp
import numpy as np
from flax import nnx
from scipy.signal import savgol_coeffs

from c2f.temporal.windows import FEATURES


@dataclasses.dataclass(frozen=True)
class TemporalConfig:
    """A temporal model: design, window, width; validated once."""

    design: str = "dilated"
    joints: int = 17
    window: int = 27
    causal: bool = False
    width: int = 128
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


BASE_WINDOW, BASE_ORDER = 9, 2  # the filter the base starts as (c2f.evaluation.filters)


def base_filter(window: int, causal: bool) -> np.ndarray:
    """The base's starting weights, [window].

    Savitzky-Golay of ``BASE_WINDOW`` frames and ``BASE_ORDER`` at the window's centre (its end
    when causal), zero elsewhere; the identity for windows too short for the polynomial.
    """
    weights = np.zeros(window, np.float32)
    n = min(BASE_WINDOW, window if causal else window - (1 - window % 2))
    if n <= BASE_ORDER:
        weights[-1 if causal else window // 2] = 1.0
        return weights
    coeffs = savgol_coeffs(n, BASE_ORDER, pos=n - 1 if causal else n // 2, use="dot")
    start = window - n if causal else window // 2 - n // 2
    weights[start : start + n] = coeffs
    return weights


class TemporalModel(nnx.Module):
    """A design of ``DESIGNS`` around the residual: a filtered estimate + the correction.

    Call: ``windows`` [B, W, J, FEATURES] (:func:`c2f.temporal.windows.sequence_windows` of
    :func:`c2f.temporal.windows.frame_features`) -> [B, J, 3] root-relative joints, mm.
    """

    def __init__(self, cfg: TemporalConfig, *, rngs: nnx.Rngs):
        self.cfg = cfg
        self.base = nnx.Param(jnp.asarray(base_filter(cfg.window, cfg.causal)))
        self.body = DESIGNS[cfg.design](cfg, rngs)

    def __call__(self, windows):
        joints = jnp.einsum("w,bwjc->bjc", self.base[...], windows[..., :3])
        # The window relative to the estimate, in decimetres: what a correction depends on
        # (motion, noise), at a scale that an initialised network passes on.
        # The 2D joints likewise relative to their own filtered estimate: the correction sees
        # motion, not the pose itself (a pose-dependent static correction learned on the
        # training subjects raised the test subjects' per-sequence bias by 2 to 6 mm).
        uv = jnp.einsum("w,bwjc->bjc", self.base[...], windows[..., 3:5])
        moved = (windows[..., :3] - joints[:, None]) * RELATIVE_SCALE
        moved_uv = (windows[..., 3:5] - uv[:, None]) * RELATIVE_SCALE
        rel = jnp.concatenate([moved, moved_uv, windows[..., 5:]], axis=-1)
        return 1000.0 * joints + CORRECTION_MM * self.body(rel)
