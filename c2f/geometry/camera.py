"""Human3.6M cameras: extrinsics, intrinsics and the release's own lens distortion model.

Frames and units:
  * world: Human3.6M's, z up, millimetres.
  * camera: x right, y down, z forward (optical axis), millimetres.
    ``X_cam = R @ (X_world - t)`` with ``t`` the camera centre in world mm.
  * image: pixels, centre of the top-left pixel at (0, 0) (see :mod:`c2f.grid`).

Distortion is Human3.6M's ``ProjectPointRadial``, which is NOT OpenCV's ordering of the
tangential terms. With ``x = X/Z, y = Y/Z, r2 = x^2 + y^2``::

    radial = 1 + k1 r2 + k2 r2^2 + k3 r2^3
    tan    = p1 y + p2 x
    xd = x (radial + tan) + p2 r2,    yd = y (radial + tan) + p1 r2
    u = fx xd + cx,                   v = fy yd + cy

All functions accept numpy (computed in float64) or jax arrays (jit/vmap friendly).
"""

import dataclasses

import jax
import numpy as np

from c2f.array_api import namespace
from c2f.checks import check_array

_FIELD_SHAPES = {"R": (3, 3), "t": (3,), "f": (2,), "c": (2,), "k": (3,), "p": (2,)}


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Camera:
    """One calibrated camera.

    Attributes:
      R: [3, 3] world-to-camera rotation.
      t: [3] camera centre in world coordinates, mm.
      f: [2] focal lengths (fx, fy), px.
      c: [2] principal point (cx, cy), px.
      k: [3] radial distortion (k1, k2, k3).
      p: [2] tangential distortion (p1, p2) in the release's order.
      res_w, res_h: image size in px (static; S4, S7 and S10 are 1000 x 1002).
    """

    R: np.ndarray
    t: np.ndarray
    f: np.ndarray
    c: np.ndarray
    k: np.ndarray
    p: np.ndarray
    res_w: int = dataclasses.field(default=1000, metadata=dict(static=True))
    res_h: int = dataclasses.field(default=1000, metadata=dict(static=True))

    def __post_init__(self):
        # jax rebuilds pytrees with placeholder leaves; only real arrays are checked.
        for name, shape in _FIELD_SHAPES.items():
            value = getattr(self, name)
            if isinstance(value, (jax.Array, np.ndarray)):
                check_array(f"Camera.{name}", value, shape)

    @classmethod
    def from_dict(cls, d: dict) -> "Camera":
        """From an ``h36m_cameras.json``-style dict (keys R, t, f, c, k, p, res_w, res_h)."""
        missing = [key for key in ("R", "t", "f", "c") if key not in d]
        if missing:
            raise ValueError(f"camera dict: missing field(s) {missing}")

        def arr(key, n):
            value = np.asarray(d.get(key, np.zeros(n)), np.float64)
            return value.reshape(n) if value.size == n else value  # a wrong size fails below

        return cls(
            R=np.asarray(d["R"], np.float64),
            t=arr("t", 3),
            f=arr("f", 2),
            c=arr("c", 2),
            k=arr("k", 3),
            p=arr("p", 2),
            res_w=int(d.get("res_w", 1000)),
            res_h=int(d.get("res_h", 1000)),
        )

    @classmethod
    def from_intrinsics(cls, K, res_w: int = 1000, res_h: int = 1000) -> "Camera":
        """An undistorted camera at the world origin from a [3, 3] intrinsics matrix."""
        K = check_array("K", np.asarray(K, np.float64), (3, 3))
        return cls(
            R=np.eye(3),
            t=np.zeros(3),
            f=K[[0, 1], [0, 1]],
            c=K[:2, 2],
            k=np.zeros(3),
            p=np.zeros(2),
            res_w=res_w,
            res_h=res_h,
        )

    @property
    def K(self):
        """[3, 3] pinhole intrinsics."""
        xp = namespace(self.f)
        z = xp.zeros_like(self.f[0])
        o = xp.ones_like(self.f[0])
        return xp.stack(
            [
                xp.stack([self.f[0], z, self.c[0]]),
                xp.stack([z, self.f[1], self.c[1]]),
                xp.stack([z, z, o]),
            ]
        )


def world_to_camera(cam: Camera, x_world):
    """[..., 3] world mm -> [..., 3] camera mm."""
    x_world = check_array("x_world", x_world, ("...", 3))
    return (x_world - cam.t) @ cam.R.T


def camera_to_world(cam: Camera, x_cam):
    """[..., 3] camera mm -> [..., 3] world mm."""
    x_cam = check_array("x_cam", x_cam, ("...", 3))
    return x_cam @ cam.R + cam.t


def distort(cam: Camera, xy):
    """[..., 2] normalised image coordinates (X/Z, Y/Z) -> distorted normalised coordinates."""
    xp = namespace(xy, cam.k)
    x, y = xy[..., 0], xy[..., 1]
    k1, k2, k3 = cam.k[0], cam.k[1], cam.k[2]
    p1, p2 = cam.p[0], cam.p[1]
    r2 = x * x + y * y
    factor = 1 + k1 * r2 + k2 * r2 * r2 + k3 * r2 * r2 * r2 + p1 * y + p2 * x
    return xp.stack([x * factor + p2 * r2, y * factor + p1 * r2], axis=-1)


def undistort(cam: Camera, xy_d, iterations: int = 20):
    """Invert :func:`distort` by fixed-point iteration.

    Args:
      cam: the camera.
      xy_d: [..., 2] distorted normalised coordinates.
      iterations: fixed-point steps; Human3.6M's mild distortion converges to float precision
        in well under 10 anywhere in the image.

    Returns:
      [..., 2] undistorted normalised coordinates.
    """
    xp = namespace(xy_d, cam.k)
    k1, k2, k3 = cam.k[0], cam.k[1], cam.k[2]
    p1, p2 = cam.p[0], cam.p[1]
    xy = xy_d
    for _ in range(iterations):
        x, y = xy[..., 0], xy[..., 1]
        r2 = x * x + y * y
        factor = 1 + k1 * r2 + k2 * r2 * r2 + k3 * r2 * r2 * r2 + p1 * y + p2 * x
        xy = xp.stack(
            [(xy_d[..., 0] - p2 * r2) / factor, (xy_d[..., 1] - p1 * r2) / factor], axis=-1
        )
    return xy


def project(cam: Camera, x_cam, *, distortion: bool = True):
    """Project camera-frame points to image pixels.

    Args:
      cam: the camera.
      x_cam: [..., 3] camera-frame points, mm, in front of the camera (Z > 0).
      distortion: apply the lens model (True for the release's 2D ground truth).

    Returns:
      [..., 2] pixel coordinates (u, v).
    """
    x_cam = check_array("x_cam", x_cam, ("...", 3))
    xy = x_cam[..., :2] / x_cam[..., 2:3]
    if distortion:
        xy = distort(cam, xy)
    return xy * cam.f + cam.c


def back_project(cam: Camera, uv, depth, *, distortion: bool = True):
    """Lift pixels with known depth back to camera-frame points.

    Args:
      cam: the camera.
      uv: [..., 2] pixel coordinates.
      depth: [...] depth Z along the optical axis, mm.
      distortion: undo the lens model first (iteratively).

    Returns:
      [..., 3] camera-frame points, mm.
    """
    uv = check_array("uv", uv, ("...", 2))
    depth = check_array("depth", depth, uv.shape[:-1])
    xp = namespace(uv, depth)
    xy = (uv - cam.c) / cam.f
    if distortion:
        xy = undistort(cam, xy)
    return xp.concatenate([xy * depth[..., None], depth[..., None]], axis=-1)
