"""From decoded volume coordinates to 3D joints in millimetres (one example; vmap for batches).

A prediction is (x, y) in heatmap pixels and z in depth bins of the finest volume
(:mod:`c2f.volume`). With the affine from heatmap pixels to original-image pixels (the inverse
of the crop), the image's intrinsics and distortion, and a root depth (ground truth, or
recovered from bone lengths, :func:`c2f.geometry.recover_root_depth`), each joint is
back-projected along its viewing ray to the depth ``root + z_rel``.
"""

import jax.numpy as jnp

from c2f.geometry.camera import Camera, undistort
from c2f.geometry.depth_bins import DepthBins
from c2f.geometry.root import recover_root_depth, skeleton_from_root_depth
from c2f.skeleton import Skeleton


def heatmap_to_image(coords, hm_to_img):
    """[J, 3] heatmap coordinates -> [J, 2] original-image pixels through a [2, 3] affine."""
    return coords[:, :2] @ hm_to_img[:, :2].T + hm_to_img[:, 2]


def reconstruct(coords, hm_to_img, intrinsics, distortion, depth_bins: DepthBins,
                skeleton: Skeleton, root_depth=None):  # fmt: skip
    """Camera-frame joints (mm) from one example's decoded coordinates.

    Args:
      coords: [J, 3] (x, y heatmap px; z bins at ``depth_bins.num_bins``).
      hm_to_img: [2, 3] affine from heatmap px to original-image px.
      intrinsics: [4] fx, fy, cx, cy.
      distortion: [5] k1, k2, k3, p1, p2 (Human3.6M's model).
      depth_bins: the depth range of the volume.
      skeleton: the keypoint set: each joint's depth is relative to its part's root.
      root_depth: the root's depth in mm (ground truth), [P] one per part for a skeleton of P
        parts; None recovers it from the skeleton's mean bone lengths (one part only).

    Returns:
      (joints [J, 3] camera-frame mm, uv [J, 2] original-image px).
    """
    uv = heatmap_to_image(coords, hm_to_img)
    f, c = intrinsics[:2], intrinsics[2:]
    cam = Camera(R=jnp.eye(3), t=jnp.zeros(3), f=f, c=c, k=distortion[:3], p=distortion[3:])
    xy = undistort(cam, (uv - c) / f)
    z_rel = depth_bins.to_mm(coords[:, 2])
    z_rel = z_rel - z_rel[jnp.asarray(skeleton.root_of)]
    undistorted = xy * f + c
    if root_depth is None:
        root_depth = recover_root_depth(undistorted, z_rel, f, c, skeleton)
    elif len(skeleton.roots) > 1:  # one depth per part, spread to its joints
        root_depth = jnp.asarray(root_depth)[jnp.asarray(skeleton.part_of)]
    return skeleton_from_root_depth(undistorted, z_rel, f, c, root_depth), uv
