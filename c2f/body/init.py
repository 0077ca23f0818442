"""A closed-form starting pose for the fit: the torso by Procrustes, each limb onto its target.

For a keypoint set, :func:`initial_pose` returns a jittable ``(targets [J, 3], valid [J]) ->
params`` (the fit's parameters: ``shape`` logits, ``pose`` [B, 3] axis-angle, ``root`` [3] mm).
The root's rotation is the Kabsch rotation taking the neutral rest body's torso keypoints onto
the targets'; each limb segment with two keypoints (Human3.6M's thighs, shins, upper arms and
forearms) is then turned by the smallest rotation onto its target direction, and its second
(twist) bone follows it. The rest of the body keeps the root's turn.
"""

import jax
import jax.numpy as jnp
import numpy as np

from c2f.body.keypoints import keypoint_regressor
from c2f.body.model import NEUTRAL_PHENOTYPE, BodyModel, rest

# Per keypoint set: the torso joints the root's turn is fitted to (those with ground truth
# count: a crop of one hand turns the body by that hand), and the limb segments as (first
# bone, parent keypoint, child keypoint).
TORSO = {
    "coco_wholebody133": (5, 6, 11, 12),  # shoulders and hips
    "h36m17": (0, 1, 4, 7, 8, 11, 14),
    "hand21": (20, 3, 7, 11, 15, 19),
    "interhand42": (20, 3, 7, 11, 15, 19, 41, 24, 28, 32, 36, 40),  # weighted by validity
}
SEGMENTS = {
    "coco_wholebody133": (("upperleg01.L", 11, 13), ("lowerleg01.L", 13, 15),
                          ("upperleg01.R", 12, 14), ("lowerleg01.R", 14, 16),
                          ("upperarm01.L", 5, 7), ("lowerarm01.L", 7, 9),
                          ("upperarm01.R", 6, 8), ("lowerarm01.R", 8, 10)),
    "h36m17": (("upperleg01.R", 1, 2), ("lowerleg01.R", 2, 3), ("upperleg01.L", 4, 5),
               ("lowerleg01.L", 5, 6), ("upperarm01.L", 11, 12), ("lowerarm01.L", 12, 13),
               ("upperarm01.R", 14, 15), ("lowerarm01.R", 15, 16)),
}  # fmt: skip
_SECOND = {"upperleg01": "upperleg02", "lowerleg01": "lowerleg02", "upperarm01": "upperarm02",
           "lowerarm01": "lowerarm02"}  # fmt: skip


def kabsch(src, dst, w):
    """Rotation R minimising sum w |R (src - mean) - (dst - mean)|^2 (weighted means)."""
    w = w / jnp.maximum(w.sum(), 1e-9)
    a = src - jnp.sum(w[:, None] * src, 0)
    b = dst - jnp.sum(w[:, None] * dst, 0)
    U, _, Vt = jnp.linalg.svd((w[:, None] * b).T @ a)
    d = jnp.sign(jnp.linalg.det(U @ Vt))
    return U @ jnp.diag(jnp.array([1.0, 1.0, 1.0]).at[2].set(d)) @ Vt


def align(a, b):
    """The smallest rotation taking direction ``a`` to ``b`` (smooth; a half turn if opposite)."""
    a = a / jnp.maximum(jnp.linalg.norm(a), 1e-9)
    b = b / jnp.maximum(jnp.linalg.norm(b), 1e-9)
    v = jnp.cross(a, b)
    c = jnp.dot(a, b)
    K = jnp.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return jnp.eye(3) + K + K @ K / jnp.maximum(1.0 + c, 1e-6)


def matrix_to_axis_angle(R):
    """[..., 3, 3] -> [..., 3] (angles below pi)."""
    cos = jnp.clip((jnp.trace(R, axis1=-2, axis2=-1) - 1) / 2, -1.0, 1.0)
    angle = jnp.arccos(cos)[..., None]
    v = jnp.stack([R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0],
                   R[..., 1, 0] - R[..., 0, 1]], -1)  # fmt: skip
    s = jnp.sin(angle)
    return jnp.where(s > 1e-6, v * angle / (2 * jnp.maximum(s, 1e-6)), v / 2)


def initial_pose(model: BodyModel, skeleton: str, shape_logits):
    """The initialiser of a keypoint set (see the module docstring)."""
    r = rest(model, jnp.asarray(NEUTRAL_PHENOTYPE, jnp.float32))
    H, T, (vrow, vid, vw) = keypoint_regressor(model, skeleton)
    kp = H @ np.asarray(r.heads) + T @ np.asarray(r.tails)
    np.add.at(kp, vrow, vw[:, None] * np.asarray(r.vertices)[vid])
    head0 = np.asarray(r.heads[0])
    torso = np.array(TORSO.get(skeleton, range(len(kp))))
    segments = [(model.bone(b), model.bone(b.replace(b.split(".")[0], _SECOND[b.split(".")[0]])),
                 p, c) for b, p, c in SEGMENTS.get(skeleton, ())]  # fmt: skip
    parents = model.parents

    def init(targets, valid):
        w = valid[torso]
        R0 = kabsch(jnp.asarray(kp[torso]), targets[torso], w + 1e-6)
        wsum = jnp.maximum(w.sum(), 1e-6)
        centre_t = jnp.sum(w[:, None] * targets[torso], 0) / wsum
        centre_r = jnp.sum(w[:, None] * jnp.asarray(kp[torso] - head0), 0) / wsum
        root = centre_t - R0 @ centre_r
        G = {}
        for first, second, p, c in segments:
            d_rest = jnp.asarray(kp[c] - kp[p])
            d_target = targets[c] - targets[p]
            ok = valid[p] * valid[c]
            turn = align(R0 @ d_rest, d_target)
            G[first] = G[second] = jnp.where(ok > 0, turn @ R0, R0)
        glob, local = [], []
        for b, p in enumerate(parents):
            parent = R0 if p < 0 else glob[p]
            g = R0 if p < 0 else G.get(b, parent)
            glob.append(g)
            local.append(g if p < 0 else parent.T @ g)
        return {"shape": jnp.asarray(shape_logits), "pose": matrix_to_axis_angle(jnp.stack(local)),
                "root": root}  # fmt: skip

    return jax.jit(init)
