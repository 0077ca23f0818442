"""Person crops: the box convention of the original coarse-to-fine code and its affine maps.

A crop is a square box of side ``200 * scale`` px centred on ``center`` in the original image
(Newell et al.'s convention, kept by Pavlakos et al.). The box is resampled to ``res x res``
pixels; optionally rotated about its centre and mirrored horizontally (augmentation).

Pixel coordinates follow :mod:`c2f.grid` (pixel centres at integers) in every image, so the
box covers crop coordinates ``[-0.5, res - 0.5]`` whatever ``res`` is; in particular
``crop_matrix(center, scale, 64)`` maps original pixels straight to heatmap pixels of a 64 x 64
output, and equals :func:`c2f.grid.rescale` applied after ``crop_matrix(center, scale, 256)``.

Matrices are [2, 3] affine maps acting on column vectors ``(u, v, 1)``, built on the host in
float64 numpy; :func:`apply_affine` also accepts jax arrays.
"""

import numpy as np

from c2f.array_api import namespace
from c2f.checks import check_array, check_positive

BOX_SIZE_PX = 200.0  # a box of scale s has side BOX_SIZE_PX * s in original pixels
BOX_MARGIN_PX = 40.0  # the authors' margin: scale = (max(w, h) + 40) / 200


def box_from_joints(uv, margin_px: float = BOX_MARGIN_PX):
    """The authors' person box around 2D joints.

    Args:
      uv: [J, 2] pixel coordinates of the (distorted) 2D joints.
      margin_px: added to the longer side of the tight box.

    Returns:
      (center [2] px, scale): the centre of the tight bounding box and
      ``(max(w, h) + margin_px) / 200``.
    """
    uv = np.asarray(check_array("uv", uv, (None, 2)), np.float64)
    lo, hi = uv.min(0), uv.max(0)
    return (lo + hi) / 2, (max(hi - lo) + margin_px) / BOX_SIZE_PX


def crop_matrix(center, scale, res: int, rot_deg: float = 0.0, flip: bool = False) -> np.ndarray:
    """Affine map from original-image pixels to pixels of a ``res x res`` crop.

    Args:
      center: [2] box centre (u, v) in original px.
      scale: box side / 200 px.
      res: crop side in px.
      rot_deg: rotation of the image content about the box centre, degrees, counter-clockwise
        as seen on screen.
      flip: mirror the crop horizontally (after rotation). Joint labels must then be swapped
        with :data:`c2f.skeleton.FLIP_PERMUTATION`; this function only moves points.

    Returns:
      [2, 3] float64 matrix A with ``crop = A @ (u, v, 1)``.
    """
    center = np.asarray(check_array("center", center, (2,), kind="number"), np.float64)
    check_positive("scale", float(scale))
    check_positive("res", res)
    s = res / (BOX_SIZE_PX * float(scale))
    a = np.deg2rad(rot_deg)
    rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    lin = s * rot
    mid = res / 2 - 0.5
    A = np.concatenate([lin, (mid - lin @ center)[:, None]], axis=1)
    if flip:
        A = np.array([[-1.0, 0.0, res - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([A, [0, 0, 1]])
    return A


def invert_affine(A) -> np.ndarray:
    """Inverse of a [2, 3] affine map."""
    A = np.asarray(check_array("A", A, (2, 3)), np.float64)
    inv = np.linalg.inv(A[:, :2])
    return np.concatenate([inv, (-inv @ A[:, 2])[:, None]], axis=1)


def compose_affine(A, B) -> np.ndarray:
    """The [2, 3] map ``x -> A(B(x))``."""
    A = np.asarray(check_array("A", A, (2, 3)), np.float64)
    B = np.asarray(check_array("B", B, (2, 3)), np.float64)
    return np.concatenate([A[:, :2] @ B[:, :2], (A[:, :2] @ B[:, 2] + A[:, 2])[:, None]], axis=1)


def apply_affine(A, uv):
    """Apply a [2, 3] affine map to points [..., 2] (numpy or jax)."""
    A = check_array("A", A, (2, 3))
    uv = check_array("uv", uv, ("...", 2))
    xp = namespace(A, uv)
    A = xp.asarray(A, dtype=uv.dtype) if xp is not np else A
    return uv @ A[:, :2].T + A[:, 2]


def split_affine(A) -> np.ndarray:
    """[2, 3] float64 -> [3, 2, 3] float32 parts that sum to it (to ~1e-11 relative).

    The first two parts have at most 12 significant bits, so their products with pixel
    coordinates (at most 2^11) are exact in float32.
    """
    A = np.asarray(A, np.float64)
    parts = []
    rest = A
    for _ in range(2):
        exponent = np.floor(np.log2(np.where(rest == 0, 1.0, np.abs(rest))))
        quantum = np.exp2(exponent - 11)  # 12 significant bits
        part = np.round(rest / quantum) * quantum
        parts.append(part)
        rest = rest - part
    parts.append(rest)
    return np.stack(parts).astype(np.float32)
