"""Per-frame windows of a sequence: what the temporal model reads.

A frame's features are its root-relative 3D joints (mm, scaled to metres), its 2D joints
(heatmap px, scaled to [-1, 1] over the heatmap) and a per-joint confidence (the volume's peak
mass, in [0, 1]): ``FEATURES`` = 6 numbers per joint. A window of frame t is the frames
``t - W//2 .. t + W//2`` (centred) or ``t - W + 1 .. t`` (causal: nothing after t), the
sequence's end frames repeated beyond its ends, as VideoPose3D pads.
"""

import jax.numpy as jnp
import numpy as np

FEATURES = 6  # x, y, z (m), u, v (in [-1, 1]), confidence


def frame_features(joints_mm, uv_px, confidence, heatmap_px: int):
    """[..., J, 3] mm, [..., J, 2] px, [..., J] -> [..., J, FEATURES] (see the module)."""
    joints = jnp.asarray(joints_mm, jnp.float32) / 1000.0
    uv = jnp.asarray(uv_px, jnp.float32) / (0.5 * heatmap_px) - 1.0
    conf = jnp.asarray(confidence, jnp.float32)[..., None]
    return jnp.concatenate([joints, uv, conf], axis=-1)


def sequence_windows(features, window: int, causal: bool) -> np.ndarray:
    """[T, J, F] -> [T, window, J, F]: every frame's window, ends repeated (numpy, host)."""
    features = np.asarray(features)
    T = len(features)
    if causal:
        offsets = np.arange(-window + 1, 1)
    else:
        if window % 2 == 0:
            raise ValueError(f"window: a centred window has an odd length, got {window}")
        offsets = np.arange(-(window // 2), window // 2 + 1)
    index = np.clip(np.arange(T)[:, None] + offsets[None, :], 0, T - 1)
    return features[index]
