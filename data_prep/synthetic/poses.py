"""Plausible 3D poses from joint angles, grouped into the 15 Human3.6M action names.

Each action is a pose family (walking gait, sitting, reaching down, arms raised, ...) given as
ranges of a few joint angles; a pose is built by forward kinematics on a skeleton with the
Human3.6M training subjects' mean bone lengths, scaled per subject. Angles stay inside human
joint limits (``JOINT_LIMITS``: knees and elbows bend one way, hips and shoulders within their
ranges); ``spread`` widens every family towards those limits, so that a training set covers
poses between and beyond the families. Headings cover the full circle.

Body frame: x towards the subject's left, y forward, z up, mm, pelvis at the origin.
"""

import numpy as np

from c2f.h36m import ACTIONS
from c2f.skeleton import BONES, MEAN_BONE_LENGTHS_MM, NUM_JOINTS

_LEN = dict(zip(BONES, MEAN_BONE_LENGTHS_MM))


def _rx(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


DOWN, UP = np.array([0.0, 0.0, -1.0]), np.array([0.0, 0.0, 1.0])
_NECK_DIR = np.array([0.0, 0.25, 0.97]) / np.linalg.norm(
    [0.0, 0.25, 0.97]
)  # nose ahead of the neck
_SHOULDER_DIR = np.array([1.0, 0.0, -0.15]) / np.linalg.norm([1.0, 0.0, -0.15])

# Joint-angle families, degrees: name -> (low, high). Missing names take their neutral value.
# Keys: hip_flex_{l,r} (forward +), hip_abd_{l,r} (outward +), knee_{l,r} (flexion, >= 0),
# sh_flex_{l,r} (arm forward/up +), sh_abd_{l,r} (arm sideways +), elbow_{l,r} (>= 0),
# bend (torso forward +), twist (torso about vertical), head_pitch (down +).
_STAND = {
    "hip_flex_l": (-5, 8),
    "hip_flex_r": (-5, 8),
    "knee_l": (0, 10),
    "knee_r": (0, 10),
    "sh_flex_l": (-10, 15),
    "sh_flex_r": (-10, 15),
    "sh_abd_l": (5, 15),
    "sh_abd_r": (5, 15),
    "elbow_l": (5, 30),
    "elbow_r": (5, 30),
    "bend": (-5, 10),
    "twist": (-15, 15),
    "head_pitch": (-10, 20),
    "hip_abd_l": (0, 10),
    "hip_abd_r": (0, 10),
}
_SIT = {
    **_STAND,
    "hip_flex_l": (75, 100),
    "hip_flex_r": (75, 100),
    "knee_l": (70, 100),
    "knee_r": (70, 100),
    "bend": (-5, 20),
    "hip_abd_l": (0, 20),
    "hip_abd_r": (0, 20),
}

FAMILIES: dict[str, dict[str, tuple[float, float]]] = {
    "Directions": {**_STAND, "sh_flex_r": (60, 100), "elbow_r": (0, 20), "sh_abd_r": (10, 40)},
    "Discussion": {
        **_STAND,
        "sh_flex_l": (20, 60),
        "sh_flex_r": (20, 60),
        "elbow_l": (50, 100),
        "elbow_r": (50, 100),
    },
    "Eating": {
        **_SIT,
        "sh_flex_l": (20, 50),
        "sh_flex_r": (20, 50),
        "elbow_l": (90, 140),
        "elbow_r": (90, 140),
        "head_pitch": (10, 30),
    },
    "Greeting": {**_STAND, "sh_flex_r": (90, 150), "sh_abd_r": (20, 60), "elbow_r": (30, 90)},
    "Phoning": {**_STAND, "sh_flex_r": (10, 40), "sh_abd_r": (20, 45), "elbow_r": (130, 150)},
    "Photo": {
        **_STAND,
        "sh_flex_l": (60, 90),
        "sh_flex_r": (60, 90),
        "elbow_l": (100, 140),
        "elbow_r": (100, 140),
        "sh_abd_l": (0, 20),
        "sh_abd_r": (0, 20),
    },
    "Posing": {
        **_STAND,
        "sh_abd_l": (60, 160),
        "sh_abd_r": (60, 160),
        "elbow_l": (0, 40),
        "elbow_r": (0, 40),
        "hip_abd_l": (5, 25),
        "hip_abd_r": (5, 25),
    },
    "Purchases": {
        **_STAND,
        "bend": (40, 85),
        "sh_flex_l": (40, 90),
        "sh_flex_r": (40, 90),
        "knee_l": (0, 40),
        "knee_r": (0, 40),
        "hip_flex_l": (0, 30),
        "hip_flex_r": (0, 30),
    },
    "Sitting": {**_SIT},
    "SittingDown": {
        **_SIT,
        "hip_flex_l": (100, 130),
        "hip_flex_r": (100, 130),
        "knee_l": (110, 140),
        "knee_r": (110, 140),
        "bend": (20, 50),
        "sh_flex_l": (20, 60),
        "sh_flex_r": (20, 60),
    },
    "Smoking": {**_STAND, "sh_flex_l": (20, 60), "sh_abd_l": (10, 30), "elbow_l": (120, 150)},
    "Waiting": {
        **_STAND,
        "sh_abd_l": (0, 10),
        "sh_abd_r": (0, 10),
        "elbow_l": (0, 60),
        "elbow_r": (0, 60),
        "twist": (-40, 40),
    },
    "WalkDog": {**_STAND, "sh_flex_r": (20, 50), "elbow_r": (10, 40), "bend": (5, 20)},
    "Walking": {**_STAND},
    "WalkTogether": {**_STAND, "sh_abd_l": (0, 8), "sh_abd_r": (0, 8)},
}
GAIT = {"WalkDog", "Walking", "WalkTogether"}
assert set(FAMILIES) == set(ACTIONS)

# Human joint limits, degrees (active range of motion, rounded; the same keys as FAMILIES).
# Every family range lies inside them; ``spread`` widens a family towards them.
JOINT_LIMITS: dict[str, tuple[float, float]] = {
    "hip_flex_l": (-20, 130),
    "hip_flex_r": (-20, 130),
    "hip_abd_l": (-10, 45),
    "hip_abd_r": (-10, 45),
    "knee_l": (0, 145),
    "knee_r": (0, 145),
    "sh_flex_l": (-45, 175),
    "sh_flex_r": (-45, 175),
    "sh_abd_l": (-10, 170),
    "sh_abd_r": (-10, 170),
    "elbow_l": (0, 150),
    "elbow_r": (0, 150),
    "bend": (-25, 90),
    "twist": (-45, 45),
    "head_pitch": (-35, 45),
}
assert all(
    JOINT_LIMITS[k][0] <= lo <= hi <= JOINT_LIMITS[k][1]
    for family in FAMILIES.values()
    for k, (lo, hi) in family.items()
)


def angle_ranges(action: str, spread: float = 0.0) -> dict[str, tuple[float, float]]:
    """Degrees ``(low, high)`` of every angle of ``action``, widened by ``spread``.

    ``spread`` in [0, 1] moves each end of the family's range that fraction of the way to the
    joint limit: 0 is the family itself, 1 any pose within the joint limits.
    """
    if action not in FAMILIES:
        raise ValueError(f"action: {action!r} is not one of {sorted(FAMILIES)}")
    if not 0.0 <= spread <= 1.0:
        raise ValueError(f"spread: must be in [0, 1], got {spread}")
    out = {}
    for k, (lo, hi) in FAMILIES[action].items():
        low, high = JOINT_LIMITS[k]
        out[k] = (lo - spread * (lo - low), hi + spread * (high - hi))
    return out


def sample_angles(action: str, rng: np.random.Generator, spread: float = 0.0) -> dict[str, float]:
    """Joint angles (radians) of one pose of ``action`` (``spread``: :func:`angle_ranges`)."""
    ranges = angle_ranges(action, spread)
    a = {k: np.deg2rad(rng.uniform(lo, hi)) for k, (lo, hi) in ranges.items()}
    if action in GAIT:
        phase = rng.uniform(0, 2 * np.pi)
        swing = np.deg2rad(rng.uniform(20, 32))
        a.update(gait_angles(action, phase, swing))
    return a


def gait_angles(action: str, phase: float, swing: float, smooth: bool = False) -> dict:
    """Leg and arm angles (radians) of a gait at ``phase`` (radians) with hip ``swing``.

    The knee flexes on half the cycle, ``max(0, sin)``; ``smooth`` rounds that corner
    (``(x + sqrt(x^2 + 0.2^2)) / 2``) so that motion through it has bounded acceleration.
    """

    def half(x):
        return (x + np.sqrt(x * x + 0.04)) / 2 if smooth else max(0.0, x)

    a = {"hip_flex_l": swing * np.sin(phase), "hip_flex_r": -swing * np.sin(phase),
         "knee_l": np.deg2rad(5 + 45 * half(np.sin(phase + 1.2))),
         "knee_r": np.deg2rad(5 + 45 * half(-np.sin(phase + 1.2)))}  # fmt: skip
    arm = 0.6 * swing
    a["sh_flex_l"] = -arm * np.sin(phase)
    if action != "WalkDog":
        a["sh_flex_r"] = arm * np.sin(phase)
    return a


def forward_kinematics(angles: dict[str, float], lengths) -> np.ndarray:
    """[17, 3] joints in the body frame (mm) from angles (radians) and [16] bone lengths."""
    L = dict(zip(BONES, lengths))
    g = angles.get
    j = np.zeros((NUM_JOINTS, 3))
    hip_w = {1: -1.0, 4: 1.0}  # RHip at -x, LHip at +x
    for hip, knee, ankle, side in ((1, 2, 3, "r"), (4, 5, 6, "l")):
        sgn = hip_w[hip]
        j[hip] = [sgn * L[(0, hip)], 0.0, 0.0]
        thigh = _rx(g(f"hip_flex_{side}", 0.0)) @ _ry(-sgn * g(f"hip_abd_{side}", 0.0))
        j[knee] = j[hip] + thigh @ DOWN * L[(hip, knee)]
        j[ankle] = j[knee] + thigh @ _rx(-g(f"knee_{side}", 0.0)) @ DOWN * L[(knee, ankle)]
    upper = _rz(g("twist", 0.0)) @ _rx(-g("bend", 0.0))
    j[7] = upper @ UP * L[(0, 7)]
    j[8] = j[7] + upper @ UP * L[(7, 8)]
    head = upper @ _rx(-g("head_pitch", 0.0))
    j[9] = j[8] + head @ _NECK_DIR * L[(8, 9)]
    j[10] = j[9] + head @ UP * L[(9, 10)]
    for shoulder, elbow, wrist, side, sgn in ((11, 12, 13, "l", 1.0), (14, 15, 16, "r", -1.0)):
        j[shoulder] = j[8] + upper @ (_SHOULDER_DIR * [sgn, 1.0, 1.0]) * L[(8, shoulder)]
        arm = upper @ _ry(-sgn * g(f"sh_abd_{side}", 0.0)) @ _rx(g(f"sh_flex_{side}", 0.0))
        j[elbow] = j[shoulder] + arm @ DOWN * L[(shoulder, elbow)]
        j[wrist] = j[elbow] + arm @ _rx(g(f"elbow_{side}", 0.0)) @ DOWN * L[(elbow, wrist)]
    return j


def subject_bone_lengths(subject: int) -> np.ndarray:
    """[16] bone lengths (mm) of a synthetic subject: its own height and proportions."""
    rng = np.random.default_rng(1000 + subject)
    height = rng.uniform(0.9, 1.1)
    proportions = rng.uniform(0.93, 1.07, len(BONES))
    lengths = MEAN_BONE_LENGTHS_MM * height * proportions
    for a, b in ((0, 3), (1, 4), (2, 5), (10, 13), (11, 14), (12, 15)):  # left = right
        lengths[a] = lengths[b] = MEAN_BONE_LENGTHS_MM[[a, b]].mean() * height * proportions[a]
    return lengths


def sample_pose(action: str, subject: int, rng: np.random.Generator, spread: float = 0.0):
    """[17, 3] world-frame joints (mm, z up) of one pose, feet on the floor, random heading."""
    body = forward_kinematics(sample_angles(action, rng, spread), subject_bone_lengths(subject))
    world = body @ _rz(rng.uniform(0, 2 * np.pi)).T
    world[:, :2] += rng.uniform(-600, 600, 2)
    world[:, 2] += 80.0 - world[[3, 6], 2].min()  # ankles ~8 cm above the floor
    return world
