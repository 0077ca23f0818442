"""Affine resampling of an image on the device: the host augmentation's warp, in jnp.

The same sampling as :func:`c2f.data.augment.warp` (PIL's bilinear affine transform), so that
a batch can travel as the stored crops plus one affine map each and be augmented inside the
jitted step. Pixel centres are at integer coordinates (:mod:`c2f.grid`).

PIL computes in float64, and its 8-bit result truncates: float32 source coordinates (error
~1e-5 px at 100 px) moved one pixel in 30,000 to the next grey level, which the colour scale can
widen to two. So the map travels in float64 split into three float32 parts
(:func:`c2f.geometry.crop.split_affine`) and the coordinates are summed without rounding error
(Knuth's two-sum); only the bilinear weights are float32.
"""

import jax
import jax.numpy as jnp


def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _coordinate(row, xs, ys):
    """Sum over parts of (a x + b y + c) as a float32 (hi, lo) pair; row [3, 3]."""
    hi, lo = jnp.zeros_like(xs), jnp.zeros_like(xs)
    for part in range(3):
        c = jnp.broadcast_to(row[part, 2], xs.shape)
        for term in (row[part, 0] * xs, row[part, 1] * ys, c):
            hi, err = _two_sum(hi, term)
            lo = lo + err
    return _two_sum(hi, lo)


def warp_image(image, inverse, res: int):
    """Resample ``image`` [S, S, C] into [res, res, C] through an affine map.

    Args:
      image: [S, S, C] uint8 or float, the source.
      inverse: the affine from output px to source px (the inverse of the map that the host's
        ``warp`` takes): [3, 2, 3] float32 parts of
        :func:`c2f.geometry.crop.split_affine`, or a plain [2, 3].
      res: output side, px.

    Returns:
      [res, res, C] float32 grey levels (0-255 for uint8 input), bilinear between the four
      nearest source pixels, edge pixels repeated at the border, 0 where the sample point
      lies outside the source (``[-0.5, S - 0.5)`` in x and y, PIL's rule). Not rounded.
    """
    h, w = image.shape[:2]
    inverse = jnp.asarray(inverse, jnp.float32)
    if inverse.ndim == 2:
        inverse = jnp.stack([inverse, jnp.zeros_like(inverse), jnp.zeros_like(inverse)])
    ys, xs = jnp.meshgrid(jnp.arange(res, dtype=jnp.float32),
                          jnp.arange(res, dtype=jnp.float32), indexing="ij")  # fmt: skip
    sx_hi, sx_lo = _coordinate(inverse[:, 0], xs, ys)
    sy_hi, sy_lo = _coordinate(inverse[:, 1], xs, ys)
    # floor of hi + lo: hi rounds the sum, so it can sit on an integer that the sum is below.
    x0 = jnp.floor(sx_hi) - ((sx_hi == jnp.floor(sx_hi)) & (sx_lo < 0))
    y0 = jnp.floor(sy_hi) - ((sy_hi == jnp.floor(sy_hi)) & (sy_lo < 0))
    dx, dy = ((sx_hi - x0) + sx_lo)[..., None], ((sy_hi - y0) + sy_lo)[..., None]
    sx, sy = x0 + dx[..., 0], y0 + dy[..., 0]
    inside = (sx >= -0.5) & (sx < w - 0.5) & (sy >= -0.5) & (sy < h - 0.5)
    x0, y0 = x0.astype(jnp.int32), y0.astype(jnp.int32)
    xa, xb = jnp.clip(x0, 0, w - 1), jnp.clip(x0 + 1, 0, w - 1)
    ya = jnp.clip(y0, 0, h - 1)
    # PIL repeats the upper row when the lower one is outside (not a clamp of y0 + 1 alone).
    yb = jnp.where(y0 + 1 < h, jnp.clip(y0 + 1, 0, h - 1), ya)
    src = image.astype(jnp.float32)
    top = src[ya, xa] + (src[ya, xb] - src[ya, xa]) * dx
    bottom = src[yb, xa] + (src[yb, xb] - src[yb, xa]) * dx
    out = top + (bottom - top) * dy
    return jnp.where(inside[..., None], out, 0.0)


def augment_image(crop, inverse, colour, res: int):
    """The host augmentation on the device: warp, 8-bit truncation, colour scale, clip.

    Args:
      crop: [S, S, 3] uint8, the stored crop.
      inverse: [3, 2, 3] (``split_affine``) or [2, 3]: the map from input px to stored px.
      colour: [3] per-channel factors.
      res: input side, px.

    Returns:
      [res, res, 3] float32 grey levels in [0, 255], whole numbers as the host's uint8 image
      (the warp and the colour scale truncate as PIL and ``astype(uint8)`` do).
    """
    warped = jnp.floor(warp_image(crop, inverse, res))
    return jnp.floor(jnp.clip(warped * jnp.asarray(colour, jnp.float32), 0.0, 255.0))


augment_batch = jax.vmap(augment_image, in_axes=(0, 0, 0, None))
"""[B, S, S, 3], [B, 3, 2, 3], [B, 3] -> [B, res, res, 3]: :func:`augment_image` per example."""
