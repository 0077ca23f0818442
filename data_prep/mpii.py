"""MPII Human Pose into the c2f format (2D only): ``python -m data_prep.mpii``.

Reads either the official release, ``mpii_human_pose_v1_u12_1.mat`` (MATLAB struct ``RELEASE``:
``annolist(i).image.name``, ``annolist(i).annorect(j)`` with ``objpos``, ``scale`` and
``annopoints.point`` (``id`` 0-15, ``x``, ``y``); ``img_train``), through scipy's loadmat, or the
JSON form most PyTorch code bases use (a list of ``image``, ``center``, ``scale``, ``joints``
[16, 2], ``joints_vis`` [16]). Only people with annotated joints are kept (the release's test
images have none); ``--split train`` keeps the ``img_train`` images of the .mat, ``test`` the
others.

Both forms hold MATLAB's 1-based pixels: 1 is subtracted from joints and centres (as HRNet's
MPII loader does). The person box follows Newell et al.'s hourglass code, which the paper's
code builds on: the centre moves down by 15 x scale px and the box is 1.25 x 200 x scale px.

Joints: MPII's 16 onto our 17. Pelvis, hips, knees, ankles, thorax, head top, shoulders,
elbows and wrists are the same points; our spine and neck/nose have no MPII counterpart
(MPII's upper neck is not Human3.6M's neck/nose joint) and are left unannotated.
"""

import argparse
import json
import pathlib
import sys

import numpy as np
from scipy.io import loadmat

from data_prep.cli import run
from data_prep.two_d import add_arguments, joint_map, write_people

NAMES = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
         "pelvis", "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow",
         "right_shoulder", "left_shoulder", "left_elbow", "left_wrist")  # fmt: skip
JOINT_SOURCES = joint_map({
    "Pelvis": "pelvis", "RHip": "right_hip", "RKnee": "right_knee", "RAnkle": "right_ankle",
    "LHip": "left_hip", "LKnee": "left_knee", "LAnkle": "left_ankle", "Thorax": "thorax",
    "Head": "head_top", "LShoulder": "left_shoulder", "LElbow": "left_elbow",
    "LWrist": "left_wrist", "RShoulder": "right_shoulder", "RElbow": "right_elbow",
    "RWrist": "right_wrist",
})  # fmt: skip


def _list(x):
    """A MATLAB struct array loaded with squeeze_me: one element comes back unwrapped."""
    if x is None:
        return []
    if isinstance(x, np.ndarray):
        return list(x.ravel())
    return [x]


def read_json(path) -> list[dict]:
    """People of the JSON form: ``image``, ``center``, ``scale``, ``joints`` [16, 2], ``vis``."""
    try:
        items = json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a readable JSON file ({e})") from e
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected a JSON list of people, got {type(items).__name__}")
    people = []
    for k, a in enumerate(items):
        try:
            joints = np.asarray(a["joints"], np.float64)
            vis = np.asarray(a["joints_vis"], np.float64)
            person = {"image": str(a["image"]), "center": np.asarray(a["center"], np.float64),
                      "scale": float(a["scale"]), "joints": joints, "vis": vis > 0}  # fmt: skip
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path}: person {k}: missing or malformed field ({e})") from e
        if joints.shape != (16, 2) or vis.shape != (16,) or person["center"].shape != (2,):
            raise ValueError(f"{path}: person {k}: joints must be [16, 2], joints_vis [16]")
        people.append(person)
    return people


def read_mat(path, split: str = "train") -> list[dict]:
    """People of the official release's .mat (``split``: the ``img_train`` images or the rest)."""
    try:
        release = loadmat(str(path), struct_as_record=False, squeeze_me=True)["RELEASE"]
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(f"{path}: not the MPII release's .mat with a RELEASE struct ({e})") from e
    train = np.atleast_1d(release.img_train).astype(bool)
    people = []
    for i, entry in enumerate(_list(release.annolist)):
        if train[i] != (split == "train"):
            continue
        for rect in _list(getattr(entry, "annorect", None)):
            points = getattr(getattr(rect, "annopoints", None), "point", None)
            if points is None or not hasattr(rect, "objpos") or not hasattr(rect, "scale"):
                continue  # a person without joints (test images, or unannotated)
            joints, vis = np.zeros((16, 2)), np.zeros(16, bool)
            for p in _list(points):
                joints[int(p.id)] = float(p.x), float(p.y)
                vis[int(p.id)] = True
            people.append({"image": str(entry.image.name), "scale": float(rect.scale),
                           "center": np.array([float(rect.objpos.x), float(rect.objpos.y)]),
                           "joints": joints, "vis": vis, "index": i})  # fmt: skip
    return people


def person_box(center, scale: float):
    """(centre px 0-based, box side / 200) of an MPII person (Newell et al.'s adjustment)."""
    c = np.asarray(center, np.float64) - 1.0
    c[1] += 15.0 * scale
    return c, 1.25 * scale


def convert(people: list[dict], images, out, crop_res: int, args: dict) -> int:
    """Write the people into one dataset file; returns the sample count."""
    frames: dict = {}  # an image's number in the annotations
    rows = []
    for person in people:
        center, scale = person_box(person["center"], person["scale"])
        rows.append({"image": person["image"], "uv": person["joints"] - 1.0,
                     "valid": person["vis"], "center": center, "scale": scale,
                     "frame": frames.setdefault(person["image"], len(frames))})  # fmt: skip
    return write_people(out, rows, images, crop_res, source="mpii", args=args, names=NAMES,
                        joint_sources=JOINT_SOURCES)  # fmt: skip


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(p, "the release's .mat or the JSON form")
    p.add_argument("--split", choices=("train", "test"), default="train",
                   help="the .mat's img_train images, or the others")  # fmt: skip

    def work(args):
        if args.annot.suffix == ".mat":
            people = read_mat(args.annot, args.split)
        else:
            people = read_json(args.annot)
        if not people:
            raise ValueError(f"{args.annot}: no annotated person (split {args.split!r})")
        people = people[: args.limit]
        n = convert(people, args.images, args.out, args.crop_res,
                    {k: str(v) for k, v in vars(args).items()})  # fmt: skip
        return f"wrote {n} people to {args.out}"

    return run(p, argv, work)


if __name__ == "__main__":
    sys.exit(main())
