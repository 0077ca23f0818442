"""COCO person keypoints into the c2f format (2D only): ``python -m data_prep.coco``.

Reads a ``person_keypoints_*.json`` (``images``, ``annotations`` with ``keypoints`` as 17
(x, y, v) triples, ``bbox`` x, y, w, h, ``iscrowd``, ``num_keypoints``) and the images. Skipped,
and counted in the summary: crowd annotations, people with fewer than ``--min-keypoints``
labelled joints, and boxes whose longer side is under ``--min-box`` px.

The person box: centred on the annotated ``bbox``, side ``max(w, h) + 40`` px (the margin of
the Human3.6M box convention, docs/data.md); the stored crop is 1.5 x that, as for every source.

Joints: COCO's 17 onto ours. Hips, knees, ankles, shoulders, elbows and wrists are the same
points; the pelvis is derived as the middle of the hips (labelled when both are); COCO has no
spine, thorax or head top, and its nose is not Human3.6M's neck/nose joint: those stay
unlabelled. A joint is labelled where ``v > 0`` (COCO's v = 1 is labelled but occluded).
"""

import argparse
import json
import pathlib
import sys

import numpy as np

from data_prep.cli import run
from data_prep.two_d import add_arguments, joint_map, write_people

NAMES = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
         "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
         "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")  # fmt: skip
JOINT_SOURCES = joint_map({
    "Pelvis": "mid(left_hip, right_hip)", "RHip": "right_hip", "RKnee": "right_knee",
    "RAnkle": "right_ankle", "LHip": "left_hip", "LKnee": "left_knee", "LAnkle": "left_ankle",
    "LShoulder": "left_shoulder", "LElbow": "left_elbow", "LWrist": "left_wrist",
    "RShoulder": "right_shoulder", "RElbow": "right_elbow", "RWrist": "right_wrist",
})  # fmt: skip
BOX_MARGIN_PX = 40.0


def read_annotations(path, min_keypoints: int = 1, min_box: float = 32.0):
    """(people, skipped counts) of a COCO keypoints file.

    Each person: ``image`` (file name), ``image_id``, ``keypoints`` [17, 3], ``bbox`` [4].
    """
    try:
        data = json.loads(pathlib.Path(path).read_text())
        images = {int(im["id"]): im["file_name"] for im in data["images"]}
        annotations = data["annotations"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a COCO keypoints file ({e})") from e
    for cat in data.get("categories", []):
        if cat.get("name") == "person" and tuple(cat.get("keypoints", NAMES)) != NAMES:
            raise ValueError(f"{path}: the person category's keypoints are not COCO's 17")
    people, skipped = [], {"crowd": 0, "too few keypoints": 0, "box too small": 0}
    for k, a in enumerate(annotations):
        try:
            kp = np.asarray(a["keypoints"], np.float64).reshape(17, 3)
            bbox = np.asarray(a["bbox"], np.float64).reshape(4)
            image = images[int(a["image_id"])]
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path}: annotation {k}: missing or malformed field ({e})") from e
        reason = skip_reason(a, kp, bbox, min_keypoints, min_box)
        if reason:
            skipped[reason] += 1
        else:
            people.append({"image": image, "image_id": int(a["image_id"]), "keypoints": kp,
                           "bbox": bbox})  # fmt: skip
    return people, skipped


def skip_reason(annotation: dict, kp, bbox, min_keypoints: int, min_box: float) -> str | None:
    """Why a COCO-style person is skipped ("crowd", "too few keypoints", "box too small")."""
    if annotation.get("iscrowd", 0):
        return "crowd"
    if int((kp[:, 2] > 0).sum()) < min_keypoints:
        return "too few keypoints"
    if max(bbox[2], bbox[3]) < min_box:
        return "box too small"
    return None


def person_box(bbox):
    """(centre px, side / 200) of a COCO ``bbox`` (x, y, w, h)."""
    x, y, w, h = bbox
    return np.array([x + w / 2, y + h / 2]), (max(w, h) + BOX_MARGIN_PX) / 200.0


def convert(people: list[dict], images, out, crop_res: int, args: dict) -> int:
    """Write the people into one dataset file; returns the sample count."""
    rows = []
    for person in people:
        kp = person["keypoints"]
        center, scale = person_box(person["bbox"])
        rows.append({"image": person["image"], "uv": kp[:, :2], "valid": kp[:, 2] > 0,
                     "center": center, "scale": scale, "frame": person["image_id"]})  # fmt: skip
    return write_people(out, rows, images, crop_res, source="coco", args=args, names=NAMES,
                        joint_sources=JOINT_SOURCES)  # fmt: skip


def command(argv, doc: str, annot_help: str, read, convert) -> int:
    """The command of a COCO-style converter (COCO, COCO-WholeBody): its options, the counts.

    ``read(path, min_keypoints, min_box) -> (people, skipped)`` and ``convert(people, images,
    out, crop_res, args) -> count`` are the converter's own.
    """
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    add_arguments(p, annot_help)
    p.add_argument("--min-keypoints", type=int, default=1, help="labelled joints to keep one")
    p.add_argument("--min-box", type=float, default=32.0, help="px, the box's longer side")

    def work(args):
        people, skipped = read(args.annot, args.min_keypoints, args.min_box)
        print(f"{args.annot}: {len(people)} people kept; skipped: "
              + ", ".join(f"{v} {k}" for k, v in skipped.items()))  # fmt: skip
        if not people:
            raise ValueError(f"{args.annot}: no person left to convert")
        n = convert(people[: args.limit], args.images, args.out, args.crop_res,
                    {**{k: str(v) for k, v in vars(args).items()}, "skipped": skipped})  # fmt: skip
        return f"wrote {n} people to {args.out}"

    return run(p, argv, work)


def main(argv=None) -> int:
    return command(argv, __doc__, "person_keypoints_*.json", read_annotations, convert)


if __name__ == "__main__":
    sys.exit(main())
