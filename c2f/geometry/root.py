"""Absolute root depth from a root-relative prediction and the camera intrinsics.

The network predicts, per joint, undistorted pixel coordinates ``(u, v)`` and the depth
relative to the root ``dz`` (mm). Each joint lies on its viewing ray:
``X_j = r_j * (Z + dz_j)`` with ``r_j = ((u - cx) / fx, (v - cy) / fy, 1)`` and ``Z`` the
unknown root depth. Without ground truth, the paper picks the ``Z`` whose skeleton has bone
lengths closest to reference lengths (by default the skeleton's own, e.g. the mean of the
Human3.6M training subjects for ``h36m17``). A bone (p, c) is ``a Z + b`` with
``a = r_c - r_p``, ``b = r_c dz_c - r_p dz_p``; we minimise
``sum_b (|a_b Z + b_b| - L_b)^2`` by Gauss-Newton from the closed-form start that ignores ``b``.

Pixels must be undistorted first when the lens is not a pinhole
(:func:`c2f.geometry.camera.undistort`). Functions work on one skeleton; ``vmap`` for batches.
"""

import jax.numpy as jnp

from c2f.checks import check_array
from c2f.skeleton import Skeleton


def _rays(uv, f, c):
    xy = (uv - c) / f
    return jnp.concatenate([xy, jnp.ones_like(xy[..., :1])], axis=-1)


def skeleton_from_root_depth(uv, dz_mm, f, c, root_depth_mm):
    """Camera-frame joints from pixels, root-relative depths and the root's depth.

    Args:
      uv: [J, 2] undistorted pixel coordinates in the original image.
      dz_mm: [J] depth of each joint minus its root's depth, mm.
      f: [2] focal lengths, px.
      c: [2] principal point, px.
      root_depth_mm: depth Z of the root, mm (ground truth or :func:`recover_root_depth`):
        a scalar, or [J] (each joint's own root depth, for skeletons of several parts).

    Returns:
      [J, 3] camera-frame joints, mm.
    """
    uv = check_array("uv", uv, (None, 2))
    dz_mm = check_array("dz_mm", dz_mm, (uv.shape[0],))
    f = check_array("f", f, (2,))
    c = check_array("c", c, (2,))
    if jnp.ndim(root_depth_mm):
        root_depth_mm = check_array("root_depth_mm", root_depth_mm, (uv.shape[0],))
    else:
        root_depth_mm = check_array("root_depth_mm", root_depth_mm, ())
    return _rays(uv, f, c) * (root_depth_mm + dz_mm)[:, None]


def recover_root_depth(uv, dz_mm, f, c, skeleton: Skeleton, bone_lengths_mm=None,
                       iterations: int = 8):  # fmt: skip
    """Root depth whose back-projected skeleton best matches reference bone lengths.

    Args:
      uv: [J, 2] undistorted pixel coordinates.
      dz_mm: [J] root-relative depths, mm.
      f: [2] focal lengths, px.
      c: [2] principal point, px.
      skeleton: the keypoint set (one part: its bones); its ``bone_lengths_mm`` are the default
        reference.
      bone_lengths_mm: [B] reference lengths in ``skeleton.bones`` order, mm.
      iterations: Gauss-Newton steps (converges in 3-4 on realistic poses).

    Returns:
      scalar root depth, mm (float32 under jax defaults).

    Raises:
      ValueError: the skeleton has no bone lengths and none are given, or has several parts.
    """
    if len(skeleton.roots) != 1:
        raise ValueError(
            f"skeleton {skeleton.name!r}: one part expected, has {len(skeleton.roots)}"
        )
    bones = skeleton.bones
    uv = check_array("uv", uv, (skeleton.num_joints, 2))
    dz_mm = check_array("dz_mm", dz_mm, (skeleton.num_joints,))
    f = check_array("f", f, (2,))
    c = check_array("c", c, (2,))
    if bone_lengths_mm is None:
        bone_lengths_mm = skeleton.bone_lengths_mm
    if bone_lengths_mm is None:
        raise ValueError(
            f"skeleton {skeleton.name!r} has no mean bone lengths: the root depth must be given"
        )
    lengths = jnp.asarray(check_array("bone_lengths_mm", bone_lengths_mm, (len(bones),)))
    parent = jnp.array([p for p, _ in bones])
    child = jnp.array([ch for _, ch in bones])
    rays = _rays(jnp.asarray(uv), jnp.asarray(f), jnp.asarray(c))
    dz_mm = jnp.asarray(dz_mm, rays.dtype)
    a = rays[child] - rays[parent]
    b = rays[child] * dz_mm[child, None] - rays[parent] * dz_mm[parent, None]
    norm_a = jnp.linalg.norm(a, axis=-1)
    z = jnp.sum(norm_a * lengths) / jnp.sum(norm_a**2)
    for _ in range(iterations):
        e = a * z + b
        length = jnp.linalg.norm(e, axis=-1)
        jac = jnp.sum(a * e, axis=-1) / jnp.maximum(length, 1e-6)
        z = z - jnp.sum(jac * (length - lengths)) / jnp.maximum(jnp.sum(jac**2), 1e-12)
    return z
