"""Hard argmax decoding of voxel volumes (the paper's), with optional sub-voxel refinement."""

import jax
import jax.numpy as jnp

from c2f.checks import check_array

_LOG_FLOOR = 1e-10


def _refine_axis(log_m, log_c, log_p, at_low_edge, at_high_edge):
    """Offset of a parabola's vertex through three log-values at -1, 0, +1 (in [-0.5, 0.5])."""
    curvature = log_m - 2 * log_c + log_p
    offset = jnp.where(
        curvature < 0, 0.5 * (log_m - log_p) / jnp.where(curvature < 0, curvature, -1.0), 0.0
    )
    offset = jnp.clip(offset, -0.5, 0.5)
    return jnp.where(at_low_edge | at_high_edge, 0.0, offset)


def _divmod(a, b: int):
    """``divmod`` of non-negative ints by a positive constant, as truncating division.

    ``jnp.divmod`` adds a sign correction through ``rem`` that jax2onnx cannot lower for a
    symbolic batch size; for non-negative operands truncation is the floor anyway.
    """
    q = jax.lax.div(a, jnp.asarray(b, a.dtype))
    return q, a - q * b


def hard_argmax_3d(volume, refine: bool = False):
    """Coordinates of the highest voxel of each joint.

    Args:
      volume: [..., J, D, H, W] scores (heatmap values or logits).
      refine: fit a parabola through the log of the (positive-clamped) peak and its two
        neighbours along each axis and move to its vertex, by at most half a voxel. For a
        Gaussian heatmap this recovers the exact centre (its log is a parabola). Axes where the
        peak touches the border, or of size 1, are not refined.

    Returns:
      [..., J, 3] float32 (x, y, z) in voxel units of this volume (see :mod:`c2f.volume`).
    """
    volume = check_array("volume", volume, ("...", None, None, None, None))
    depth, height, width = volume.shape[-3:]
    v = jnp.asarray(volume).astype(jnp.float32)
    flat = jnp.argmax(v.reshape(*v.shape[:-3], -1), axis=-1)
    z, rem = _divmod(flat, height * width)
    y, x = _divmod(rem, width)
    idx = [z, y, x]
    sizes = [depth, height, width]
    coords = [c.astype(jnp.float32) for c in idx]
    if refine:
        log_v = jnp.log(jnp.maximum(v, _LOG_FLOOR))

        def sample(offsets):
            ii = [jnp.clip(c + o, 0, n - 1) for c, o, n in zip(idx, offsets, sizes)]
            g = log_v.reshape(*v.shape[:-3], -1)
            lin = (ii[0] * height + ii[1]) * width + ii[2]
            return jnp.take_along_axis(g, lin[..., None], axis=-1)[..., 0]

        center = sample((0, 0, 0))
        for axis in range(3):
            lo = [0, 0, 0]
            hi = [0, 0, 0]
            lo[axis], hi[axis] = -1, 1
            n = sizes[axis]
            coords[axis] = coords[axis] + _refine_axis(
                sample(lo), center, sample(hi), idx[axis] <= 0, idx[axis] >= n - 1
            )
    return jnp.stack([coords[2], coords[1], coords[0]], axis=-1)
