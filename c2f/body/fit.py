"""A body mesh from keypoints: fit the body model's shape and pose to 3D (and 2D) joints.

One fit for every caller (the Predictor's ``fit_mesh``, ``c2f predict --mesh``, ``c2f video
--mesh``, evaluation's fit floor): :func:`make_fitter` returns a jitted, batched function.

What is fitted, per person: the phenotype (six values squashed into their ranges: the shape
cannot leave the model's adults), one axis-angle rotation per bone and the root's position.
The loss, with the weights of :class:`FitConfig`:

* 3D: mean squared distance (mm) of the set's keypoints to the targets, over valid joints;
* 2D (where ``K`` and 2D joints are given): mean squared reprojection error, px;
* priors that keep it human: the rotations of bones no keypoint moves (twist bones, toes, face,
  metacarpals) held at the rest pose; every other rotation pulled gently to rest; knees and
  elbows allowed to bend one way only; the phenotype pulled towards the neutral body.

Start: the rest pose turned and placed by a Procrustes fit of the torso's joints, then each
limb segment turned onto its target direction (the generator's retargeting, in closed form), so
that Adam (``steps`` iterations, one ``lax.scan``) only refines.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax

from c2f.body.init import initial_pose
from c2f.body.keypoints import BODY_KEYPOINTS, keypoint_regressor
from c2f.body.model import NEUTRAL_PHENOTYPE, BodyModel, axis_angle_to_matrix, pose, rest


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """Weights and schedule of the fit (units: the loss terms are mm^2 and px^2)."""

    steps: int = 300
    learning_rate: float = 0.03
    w_3d: float = 1.0
    w_2d: float = 0.5
    w_pose: float = 20.0  # per rad^2, the bones keypoints move
    w_still: float = 2e4  # per rad^2, the bones no keypoint moves
    w_hinge: float = 2e4  # per rad^2 of a knee or elbow bent backwards or sideways
    w_shape: float = 2e3  # per unit^2 of phenotype away from neutral


@dataclasses.dataclass(frozen=True)
class FitResult:
    """Fitted parameters (numpy, batched).

    phenotype [N, 6], pose [N, B, 3] axis-angle, root [N, 3] mm (the targets' frame),
    keypoints [N, J, 3] (the fitted body's), loss [N].
    """

    phenotype: np.ndarray
    pose: np.ndarray
    root: np.ndarray
    keypoints: np.ndarray
    loss: np.ndarray


_AGE = (2.0 / 3.0, 1.0)
# People per fit call are padded to one of these (larger calls run in chunks of the last):
# one compilation per bucket, and few buckets, since each compiles for about 10 s on a CPU.
BUCKETS = (8, 64)


def _phenotype(z):
    p = jax.nn.sigmoid(z)
    return p.at[1].set(_AGE[0] + (_AGE[1] - _AGE[0]) * p[1])


def _phenotype_logits(ph):
    ph = jnp.asarray(ph, jnp.float32)
    ph = ph.at[1].set((ph[1] - _AGE[0]) / (_AGE[1] - _AGE[0]))
    ph = jnp.clip(ph, 1e-3, 1 - 1e-3)
    return jnp.log(ph) - jnp.log1p(-ph)


def _points_model(model: BodyModel, vertex_ids) -> BodyModel:
    """The model restricted to the few vertices a keypoint set reads (cheap to pose)."""
    ids = np.asarray(vertex_ids, int)
    return dataclasses.replace(model, template=model.template[ids],
                               shape_dirs=model.shape_dirs[:, ids], weights=model.weights[ids],
                               expression_dirs=model.expression_dirs[:, ids],
                               faces=np.zeros((0, 3), np.int32),
                               face_part=np.zeros(0, np.int8))  # fmt: skip


def _moved_bones(model: BodyModel, skeleton: str) -> np.ndarray:
    """[B] 1 for bones whose rotation moves a keypoint of the set (ancestors of its terms)."""
    H, T, (_, vid, _) = keypoint_regressor(model, skeleton)
    used = set(np.flatnonzero(H.any(0))) | set(np.flatnonzero(T.any(0)))
    w = np.asarray(model.weights)[vid] if len(vid) else np.zeros((0, model.num_bones))
    used |= set(np.flatnonzero(w.max(0) > 0.3)) if len(vid) else set()
    moved = np.zeros(model.num_bones)
    for b in used:  # a term moves with every ancestor of its bone but its own head
        k = model.parents[b] if b in set(np.flatnonzero(H.any(0))) else b
        while k >= 0:
            moved[k] = 1
            k = model.parents[k]
    for name in model.bone_names:  # a segment's second bone turns with its first
        if name.startswith(("upperleg02", "lowerleg02", "upperarm02", "lowerarm02")):
            moved[model.bone(name)] = 0
    return moved


def _hinges(model: BodyModel):
    """Knees and elbows: bone indices [4] and rest-frame hinge axes [4, 3].

    Oriented so that a positive rotation about the axis bends the joint the human way (the
    knee back, the elbow forward).
    """
    r = rest(model, jnp.asarray(NEUTRAL_PHENOTYPE, jnp.float32))
    H = np.asarray(r.heads)
    idx, axes = [], []
    for joint, child, way in (("lowerleg01", "foot", -1.0), ("lowerarm01", "wrist", 1.0)):
        for s in "LR":
            b = model.bone(f"{joint}.{s}")
            d = H[model.bone(f"{child}.{s}")] - H[b]
            axis = np.cross(d, [0.0, 1.0, 0.0])
            axis /= np.linalg.norm(axis)
            bent = np.asarray(axis_angle_to_matrix(jnp.asarray(0.3 * axis))) @ d
            idx.append(b)
            axes.append(axis if np.sign(bent[1] - d[1]) == way else -axis)
    return np.array(idx), jnp.asarray(np.array(axes), jnp.float32)


def make_fitter(model: BodyModel, skeleton: str, config: FitConfig = FitConfig()):
    """A jitted ``fit(targets, valid, joints_2d=None, K=None) -> FitResult`` for a keypoint set.

    Any number of people per call (padded to :data:`BUCKETS`).

    Args (of the returned function; N people):
      targets: [N, J, 3] joints, mm, any frame (the camera's when 2D is used).
      valid: [N, J] 1 where a target counts.
      joints_2d: optional [N, J, 2] px, with ``K`` [N, 3, 3]: adds the reprojection term.
    """
    if skeleton not in BODY_KEYPOINTS:
        raise ValueError(f"fit: no body keypoints for {skeleton!r} (has {tuple(BODY_KEYPOINTS)})")
    keypoints_of = _keypoint_fn(model, skeleton)
    loss_fn = _loss_fn(keypoints_of, _moved_bones(model, skeleton), _hinges(model), config)
    batched = jax.jit(jax.vmap(_solver(loss_fn, keypoints_of, config)))
    init_fn = initial_pose(model, skeleton, _phenotype_logits(NEUTRAL_PHENOTYPE))

    def fit_bucket(targets, valid, uv, K, use_2d):
        init = jax.vmap(init_fn)(jnp.asarray(targets), jnp.asarray(valid))
        return batched(jnp.asarray(targets), jnp.asarray(valid), jnp.asarray(uv),
                       jnp.asarray(K), jnp.asarray(use_2d), init)  # fmt: skip

    def fit(targets, valid, joints_2d=None, K=None) -> FitResult:
        targets = np.asarray(targets, np.float32)
        n = len(targets)
        use_2d = np.full(n, float(joints_2d is not None and K is not None), np.float32)
        uv = np.zeros((n, targets.shape[1], 2)) if joints_2d is None else joints_2d
        K = np.tile(np.eye(3), (n, 1, 1)) if K is None else np.broadcast_to(K, (n, 3, 3))
        arrays = [targets, np.asarray(valid, np.float32), np.asarray(uv, np.float32),
                  np.asarray(K, np.float32), use_2d]  # fmt: skip
        parts = []
        for s in range(0, n, BUCKETS[-1]):  # padded to a bucket: one compilation each
            chunk = [a[s : s + BUCKETS[-1]] for a in arrays]
            m = len(chunk[0])
            size = next(b for b in BUCKETS if b >= m)
            chunk = [np.concatenate([a, np.repeat(a[-1:], size - m, 0)]) for a in chunk]
            parts.append([np.asarray(x)[:m] for x in fit_bucket(*chunk)])
        return FitResult(*(np.concatenate(p) for p in zip(*parts)))

    return fit


def _keypoint_fn(model: BodyModel, skeleton: str):
    """``params -> (keypoints [J, 3], phenotype [6])``.

    The model posed on the few vertices the keypoint set reads, by the same ``pose`` as every
    caller's.
    """
    H, T, (vrow, vid, vw) = keypoint_regressor(model, skeleton)
    points = _points_model(model, vid)
    H, T = jnp.asarray(H), jnp.asarray(T)

    def keypoints_of(params):
        ph = _phenotype(params["shape"])
        p = pose(points, ph, axis_angle_to_matrix(params["pose"]), params["root"])
        kp = H @ p.heads + T @ p.tails
        return (kp.at[vrow].add(vw[:, None] * p.vertices) if len(vid) else kp), ph

    return keypoints_of


def _loss_fn(keypoints_of, moved, hinges, config: FitConfig):
    """The fit's loss of one person (the module docstring's terms)."""
    moved = jnp.asarray(moved)
    hinge_idx, hinge_axis = hinges

    def loss_fn(params, target, valid, uv, K, use_2d):
        kp, ph = keypoints_of(params)
        n = jnp.maximum(valid.sum(), 1.0)
        e3 = jnp.sum(valid * jnp.sum((kp - target) ** 2, -1)) / n
        proj = kp @ K.T
        px = proj[:, :2] / jnp.maximum(proj[:, 2:], 1.0)
        e2 = jnp.sum(valid * jnp.sum((px - uv) ** 2, -1)) / n
        aa = params["pose"][1:]
        still = config.w_still / config.w_pose
        prior = jnp.sum(moved[1:, None] * aa**2) + still * jnp.sum((1 - moved[1:, None]) * aa**2)
        # knees and elbows bend about their hinge, one way: the rest of their rotation and a
        # bend the wrong way are penalised
        h = params["pose"][hinge_idx]
        along = jnp.sum(h * hinge_axis, -1)
        back = jnp.sum(jnp.minimum(along, 0.0) ** 2)
        sideways = jnp.sum((h - along[:, None] * hinge_axis) ** 2)
        shape = jnp.sum((ph - jnp.asarray(NEUTRAL_PHENOTYPE)) ** 2)
        return (config.w_3d * e3 + use_2d * config.w_2d * e2 + config.w_pose * prior
                + config.w_hinge * (back + sideways) + config.w_shape * shape)  # fmt: skip

    return loss_fn


def _solver(loss_fn, keypoints_of, config: FitConfig):
    """One person's fit: ``config.steps`` Adam steps in one ``lax.scan`` from ``init``."""
    opt = optax.adam(config.learning_rate)
    scale = {"shape": 1.0, "pose": 1.0, "root": 100.0}  # the root moves in mm

    def fit_one(target, valid, uv, K, use_2d, init):
        def step(carry, _):
            params, state = carry
            loss, grads = jax.value_and_grad(loss_fn)(params, target, valid, uv, K, use_2d)
            updates, state = opt.update(grads, state)
            updates = jax.tree.map(lambda u, s: u * s, updates, scale)
            return (optax.apply_updates(params, updates), state), loss

        (params, _), losses = jax.lax.scan(step, (init, opt.init(init)), None, config.steps)
        kp, ph = keypoints_of(params)
        return ph, params["pose"], params["root"], kp, losses[-1]

    return fit_one
