"""A per-joint confidence read from the volume: how much of the joint's belief is at its peak.

What the temporal model (:mod:`c2f.temporal`) weighs frames by. Two readings, one per kind of
volume (:data:`c2f.volume.DECODES`):

* ``soft`` (a volume trained through the soft-argmax: logits): the softmax mass, summed over
  depth, within ``RADIUS_PX`` heatmap pixels (a square) of the decoded (x, y). 1 when all the
  belief is there; about ``(2 RADIUS_PX + 1)^2 / (H W)`` for a flat volume.
* ``hard`` and ``argmax`` (a volume regressed onto Gaussians of peak 1, the authors'): the
  volume's peak value, clipped to [0, 1].
"""

import jax
import jax.numpy as jnp

RADIUS_PX = 2


def peak_mass(logits, coords, radius: int = RADIUS_PX):
    """The softmax mass near the decoded joint.

    Args:
      logits: [..., J, D, H, W] scores (any float dtype; float32 inside).
      coords: [..., J, 3] decoded (x, y, z), heatmap px and bins.
      radius: half-side of the square window, heatmap px.

    Returns:
      [..., J] float32 in [0, 1].
    """
    x = jnp.asarray(logits).astype(jnp.float32)
    h, w = x.shape[-2:]
    p = jax.nn.softmax(x.reshape(*x.shape[:-3], -1), axis=-1).reshape(x.shape)
    plane = jnp.sum(p, axis=-3)  # [..., J, H, W]
    side = 2 * radius + 1
    window = (1,) * (plane.ndim - 2) + (side, side)
    summed = jax.lax.reduce_window(plane, 0.0, jax.lax.add, window, (1,) * plane.ndim, "SAME")
    col = jnp.clip(jnp.round(coords[..., 0]).astype(jnp.int32), 0, w - 1)
    row = jnp.clip(jnp.round(coords[..., 1]).astype(jnp.int32), 0, h - 1)
    flat = summed.reshape(*summed.shape[:-2], h * w)
    at = jnp.take_along_axis(flat, (row * w + col)[..., None], axis=-1)[..., 0]
    return jnp.clip(at, 0.0, 1.0)


def peak_value(volume):
    """[..., J, D, H, W] regressed heatmaps -> [..., J] their peak, clipped to [0, 1]."""
    peak = jnp.max(jnp.asarray(volume).astype(jnp.float32), axis=(-3, -2, -1))
    return jnp.clip(peak, 0.0, 1.0)


def confidence(volume, coords, how: str):
    """The confidence of the decode ``how`` (module docstring): [..., J] in [0, 1]."""
    return peak_mass(volume, coords) if how == "soft" else peak_value(volume)
