"""The Human3.6M 17-joint skeleton used throughout c2f.

Joint order is the standard one of the 3D pose literature (Martinez et al., Pavlakos et al.):
index 0 is the pelvis (the root), right leg before left leg, then the spine and head, then the
left arm before the right arm. "Left" and "right" are the subject's own sides.
"""

import numpy as np

JOINT_NAMES: tuple[str, ...] = (
    "Pelvis",
    "RHip",
    "RKnee",
    "RAnkle",
    "LHip",
    "LKnee",
    "LAnkle",
    "Spine",
    "Thorax",
    "Neck/Nose",
    "Head",
    "LShoulder",
    "LElbow",
    "LWrist",
    "RShoulder",
    "RElbow",
    "RWrist",
)
NUM_JOINTS = len(JOINT_NAMES)
ROOT = 0

# Parent of each joint; -1 marks the root.
PARENTS: tuple[int, ...] = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)

# The 16 bones as (parent, child), ordered by child index: bone b ends at joint b + 1.
BONES: tuple[tuple[int, int], ...] = tuple((p, c) for c, p in enumerate(PARENTS) if p >= 0)

# Left/right pairs, and the joint permutation that a horizontal image flip applies to labels.
FLIP_PAIRS: tuple[tuple[int, int], ...] = ((1, 4), (2, 5), (3, 6), (11, 14), (12, 15), (13, 16))


def _flip_permutation() -> tuple[int, ...]:
    perm = list(range(NUM_JOINTS))
    for a, b in FLIP_PAIRS:
        perm[a], perm[b] = b, a
    return tuple(perm)


FLIP_PERMUTATION: tuple[int, ...] = _flip_permutation()

# Indices of our 17 joints among the 32 of the Human3.6M release (D3_Positions*, D2_Positions).
H36M32_INDICES: tuple[int, ...] = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)

# Mean bone lengths (mm) of the Human3.6M training subjects, as published with the paper's code
# (c2f-vol-demo matlab/utils/data/limb_train.mat, `Ltr`). That file lists bones in the order of
# a parent-first traversal, i.e. sorted by (parent, child); PAPER_BONE_ORDER is that order.
PAPER_BONE_ORDER: tuple[tuple[int, int], ...] = tuple(sorted(BONES))
_PAPER_LTR_MM = (
    134.0501, 134.0509, 238.3751, 449.2042, 445.5815, 449.2057, 445.5819, 255.3401,
    116.0794, 148.8358, 148.8347, 115.0009, 279.7591, 249.5236, 279.7623, 249.5228,
)  # fmt: skip
# The same lengths in BONES order, shape [16], mm.
MEAN_BONE_LENGTHS_MM: np.ndarray = np.array(
    [_PAPER_LTR_MM[PAPER_BONE_ORDER.index(b)] for b in BONES], dtype=np.float64
)


def bone_lengths(joints):
    """Bone lengths of one or many skeletons.

    Args:
      joints: [..., 17, 3] joint positions (any length unit; numpy or jax array).

    Returns:
      [..., 16] lengths in the same unit, in BONES order.
    """
    parents = np.array([p for p, _ in BONES])
    children = np.array([c for _, c in BONES])
    diff = joints[..., children, :] - joints[..., parents, :]
    return (diff**2).sum(-1) ** 0.5
