"""Mesh metrics, as VIBE, MPS-Net and Hand4Whole report them: MPVPE and PA-MPVPE.

On a file that stores body parameters (schema ``BODY_FIELDS``), the body model is fitted to the
predicted joints (:mod:`c2f.body.fit`, the Predictor's fit) and compared with the true mesh
rebuilt from the stored parameters:

* MPVPE: mean per-vertex position error (mm) after root alignment: each mesh minus its own root
  joint (the prediction's predicted root, the truth's true root), as MPJPE aligns joints;
* PA-MPVPE: the same after a similarity Procrustes of the predicted vertices onto the true;
* MPVPE, fit to true joints: the fit's floor (the same fit on the true joints), so that a table
  says how much of the error is the keypoints' and how much the fit's.

Vertices: the 1,229 of the decimated topology, spread over the skin (the full mesh's dense
face and hands would weigh more than their share).
"""

import sys

import h5py
import jax
import jax.numpy as jnp
import numpy as np

from c2f.body.assets import AssetError
from c2f.body.build import check_available
from c2f.body.fit import make_fitter
from c2f.body.keypoints import BODY_KEYPOINTS
from c2f.body.model import BodyModel, axis_angle_to_matrix, pose
from c2f.data.schema import BODY_FIELDS, body_model_of
from c2f.evaluation import metrics
from c2f.skeleton import Skeleton

ROWS = ("MPVPE", "PA-MPVPE", "MPVPE, fit to true joints")
CHUNK = 256  # bodies posed per call

_pose_batch = jax.jit(jax.vmap(pose, in_axes=(None, 0, 0, 0, 0)))


def has_body(path) -> bool:
    """Whether a dataset file stores body parameters."""
    with h5py.File(path, "r") as f:
        return body_model_of(f, path) is not None and all(k in f for k in BODY_FIELDS)


def meshes(model: BodyModel, shape, pose_aa, root, expression=None) -> np.ndarray:
    """[N, V, 3] vertices (mm) of N bodies.

    Phenotypes [N, 6], pose [N, B, 3], root [N, 3], optional face expressions [N, E] (default
    neutral).
    """
    if expression is None:
        expression = np.zeros((len(shape), model.expression_dirs.shape[0]), np.float32)
    out = []
    for s in range(0, len(shape), CHUNK):
        sl = slice(s, s + CHUNK)
        R = axis_angle_to_matrix(jnp.asarray(pose_aa[sl], jnp.float32))
        phen, where = jnp.asarray(shape[sl], jnp.float32), jnp.asarray(root[sl], jnp.float32)
        face = jnp.asarray(expression[sl], jnp.float32)
        out.append(np.asarray(_pose_batch(model, phen, R, where, face).vertices))
    return np.concatenate(out) if out else np.zeros((0, model.template.shape[0], 3), np.float32)


def true_meshes(path, indices, model: BodyModel) -> np.ndarray:
    """The stored bodies of samples ``indices`` of a file, camera frame, [N, V, 3] mm."""
    order = np.argsort(indices)
    with h5py.File(path, "r") as f:
        fields = {k: f[k][np.asarray(indices)[order]] for k in BODY_FIELDS}
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    return meshes(model, *(fields[k][back] for k in ("body_shape", "body_pose", "body_root",
                                                     "body_expression")))  # fmt: skip


def fitted_meshes(fit, model: BodyModel, joints, valid) -> np.ndarray:
    """Fit bodies to [N, J, 3] joints (mm); their [N, V, 3] meshes."""
    r = fit(joints, valid)
    return meshes(model, r.phenotype, r.pose, r.root)


def vertex_errors(pred_v, gt_v, pred_root, gt_root) -> tuple[np.ndarray, np.ndarray]:
    """([N] MPVPE, [N] PA-MPVPE), mm: root-aligned, and after a similarity Procrustes."""
    a = pred_v - pred_root[:, None]
    b = gt_v - gt_root[:, None]
    mpvpe = np.linalg.norm(a - b, axis=-1).mean(-1)
    pa = np.concatenate([np.asarray(metrics.pa_mpjpe(a[s : s + CHUNK], b[s : s + CHUNK]))
                         for s in range(0, len(a), CHUNK)])  # fmt: skip
    return mpvpe, pa


def evaluation_rows(result: dict, path, skeleton: Skeleton, action_names) -> dict:
    """The rows of :data:`ROWS` (per-action tables) for an evaluation of a file with bodies.

    ``result``: :func:`c2f.evaluation.evaluate.evaluate`'s (``index``, ``action``,
    ``joints_mm`` predicted and ``joints_cam`` true, camera frame, ``valid_3d``). Empty when the
    file stores no bodies or the skeleton has no body keypoints.
    """
    if skeleton.name not in BODY_KEYPOINTS or not has_body(path):
        return {}
    try:
        check_available()
    except AssetError as e:  # the table without the mesh rows, rather than no table
        print(f"note: no MPVPE rows: {e}", file=sys.stderr)
        return {}
    full, coarse = BodyModel.load("full"), BodyModel.load("coarse")
    fit = make_fitter(full, skeleton.name)
    root = skeleton.root
    valid = np.asarray(result["valid_3d"], np.float32)
    truth = true_meshes(path, result["index"], coarse)
    names = [action_names[int(a)] for a in result["action"]]
    rows = {}
    for label, joints in (("", result["joints_mm"]), ("true", result["joints_cam"])):
        joints = np.asarray(joints, np.float32)
        fitted = fitted_meshes(fit, coarse, joints, valid)
        e, pa = vertex_errors(fitted, truth, joints[:, root], result["joints_cam"][:, root])
        if label == "true":
            rows[ROWS[2]] = metrics.per_action(e, names)
        else:
            rows[ROWS[0]] = metrics.per_action(e, names)
            rows[ROWS[1]] = metrics.per_action(pa, names)
    return rows
