"""Training windows made harder than the image model's own training-set error.

The image model's predictions on frames of its training subjects are better than on new people,
so a temporal model trained on them alone would learn too little correction. Each training
window is therefore perturbed (host-side numpy, from the step's own random stream, so that a
resumed run draws the same):

* Gaussian noise on every frame's 3D joints (``noise_mm``) and 2D joints (``noise_px``);
* depth outliers: a joint of a frame moved along the camera's z by ``outlier_mm`` (the image
  model's typical gross error: the wrong depth bin), with probability ``outlier_prob``; its
  confidence is halved;
* dropped frames: a frame replaced by its predecessor in the window, confidence 0, with
  probability ``drop_prob`` (a missed detection, a repeated frame).
"""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Augment:
    """The perturbations of the module docstring; all zero: none."""

    noise_mm: float = 15.0
    noise_px: float = 0.5
    outlier_prob: float = 0.05
    outlier_mm: float = 150.0
    drop_prob: float = 0.05

    def __post_init__(self):
        for name in ("noise_mm", "noise_px", "outlier_mm"):
            if getattr(self, name) < 0:
                raise ValueError(f"augment.{name}: >= 0, got {getattr(self, name)}")
        for name in ("outlier_prob", "drop_prob"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"augment.{name}: in [0, 1), got {getattr(self, name)}")


def augment_windows(windows, rng: np.random.Generator, aug: Augment, heatmap_px: int):
    """Perturbed copies of ``windows`` [B, W, J, FEATURES] (:mod:`c2f.temporal.windows` units)."""
    w = np.array(windows, np.float32)
    b, t, j, _ = w.shape
    w[..., :3] += rng.normal(0.0, aug.noise_mm / 1000.0, (b, t, j, 3))
    w[..., 3:5] += rng.normal(0.0, aug.noise_px / (0.5 * heatmap_px), (b, t, j, 2))
    out = rng.random((b, t, j)) < aug.outlier_prob
    w[..., 2] += out * rng.normal(0.0, aug.outlier_mm / 1000.0, (b, t, j))
    w[..., 5] *= np.where(out, 0.5, 1.0)
    drop = rng.random((b, t)) < aug.drop_prob
    drop[:, 0] = False  # the first frame has no predecessor
    for k in range(1, t):  # forward, so that a run of dropped frames repeats the last kept one
        w[drop[:, k], k] = w[drop[:, k], k - 1]
        w[drop[:, k], k, :, 5] = 0.0
    return w
