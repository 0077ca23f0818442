"""The authors' voxel targets, reproduced exactly (``drawGaussian`` / ``drawGaussian3D``).

Transcribed from geopavlakos/c2f-vol-train: ``generateSample`` in ``src/util/pose-c2f.lua``
(lines 18-30), ``drawGaussian`` and ``drawGaussian3D`` in ``src/util/img.lua`` (lines 166-204),
``transform`` (lines 41-51), and Torch's ``image.gaussian`` (image/generic/image.c). For a joint
at heatmap position (x, y) in c2f's convention (pixel centres at integers, :mod:`c2f.grid`) and
depth bin index ``zind`` (1..64) at the finest resolution:

* The Lua's heatmap coordinate is ours + 0.5 (its ``getTransform`` maps the box to
  ``[0, res]``); ``transform`` adds 1e-4, truncates toward zero and adds 1, so the 1-based peak
  pixel is ``pt = trunc(x + 0.5 + 1e-4) + 1`` (the nearest pixel for x > -0.5).
* ``drawGaussian(img, pt, sigma=2)``: a 13 x 13 ``image.gaussian(13)`` (standard deviation
  0.25 x 13 = 3.25 px, peak 1 at its centre) is pasted with its upper-left corner at
  ``pt - 3 sigma``, clipped at the borders. Where the corner falls at or left of column 0,
  the Lua's index arithmetic (``g_x = max(1, -ul)``) shifts the visible part by one or two
  pixels; this is reproduced. If the whole patch is outside, the map stays zero.
* ``drawGaussian3D``: stage k's slice ``z = ceil(zind * D_k / 64)`` and its neighbours get the
  map times the middle row of ``image.gaussian(size_z)``, ``size_z = 2 floor((6 sigma D_k / 64
  + 1) / 2) + 1``: one slice for D <= 4, 13 slices (std 3.25 bins) at D = 64; slices outside
  1..D_k are dropped.

Generalised to other resolutions with the finest depth resolution in place of the Lua's 64
(there the z index scale and ``-outputRes`` coincide). ``zind`` is the finest bin containing the
joint, clipped to 1..64 as in the authors' annotation files. Functions work on one example;
``vmap`` for batches.
"""

import jax.numpy as jnp

from c2f.checks import check_array


def torch_gaussian_1d(index, size: int):
    """Torch ``image.gaussian(size)`` along one axis at 1-based ``index`` (any shape).

    ``exp(-((index - mean) / (0.25 size))^2 / 2)`` with ``mean = 0.5 size + 0.5``: the
    centre element of an odd ``size`` is 1.
    """
    mean = 0.5 * size + 0.5
    d = (index - mean) / (0.25 * size)
    return jnp.exp(-0.5 * d * d)


def z_kernel_size(depth: int, finest_depth: int, sigma: int = 2) -> int:
    """``size_z`` of pose-c2f.lua line 21 (1 for D <= 4 and 13 for D = 64 at sigma 2)."""
    return 2 * int((6 * sigma * depth / finest_depth + 1) // 2) + 1


def _paste_axis(pt, n: int, sigma: int):
    """[J, n] values of the pasted 1-D Gaussian on an axis of ``n`` cells, and [J] overlap.

    ``pt`` [J] 1-based integer peak positions (float dtype).
    """
    size = 6 * sigma + 1
    ul, br = pt - 3 * sigma, pt + 3 * sigma
    cell = jnp.arange(1, n + 1, dtype=jnp.float32)[None, :]
    first = jnp.maximum(1.0, ul)[:, None]
    inside = (cell >= first) & (cell <= jnp.minimum(br, float(n))[:, None])
    g_index = cell - first + jnp.maximum(1.0, -ul)[:, None]  # img.lua lines 177-183
    values = jnp.where(inside, torch_gaussian_1d(g_index, size), 0.0)
    overlaps = (ul <= n) & (br >= 1)  # img.lua line 172: otherwise the map stays zero
    return values, overlaps


def authors_target(coords, shape: tuple[int, int, int], finest_depth: int, sigma: int = 2):
    """The authors' target volume of every joint for one stage.

    Args:
      coords: [J, 3] (x, y heatmap px, c2f convention; z continuous bin coordinate at the
        FINEST depth resolution ``finest_depth``).
      shape: (D, H, W) of this stage's volume.
      finest_depth: depth bins of the finest stage (64 in the paper).
      sigma: ``sigma_2d`` of pose-c2f.lua (2), an integer as the Lua's patch size needs.

    Returns:
      [J, D, H, W] float32 targets in [0, 1].
    """
    coords = check_array("coords", coords, (None, 3))
    if int(sigma) != sigma or sigma <= 0:
        raise ValueError(f"sigma: the authors' targets need a positive integer, got {sigma!r}")
    depth, height, width = shape
    coords = jnp.asarray(coords, jnp.float32)
    pt = jnp.trunc(coords[:, :2] + 0.5 + 1e-4) + 1.0  # img.lua transform(): int() + 1
    gx, in_x = _paste_axis(pt[:, 0], width, sigma)
    gy, in_y = _paste_axis(pt[:, 1], height, sigma)
    zind = jnp.clip(jnp.floor(coords[:, 2] + 0.5), 0, finest_depth - 1) + 1.0
    z = jnp.ceil(zind * depth / finest_depth)  # 1-based slice of this stage
    size_z = z_kernel_size(depth, finest_depth, sigma)
    count = jnp.arange(1, depth + 1, dtype=jnp.float32)[None, :] - (z - size_z // 2)[:, None] + 1
    gz = jnp.where((count >= 1) & (count <= size_z), torch_gaussian_1d(count, size_z), 0.0)
    gz = gz * (in_x & in_y)[:, None].astype(jnp.float32)
    return gz[:, :, None, None] * gy[:, None, :, None] * gx[:, None, None, :]
