"""Evaluation metrics of 3D pose (Human3.6M protocols, PCK3D, AUC) and their per-action tables.

Per-sample metrics are jax functions on ``[N, J, 3]`` joints in mm (any consistent unit), built
from one-example functions and ``vmap``; they run under ``jit``. Aggregation over actions is
host-side numpy.

* Protocol 1, :func:`mpjpe`: mean per-joint position error after subtracting each skeleton's
  root (pelvis) from its joints.
* Protocol 2, :func:`pa_mpjpe`: mean per-joint error after the similarity transform (scale,
  proper rotation, translation) that best aligns the prediction to the ground truth in the
  least-squares sense (Umeyama 1991). Reflections are not allowed.
* :func:`pck3d`: fraction of joints within 150 mm after root alignment; :func:`auc3d`: the mean
  PCK over thresholds 0, 5, ..., 150 mm (Mehta et al. 2017).
* Over time, on one sequence of consecutive frames (numpy; :mod:`c2f.evaluation.temporal`
  splits an evaluation into such runs): :func:`velocity_error` (MPJVE, mm/frame),
  :func:`acceleration_error` (VIBE/TCMR, mm/frame^2) and :func:`acceleration` of a prediction alone.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from c2f.checks import check_array
from c2f.h36m import ACTIONS, canonical_action
from c2f.skeleton import Skeleton

__all__ = ["ActionTable", "acceleration", "acceleration_error", "anchors", "auc3d", "mpjpe",
           "pa_mpjpe", "pck3d", "per_action", "procrustes_align", "root_align",
           "velocity_error"]  # fmt: skip


def _check_pair(pred, gt):
    pred = check_array("pred", pred, (None, None, 3))
    gt = check_array("gt", gt, tuple(pred.shape))
    return jnp.asarray(pred, jnp.float32), jnp.asarray(gt, jnp.float32)


@functools.lru_cache(maxsize=16)  # per skeleton, not per call: temporal rows call it per run
def anchors(skeleton: Skeleton) -> np.ndarray:
    """[J, K] int: for each joint, the joints whose mean is its part's alignment point.

    A part's alignment point is its root, or the mean of the skeleton's ``align`` joints (the
    pelvis as the mid-hip point of a whole-body set); rows shorter than K repeat their last.
    """
    points = skeleton.alignment
    k = max(len(a) for a in points)
    rows = [None] * skeleton.num_joints
    for part, point in zip(skeleton.parts, points):
        row = list(point) + [point[-1]] * (k - len(point))
        for j in part:
            rows[j] = row
    out = np.asarray(rows, np.int32)
    out.flags.writeable = False  # shared by every caller
    return out


def root_align(x, skeleton: Skeleton):
    """[..., J, 3] joints minus their part's alignment point (jax or numpy).

    One part with its root as the point (Human3.6M): ``x - x[root]``, exactly.
    """
    index = anchors(skeleton)
    if x.shape[-2] != len(index):
        raise ValueError(
            f"joints: {x.shape[-2]} joints for skeleton {skeleton.name!r} ({len(index)} joints)"
        )
    return x - x[..., index, :].mean(-2)


def _root_aligned_errors(pred, gt, skeleton: Skeleton):
    """[J, 3] x 2 -> [J] per-joint distances after per-part root alignment."""
    return jnp.linalg.norm(root_align(pred, skeleton) - root_align(gt, skeleton), axis=-1)


def _masked_mean(values, pick, valid):
    """Mean of ``values[pick]`` over the valid ones (all when ``valid`` is None)."""
    if valid is None:
        return values[pick].mean()
    weight = valid[pick].astype(values.dtype)
    return jnp.sum(values[pick] * weight) / jnp.maximum(jnp.sum(weight), 1.0)


def _check_valid(valid, pred):
    if valid is None:
        return None
    return jnp.asarray(check_array("valid", valid, tuple(pred.shape[:2]), kind="mask")) > 0


def procrustes_align(pred, gt):
    """Similarity transform of ``pred`` [J, 3] that best matches ``gt`` [J, 3], applied.

    Returns ``s R pred + t`` with s > 0 and R a proper rotation (det R = +1).
    """
    mu_p, mu_g = pred.mean(0), gt.mean(0)
    p, g = pred - mu_p, gt - mu_g
    cov = g.T @ p  # [3, 3]
    u, sv, vt = jnp.linalg.svd(cov)
    d = jnp.sign(jnp.linalg.det(u @ vt))
    flip = jnp.array([1.0, 1.0, 1.0]).at[2].set(d)
    rot = (u * flip) @ vt
    scale = jnp.sum(sv * flip) / jnp.maximum(jnp.sum(p**2), 1e-12)
    return scale * p @ rot.T + mu_g


def _joints(pred, joints):
    return jnp.arange(pred.shape[1]) if joints is None else jnp.asarray(joints)


def mpjpe(pred, gt, *, skeleton: Skeleton, joints=None, valid=None):
    """Protocol 1: [N, J, 3] x 2 -> [N] mean root-aligned joint error.

    Args:
      pred: [N, J, 3] predicted joints (mm).
      gt: [N, J, 3] ground truth (mm).
      skeleton: the keypoint set: each part is aligned at its own point (:func:`root_align`).
      joints: the indices averaged (default all), after the alignment.
      valid: [N, J] joints with ground truth; the others are left out of the mean (default
        all valid). A sample with none has error 0.
    """
    pred, gt = _check_pair(pred, gt)
    pick, valid = _joints(pred, joints), _check_valid(valid, pred)

    def one(p, g, v):
        return _masked_mean(_root_aligned_errors(p, g, skeleton), pick, v)

    return jax.vmap(one, (0, 0, None if valid is None else 0))(pred, gt, valid)


def pa_mpjpe(pred, gt):
    """Protocol 2: [N, J, 3] x 2 -> [N] mean joint error after similarity Procrustes."""
    pred, gt = _check_pair(pred, gt)
    return jax.vmap(lambda p, g: jnp.linalg.norm(procrustes_align(p, g) - g, axis=-1).mean())(
        pred, gt
    )


def pck3d(pred, gt, threshold: float = 150.0, *, skeleton: Skeleton, joints=None):
    """[N, J, 3] x 2 -> [N] fraction of joints within ``threshold`` after root alignment.

    ``joints``: the indices counted (e.g. MPI-INF-3DHP's 14), after aligning each part.
    """
    pred, gt = _check_pair(pred, gt)
    pick = _joints(pred, joints)
    return jax.vmap(lambda p, g: jnp.mean(_root_aligned_errors(p, g, skeleton)[pick] <= threshold))(
        pred, gt
    )


def auc3d(pred, gt, max_threshold: float = 150.0, step: float = 5.0, *, skeleton: Skeleton,
          joints=None):  # fmt: skip
    """[N, J, 3] x 2 -> [N] area under the PCK curve, thresholds 0..max_threshold by step."""
    pred, gt = _check_pair(pred, gt)
    thresholds = jnp.arange(0.0, max_threshold + step / 2, step)
    pick = _joints(pred, joints)

    def one(p, g):
        err = _root_aligned_errors(p, g, skeleton)[pick]
        return jnp.mean(err[None, :] <= thresholds[:, None])

    return jax.vmap(one)(pred, gt)


@dataclasses.dataclass(frozen=True)
class ActionTable:
    """Per-action means of a per-sample metric, in the paper's column order.

    Attributes:
      per_action: {action: mean} for the actions present, in :data:`c2f.h36m.ACTIONS` order.
      frames: {action: number of samples}.
      weighted: mean over all samples (each frame counts once).
      mean_over_actions: unweighted mean of the per-action means (the paper's "Avg").
    """

    per_action: dict[str, float]
    frames: dict[str, int]
    weighted: float
    mean_over_actions: float


def per_action(values, actions) -> ActionTable:
    """Aggregate a per-sample metric by action.

    Args:
      values: [N] per-sample values (e.g. :func:`mpjpe` in mm).
      actions: [N] action names. Human3.6M's, with sub-action suffixes and the release's
        aliases ("WalkDog 1", "TakingPhoto"), come in the paper's column order; when any name
        is not a Human3.6M action (another dataset's activities), the names are kept as they
        are, in order of first appearance.

    Raises:
      ValueError: on a length mismatch or no samples.
    """
    values = np.asarray(check_array("values", values, (None,)), np.float64)
    raw = [str(a) for a in np.asarray(actions).reshape(-1)]
    try:
        actions, order = [canonical_action(a) for a in raw], ACTIONS
    except ValueError:
        actions, order = raw, list(dict.fromkeys(raw))
    if len(actions) != len(values):
        raise ValueError(f"actions: {len(actions)} names for {len(values)} values")
    if not len(values):
        raise ValueError("values: no samples to aggregate")
    names = np.array(actions)
    table = {a: float(values[names == a].mean()) for a in order if np.any(names == a)}
    frames = {a: int(np.sum(names == a)) for a in table}
    return ActionTable(table, frames, float(values.mean()), float(np.mean(list(table.values()))))


# Over time: one sequence of consecutive frames, host-side numpy (sequences differ in length).


def _root_aligned(x, skeleton: Skeleton):
    x = np.asarray(x, np.float64)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"joints: expected [T, J, 3], got shape {x.shape}")
    return root_align(x, skeleton)


def velocity_error(pred, gt, *, skeleton: Skeleton) -> np.ndarray:
    """[T, J, 3] x 2 (one sequence, mm) -> [T - 1] mean velocity error per step, mm/frame."""
    p, g = _root_aligned(pred, skeleton), _root_aligned(gt, skeleton)
    return np.linalg.norm(np.diff(p, axis=0) - np.diff(g, axis=0), axis=-1).mean(-1)


def _second_difference(x):
    return x[:-2] - 2 * x[1:-1] + x[2:]


def acceleration_error(pred, gt, *, skeleton: Skeleton) -> np.ndarray:
    """[T, J, 3] x 2 (one sequence, mm) -> [T - 2] mean acceleration error, mm/frame^2."""
    p, g = _root_aligned(pred, skeleton), _root_aligned(gt, skeleton)
    return np.linalg.norm(_second_difference(p) - _second_difference(g), axis=-1).mean(-1)


def acceleration(pred, *, skeleton: Skeleton) -> np.ndarray:
    """[T, J, 3] (one sequence, mm) -> [T - 2] mean acceleration magnitude, mm/frame^2."""
    return np.linalg.norm(_second_difference(_root_aligned(pred, skeleton)), axis=-1).mean(-1)
