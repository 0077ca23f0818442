"""COCO-WholeBody into the c2f format (2D only, 133 keypoints): ``c2f data coco-wholebody``.

Reads a ``coco_wholebody_*.json`` (COCO's person annotations plus, per person, ``foot_kpts``
(6), ``face_kpts`` (68), ``lefthand_kpts`` and ``righthand_kpts`` (21 each) as (x, y, v)
triples with ``foot_valid``, ``face_valid``, ``lefthand_valid``, ``righthand_valid``) and the
COCO images. The samples are in the ``coco_wholebody133`` skeleton (H3WB's 3D order: body 17,
feet 6, face 68, left hand 21, right hand 21), 2D only (``valid_3d`` 0), for mixing into
whole-body runs as MPII and COCO are into body runs. A keypoint is labelled where its ``v > 0``
and its part is valid. Skipped and counted: crowds, people with fewer than
``--min-keypoints`` labelled keypoints, boxes under ``--min-box`` px. The person box is COCO's
(``data_prep.coco``: centred on ``bbox``, side ``max(w, h) + 40`` px).
"""

import json
import pathlib
import sys

import numpy as np

from c2f.skeleton import COCO_WHOLEBODY133
from data_prep.coco import command, person_box, skip_reason
from data_prep.two_d import same_names, write_people

# (annotation field, validity flag, count), in the skeleton's order
PARTS = (
    ("keypoints", None, 17),
    ("foot_kpts", "foot_valid", 6),
    ("face_kpts", "face_valid", 68),
    ("lefthand_kpts", "lefthand_valid", 21),
    ("righthand_kpts", "righthand_valid", 21),
)
NAMES = COCO_WHOLEBODY133.joint_names


def read_annotations(path, min_keypoints: int = 1, min_box: float = 32.0):
    """(people, skipped counts) of a COCO-WholeBody file.

    Each person: ``image``, ``image_id``, ``uv`` [133, 2], ``valid`` [133] bool, ``bbox`` [4].
    """
    try:
        data = json.loads(pathlib.Path(path).read_text())
        images = {int(im["id"]): im["file_name"] for im in data["images"]}
        annotations = data["annotations"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a COCO-WholeBody file ({e})") from e
    people, skipped = [], {"crowd": 0, "too few keypoints": 0, "box too small": 0}
    for k, a in enumerate(annotations):
        try:
            parts = []
            for field, flag, count in PARTS:
                kp = np.asarray(a[field], np.float64).reshape(count, 3)
                if flag is not None and not a.get(flag, False):
                    kp[:, 2] = 0  # the part is not annotated
                parts.append(kp)
            kp = np.concatenate(parts)
            bbox = np.asarray(a["bbox"], np.float64).reshape(4)
            image = images[int(a["image_id"])]
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path}: annotation {k}: missing or malformed field ({e})") from e
        reason = skip_reason(a, kp, bbox, min_keypoints, min_box)
        if reason:
            skipped[reason] += 1
        else:
            people.append({"image": image, "image_id": int(a["image_id"]), "uv": kp[:, :2],
                           "valid": kp[:, 2] > 0, "bbox": bbox})  # fmt: skip
    return people, skipped


def convert(people: list[dict], images, out, crop_res: int, args: dict) -> int:
    """Write the people into one dataset file of skeleton ``coco_wholebody133``."""
    rows = []
    for person in people:
        center, scale = person_box(person["bbox"])
        rows.append({"image": person["image"], "uv": person["uv"], "valid": person["valid"],
                     "center": center, "scale": scale, "frame": person["image_id"]})  # fmt: skip
    return write_people(out, rows, images, crop_res, source="coco_wholebody", args=args,
                        names=NAMES, joint_sources=same_names(NAMES, COCO_WHOLEBODY133),
                        skeleton=COCO_WHOLEBODY133)  # fmt: skip


def main(argv=None) -> int:
    return command(argv, __doc__, "coco_wholebody_*.json", read_annotations, convert)


if __name__ == "__main__":
    sys.exit(main())
