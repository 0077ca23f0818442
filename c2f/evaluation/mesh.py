"""Mesh metrics, as VIBE, MPS-Net and Hand4Whole report them: MPVPE and PA-MPVPE.

On a file that stores body parameters (schema ``BODY_FIELDS``), the body model is fitted to the
predicted joints (:mod:`c2f.body.fit`, the Predictor's fit) and compared with the true mesh
rebuilt from the stored parameters:

* MPVPE: mean per-vertex position error (mm) after root alignment: each mesh minus its own root
  point (the prediction's predicted one, the truth's true one), as MPJPE aligns joints; for a
  hand set, each hand's vertices aligned at its wrist, over the hands with ground truth;
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
from c2f.data.schema import BODY_FIELDS, BODY_REQUIRED, body_model_of
from c2f.evaluation import metrics
from c2f.skeleton import Skeleton

ROWS = ("MPVPE", "PA-MPVPE", "MPVPE, fit to true joints")
CHUNK = 256  # bodies posed per call

_pose_batch = jax.jit(jax.vmap(pose, in_axes=(None, 0, 0, 0, 0)))


def has_body(path) -> bool:
    """Whether a dataset file stores body parameters."""
    with h5py.File(path, "r") as f:
        return body_model_of(f, path) is not None and all(k in f for k in BODY_REQUIRED)


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
        fields = {k: f[k][np.asarray(indices)[order]] for k in BODY_FIELDS if k in f}
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    face = fields["body_expression"][back] if "body_expression" in fields else None
    return meshes(model, *(fields[k][back] for k in BODY_REQUIRED), face)


def fitted_meshes(fit, model: BodyModel, joints, valid) -> np.ndarray:
    """Fit bodies to [N, J, 3] joints (mm); their [N, V, 3] meshes."""
    r = fit(joints, valid)
    return meshes(model, r.phenotype, r.pose, r.root)


def mesh_parts(model: BodyModel, skeleton: Skeleton) -> list[tuple]:
    """Per part of a keypoint set: ``(its joints, its alignment joints, its vertices)``.

    A part whose root keypoint is a wrist (the hand sets) is measured on the vertices that its
    hand's bones move most, aligned at that wrist, as hand meshes are; any other part on the
    whole body, aligned as its joints are (Human3.6M's pelvis, H3WB's mid-hips).
    """
    rows = BODY_KEYPOINTS[skeleton.name]
    dominant = np.asarray(model.weights).argmax(1)
    out = []
    for part, root, align in zip(skeleton.parts, skeleton.roots, skeleton.alignment):
        bones = {what for kind, what, _ in rows[root] if kind == "head"}
        wrist = next((b for b in bones if b.startswith("wrist.")), None)
        if wrist is None:
            vertices = np.arange(len(dominant))
        else:
            under = {model.bone(wrist)}
            for b, p in enumerate(model.parents):  # parents come before children
                if p in under:
                    under.add(b)
            vertices = np.flatnonzero(np.isin(dominant, sorted(under)))
        out.append((np.array(part), np.array(align), vertices))
    return out


def part_errors(pred_v, gt_v, pred_joints, gt_joints, valid, parts):
    """([N] MPVPE, [N] PA-MPVPE), mm: the mean over each sample's parts with all joints valid."""
    e = np.zeros(len(pred_v))
    pa = np.zeros(len(pred_v))
    count = np.zeros(len(pred_v))
    for joints, align, vertices in parts:
        ok = np.asarray(valid)[:, joints].all(1)
        at_pred, at_true = pred_joints[:, align].mean(1), gt_joints[:, align].mean(1)
        ep, pp = vertex_errors(pred_v[:, vertices], gt_v[:, vertices], at_pred, at_true)
        e += np.where(ok, ep, 0.0)
        pa += np.where(ok, pp, 0.0)
        count += ok
    count = np.maximum(count, 1)  # a sample with no valid part counts 0 (none here: 3D files)
    return e / count, pa / count


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
    parts = mesh_parts(coarse, skeleton)
    valid = np.asarray(result["valid_3d"], np.float32)
    truth = true_meshes(path, result["index"], coarse)
    names = [action_names[int(a)] for a in result["action"]]
    gt_joints = np.asarray(result["joints_cam"], np.float32)
    rows = {}
    for label, joints in (("", result["joints_mm"]), ("true", gt_joints)):
        joints = np.asarray(joints, np.float32)
        fitted = fitted_meshes(fit, coarse, joints, valid)
        e, pa = part_errors(fitted, truth, joints, gt_joints, valid, parts)
        if label == "true":
            rows[ROWS[2]] = metrics.per_action(e, names)
        else:
            rows[ROWS[0]] = metrics.per_action(e, names)
            rows[ROWS[1]] = metrics.per_action(pa, names)
    return rows
