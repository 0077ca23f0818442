"""Keypoint sets as values: :class:`Skeleton`, and the registry ``SKELETONS`` of named ones.

A skeleton names its joints, their parents (a forest: one root per connected part, e.g. the two
wrists of two hands), left/right flip pairs, optionally the mean bone lengths that let the root
depth be recovered without ground truth, named joint subsets for evaluation, the depth range of
its volumes and how to draw it. Data files name their skeleton (schema version 3), runs record
it, and every consumer (augmentation, the flip test, reconstruction, metrics, drawing) takes it
from the run: nothing assumes 17 joints.

Registered sets (adding one is one entry of :data:`SKELETONS`):

* ``h36m17``: Human3.6M's 17 joints (the paper's; the default, and what files and runs made
  before skeletons were recorded hold). Index 0 is the pelvis (the root), right leg before left
  leg, then the spine and head, then the left arm before the right arm (Martinez et al.,
  Pavlakos et al.); "left" and "right" are the subject's own sides.
* ``hand21``: one hand in InterHand2.6M's order: thumb tip, 3, 2, 1, then index, middle, ring
  and pinky likewise (tip first), the wrist last (index 20, the root).
* ``interhand42``: InterHand2.6M's two hands: right 0-20, left 21-41 (wrists 20 and 41, the
  two roots).
* ``coco_wholebody133``: COCO-WholeBody's 133 keypoints (H3WB's 3D order): 17 body, 6 feet,
  68 face, 21 left hand, 21 right hand.
"""

import dataclasses
import functools
import json

import numpy as np


@dataclasses.dataclass(frozen=True)
class Skeleton:
    """A keypoint set (see the module docstring).

    Attributes:
      name: the registry name, or a user's own name for a custom set.
      joint_names: [J] names, in the order of every per-joint array.
      parents: [J] parent index of each joint; -1 marks a root (one per connected part).
      flip_pairs: (a, b) joints that swap under a horizontal image flip (left/right).
      bone_lengths_mm: mean length of each bone in :attr:`bones` order, mm, or None: then the
        root depth cannot be recovered from bones and must be given (ground truth, or the
        Predictor's ``root_depth_mm``).
      align: per part (in root order), the joints whose mean is the point that root-aligned
        metrics subtract (default: the part's root).
      subsets: named joint subsets for evaluation, ``(name, indices)`` pairs.
      depth_range_mm: (near, far) depth of a joint relative to its part's root that the
        volumes span, mm (the body's +-1 m; hands much less).
      extent_mm: half the side of the 3D drawing, mm.
      sides: per joint "L", "R" or "M" for drawing colours; default from the names.
    """

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    flip_pairs: tuple[tuple[int, int], ...] = ()
    bone_lengths_mm: tuple[float, ...] | None = None
    align: tuple[tuple[int, ...], ...] = ()
    subsets: tuple[tuple[str, tuple[int, ...]], ...] = ()
    depth_range_mm: tuple[float, float] = (-1000.0, 1000.0)
    extent_mm: float = 1100.0
    sides: tuple[str, ...] = ()

    def __post_init__(self):
        j = len(self.joint_names)
        where = f"Skeleton {self.name!r}"
        if j < 1 or len(set(self.joint_names)) != j:
            raise ValueError(f"{where}: joint_names must be non-empty and unique")
        if len(self.parents) != j:
            raise ValueError(f"{where}: {len(self.parents)} parents for {j} joints")
        for i, p in enumerate(self.parents):
            if not -1 <= p < j or p == i:
                raise ValueError(f"{where}: joint {i} has parent {p}")
        for i in range(j):  # every chain of parents ends at a root (no cycle)
            seen, k = set(), i
            while k != -1:
                if k in seen:
                    raise ValueError(f"{where}: the parents of joint {i} form a cycle")
                seen.add(k)
                k = self.parents[k]
        used = [k for pair in self.flip_pairs for k in pair]
        if len(set(used)) != len(used) or not all(0 <= k < j for k in used):
            raise ValueError(f"{where}: flip_pairs must be distinct joints in range")
        if self.bone_lengths_mm is not None and len(self.bone_lengths_mm) != len(self.bones):
            raise ValueError(
                f"{where}: {len(self.bone_lengths_mm)} bone lengths for {len(self.bones)} bones"
            )
        if self.align and len(self.align) != len(self.roots):
            raise ValueError(
                f"{where}: align has {len(self.align)} entries for {len(self.roots)} parts"
            )
        for name, idx in self.subsets:
            if not idx or not all(0 <= k < j for k in idx):
                raise ValueError(f"{where}: subset {name!r} has joints out of range")
        near, far = self.depth_range_mm
        if not near < 0 < far:
            raise ValueError(f"{where}: depth_range_mm must be (near < 0 < far), got {near}, {far}")
        if self.sides and (len(self.sides) != j or set(self.sides) - {"L", "R", "M"}):
            raise ValueError(f"{where}: sides must be one of L, R, M per joint")

    # Derived, in one place each.
    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def roots(self) -> tuple[int, ...]:
        """The root of each connected part, in index order."""
        return tuple(i for i, p in enumerate(self.parents) if p < 0)

    @property
    def root(self) -> int:
        """The first root (the only one of a one-part skeleton such as Human3.6M's)."""
        return self.roots[0]

    @property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(parent, child) pairs, ordered by child index."""
        return tuple((p, c) for c, p in enumerate(self.parents) if p >= 0)

    @functools.cached_property
    def flip_permutation(self) -> tuple[int, ...]:
        """The joint permutation a horizontal flip applies to labels."""
        perm = list(range(self.num_joints))
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return tuple(perm)

    @functools.cached_property
    def parts(self) -> tuple[tuple[int, ...], ...]:
        """The joints of each connected part, in :attr:`roots` order."""
        owner = []
        for i in range(self.num_joints):
            k = i
            while self.parents[k] >= 0:
                k = self.parents[k]
            owner.append(k)
        return tuple(tuple(i for i in range(self.num_joints) if owner[i] == r) for r in self.roots)

    @functools.cached_property
    def part_of(self) -> tuple[int, ...]:
        """[J] the part (index into :attr:`roots`) of each joint."""
        out = [0] * self.num_joints
        for k, part in enumerate(self.parts):
            for j in part:
                out[j] = k
        return tuple(out)

    @property
    def root_of(self) -> tuple[int, ...]:
        """[J] the root of each joint's part: depths in the volumes are relative to it."""
        return tuple(self.roots[k] for k in self.part_of)

    @property
    def alignment(self) -> tuple[tuple[int, ...], ...]:
        """Per part, the joints averaged into its alignment point."""
        return self.align or tuple((r,) for r in self.roots)

    @property
    def joint_sides(self) -> tuple[str, ...]:
        """Per joint "L", "R" or "M" (stated, or read from the names' prefixes)."""
        if self.sides:
            return self.sides
        out = []
        for name in self.joint_names:
            low = name.lower()
            if low.startswith(("l_", "left")) or (name[:1] == "L" and name[1:2].isupper()):
                out.append("L")
            elif low.startswith(("r_", "right")) or (name[:1] == "R" and name[1:2].isupper()):
                out.append("R")
            else:
                out.append("M")
        return tuple(out)

    def subset(self, name: str) -> tuple[int, ...]:
        """The joints of a named subset; a typo lists the names."""
        table = dict(self.subsets)
        if name not in table:
            raise ValueError(f"skeleton {self.name!r}: no subset {name!r} (has {tuple(table)})")
        return table[name]

    def to_json(self) -> str:
        """The whole definition as JSON (stored by data files and checkpoints)."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Skeleton":
        """Inverse of :meth:`to_json`; a registered name gives the registry's value."""
        data = json.loads(text)
        if not isinstance(data, dict) or "joint_names" not in data or "parents" not in data:
            raise ValueError("skeleton: expected a JSON object with joint_names and parents")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields
        if unknown:
            raise ValueError(f"skeleton: unknown field(s) {sorted(unknown)}")
        data = {k: _tuples(v) for k, v in data.items()}
        data["subsets"] = tuple((n, tuple(i)) for n, i in data.get("subsets", ()))
        skeleton = cls(**data)
        known = SKELETONS.get(skeleton.name)
        return known if known == skeleton else skeleton


def _tuples(value):
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def get(name: str) -> Skeleton:
    """The registered skeleton called ``name``; a typo lists the names."""
    if name not in SKELETONS:
        raise ValueError(f"skeleton: one of {tuple(SKELETONS)}, got {name!r}")
    return SKELETONS[name]


def bone_lengths(joints, skeleton: Skeleton):
    """[..., J, 3] joints (any unit; numpy or jax) -> [..., B] lengths, ``skeleton.bones`` order."""
    parents = np.array([p for p, _ in skeleton.bones])
    children = np.array([c for _, c in skeleton.bones])
    diff = joints[..., children, :] - joints[..., parents, :]
    return (diff**2).sum(-1) ** 0.5


# --- Human3.6M's 17 joints -------------------------------------------------------------------

_H36M_NAMES = (
    "Pelvis", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "Spine", "Thorax",
    "Neck/Nose", "Head", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist",
)  # fmt: skip
_H36M_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
_H36M_BONES = tuple((p, c) for c, p in enumerate(_H36M_PARENTS) if p >= 0)
# Mean bone lengths (mm) of the Human3.6M training subjects, as published with the paper's code
# (c2f-vol-demo matlab/utils/data/limb_train.mat, `Ltr`). That file lists bones in the order of
# a parent-first traversal, i.e. sorted by (parent, child).
PAPER_BONE_ORDER: tuple[tuple[int, int], ...] = tuple(sorted(_H36M_BONES))
_PAPER_LTR_MM = (
    134.0501, 134.0509, 238.3751, 449.2042, 445.5815, 449.2057, 445.5819, 255.3401,
    116.0794, 148.8358, 148.8347, 115.0009, 279.7591, 249.5236, 279.7623, 249.5228,
)  # fmt: skip

H36M17 = Skeleton(
    name="h36m17",
    joint_names=_H36M_NAMES,
    parents=_H36M_PARENTS,
    flip_pairs=((1, 4), (2, 5), (3, 6), (11, 14), (12, 15), (13, 16)),
    bone_lengths_mm=tuple(_PAPER_LTR_MM[PAPER_BONE_ORDER.index(b)] for b in _H36M_BONES),
    # MPI-INF-3DHP's 14 evaluation joints (head, neck, shoulders, elbows, wrists, hips, knees,
    # ankles), the PCK3D/AUC set of c2f.evaluation.mpi_inf_3dhp
    subsets=(("mpi_inf_3dhp14", (10, 8, 14, 15, 16, 11, 12, 13, 1, 2, 3, 4, 5, 6)),),
    # the edges of the paper's 64 bins (the authors' voxel_limits.mat; c2f.geometry.DepthBins)
    depth_range_mm=(-1005.1859029814127, 980.8598618317474),
)


# --- hands (InterHand2.6M's order) -----------------------------------------------------------

_FINGERS = ("thumb", "index", "middle", "ring", "pinky")


def _hand(prefix: str, offset: int):
    names, parents = [], []
    wrist = offset + 20
    for f, finger in enumerate(_FINGERS):
        for k in (4, 3, 2, 1):  # tip first, as InterHand2.6M stores them
            names.append(f"{prefix}{finger}{k}")
            i = offset + 4 * f + (4 - k)
            parents.append(wrist if k == 1 else i + 1)
    names.append(f"{prefix}wrist")
    parents.append(-1)
    return names, parents


_RIGHT, _RIGHT_PARENTS = _hand("r_", 0)
_LEFT, _LEFT_PARENTS = _hand("l_", 21)
_HAND_NAMES, _HAND_PARENTS = _hand("", 0)

HAND21 = Skeleton(
    name="hand21",
    joint_names=tuple(_HAND_NAMES),
    parents=tuple(_HAND_PARENTS),
    subsets=(("fingertips", (0, 4, 8, 12, 16)),),
    depth_range_mm=(-150.0, 150.0),
    extent_mm=150.0,
    sides=("M",) * 21,
)
INTERHAND42 = Skeleton(
    name="interhand42",
    joint_names=tuple(_RIGHT + _LEFT),
    parents=tuple(_RIGHT_PARENTS + _LEFT_PARENTS),
    flip_pairs=tuple((i, i + 21) for i in range(21)),
    subsets=(("right_hand", tuple(range(21))), ("left_hand", tuple(range(21, 42)))),
    depth_range_mm=(-150.0, 150.0),  # each hand's joints relative to its own wrist
    extent_mm=250.0,
)


# --- COCO-WholeBody / H3WB -------------------------------------------------------------------

_BODY = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
_BODY_PARENTS = (5, 0, 0, 1, 2, 11, 12, 5, 6, 7, 8, -1, 11, 11, 12, 13, 14)
_FEET = ("left_big_toe", "left_small_toe", "left_heel",
         "right_big_toe", "right_small_toe", "right_heel")  # fmt: skip
_FEET_PARENTS = (15, 15, 15, 16, 16, 16)
# The 68 face points (iBUG 300-W order): jaw 0-16, eyebrows 17-21 and 22-26, nose bridge
# 27-30 and base 31-35, eyes 36-41 and 42-47, outer lip 48-59, inner lip 60-67. Drawn as
# chains, each chain hanging from the nose.
_FACE_CHAINS = ((0, 17), (17, 22), (22, 27), (27, 31), (31, 36), (36, 42), (42, 48), (48, 60),
                (60, 68))  # fmt: skip
_WB_HAND_FINGERS = ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")


def _wholebody():
    names = list(_BODY) + list(_FEET)
    parents = list(_BODY_PARENTS) + list(_FEET_PARENTS)
    start = len(names)
    for a, b in _FACE_CHAINS:
        for k in range(a, b):
            names.append(f"face-{k}")
            parents.append(0 if k == a else start + k - 1)
    for side, wrist in (("left", 9), ("right", 10)):
        root = len(names)
        names.append(f"{side}_hand_root")
        parents.append(wrist)
        for finger in _WB_HAND_FINGERS:
            for k in range(1, 5):
                names.append(f"{side}_{finger}{k}")
                parents.append(root if k == 1 else len(names) - 2)
    return tuple(names), tuple(parents)


_WB_NAMES, _WB_PARENTS = _wholebody()
_WB_FLIP = tuple(
    (i, _WB_NAMES.index("right" + n[4:]))
    for i, n in enumerate(_WB_NAMES)
    if n.startswith("left")
) + tuple(  # the face: the 300-W points' mirror images
    (23 + a, 23 + b)
    for a, b in ((0, 16), (1, 15), (2, 14), (3, 13), (4, 12), (5, 11), (6, 10), (7, 9),
                 (17, 26), (18, 25), (19, 24), (20, 23), (21, 22), (31, 35), (32, 34),
                 (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46), (48, 54),
                 (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67))
)  # fmt: skip

COCO_WHOLEBODY133 = Skeleton(
    name="coco_wholebody133",
    joint_names=_WB_NAMES,
    parents=_WB_PARENTS,
    flip_pairs=_WB_FLIP,
    # H3WB aligns the whole body at the pelvis, the mid-point of the hips
    align=((11, 12),),
    subsets=(
        ("body", tuple(range(0, 17))),
        ("feet", tuple(range(17, 23))),
        ("face", tuple(range(23, 91))),
        ("left_hand", tuple(range(91, 112))),
        ("right_hand", tuple(range(112, 133))),
    ),
)

SKELETONS: dict[str, Skeleton] = {
    s.name: s for s in (H36M17, HAND21, INTERHAND42, COCO_WHOLEBODY133)
}

# Human3.6M-specific code (its converter, the synthetic Human3.6M-shaped generator, the
# authors' files) names these; everything else takes the run's skeleton.
JOINT_NAMES = H36M17.joint_names
NUM_JOINTS = H36M17.num_joints
ROOT = H36M17.root
PARENTS = H36M17.parents
BONES = H36M17.bones
FLIP_PAIRS = H36M17.flip_pairs
FLIP_PERMUTATION = H36M17.flip_permutation
MEAN_BONE_LENGTHS_MM: np.ndarray = np.array(H36M17.bone_lengths_mm, dtype=np.float64)
# Indices of the 17 joints among the 32 of the Human3.6M release (D3_Positions*, D2_Positions).
H36M32_INDICES: tuple[int, ...] = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
