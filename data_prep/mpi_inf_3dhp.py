"""MPI-INF-3DHP into the c2f format: ``python -m data_prep.mpi_inf_3dhp``.

Two inputs:

* ``--test-set ROOT --cameras cameras_test.pkl``: the official test set,
  ``ROOT/TS{1..6}/annot_data.mat`` (MATLAB 7.3, read with h5py: ``annot2`` [N, 1, 17, 2] px,
  ``univ_annot3`` [N, 1, 17, 3] mm in the camera frame, ``valid_frame``,
  ``activity_annotation``) and the frames ``ROOT/TS{n}/imageSequence/img_{i:06d}.jpg``
  (1-based). Only valid frames are kept. The 3D ground truth is ``univ_annot3`` (the skeleton
  rescaled to a universal height), which the benchmark's PCK3D and AUC are computed on.
* ``--npz FILE --cameras cameras_*.pkl --images DIR``: the preprocessed form of mmpose and
  other PyTorch code bases (``imgname``, ``center``, ``scale``, ``part`` [N, 17, 3] px +
  visibility, ``S`` [N, 17, 4] camera-frame metres + visibility), with its camera file
  (``S{n}_Seq{m}_Cam{c}`` or ``TS{n}``: ``f``, ``c``, ``w``, ``h``).

The training sequences' own format (``annot.mat``, ``camera.calibration``, videos) is not read
yet. Joints: 3DHP's 17 in their order (head top, neck, shoulders, elbows, wrists, hips, knees,
ankles, root, spine, head) onto ours; every joint has 2D and 3D. The person box follows the
Human3.6M convention (the 2D joints' bounding box, side ``max(w, h) + 40`` px). ``subject`` is
n of ``S{n}`` or ``TS{n}`` (the file's ``args["sequences"]`` says which: a file holds training
or test sequences, not both), ``action`` the test set's activity ("Unknown" where the input
has none). The image size stored is the frame's own (the training camera file's ``h`` reads
204 where the frames are 2048 px high).
"""

import argparse
import pathlib
import pickle
import re
import sys

import numpy as np
from PIL import Image
from tqdm import tqdm

from c2f.data.schema import DatasetWriter
from c2f.geometry import Camera, box_from_joints
from data_prep.sample import make_sample

NAMES = ("head_top", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
         "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
         "left_knee", "left_ankle", "root", "spine", "head")  # fmt: skip
# Ours (c2f.skeleton order) from theirs: Pelvis, RHip, RKnee, RAnkle, LHip, LKnee, LAnkle,
# Spine, Thorax, Neck/Nose, Head, LShoulder, LElbow, LWrist, RShoulder, RElbow, RWrist.
TO_OURS = (14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4)
JOINT_SOURCES = [NAMES[k] for k in TO_OURS]
ACTIVITIES = ("Standing/Walking", "Exercising", "Sitting", "Reaching/Crouching", "On the floor",
              "Sports", "Miscellaneous", "Unknown")  # fmt: skip
TEST_SEQUENCES = tuple(range(1, 7))
SCENES = {"GS": (1, 2), "noGS": (3, 4), "Outdoor": (5, 6)}  # the test set's backgrounds
_NAME = re.compile(r"^(?:S(\d+)_Seq(\d+)_Cam(\d+)|TS(\d+))_(\d+)\.\w+$")


def load_cameras(path) -> dict:
    """``{key: Camera}`` from a camera pickle (``f``, ``c`` px, ``w``, ``h``)."""
    try:
        with open(path, "rb") as f:
            raw = pickle.load(f)
        cams = {}
        for key, c in raw.items():
            fx, fy = np.asarray(c["f"], np.float64).reshape(2)
            cx, cy = np.asarray(c["c"], np.float64).reshape(2)
            cams[key] = Camera(R=np.eye(3), t=np.zeros(3), f=np.array([fx, fy]),
                               c=np.array([cx, cy]), k=np.zeros(3), p=np.zeros(2),
                               res_w=int(c["w"]), res_h=int(c["h"]))  # fmt: skip
    except (OSError, pickle.UnpicklingError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: not a 3DHP camera file ({e})") from e
    return cams


def _ours(joints):
    return np.asarray(joints, np.float64)[..., TO_OURS, :]


def read_npz(path, cameras: dict) -> list[dict]:
    """Samples of the preprocessed form (module docstring)."""
    try:
        z = np.load(path)
        names, part, S = z["imgname"], z["part"], z["S"]
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(f"{path}: not a preprocessed 3DHP file ({e})") from e
    out = []
    for k, name in enumerate(names):
        m = _NAME.match(str(name))
        if m is None:
            raise ValueError(f"{path}: image {name!r} is not like S4_Seq2_Cam0_001033.jpg or "
                             "TS1_002001.jpg")  # fmt: skip
        train = m.group(1) is not None
        key = f"S{m.group(1)}_Seq{m.group(2)}_Cam{m.group(3)}" if train else f"TS{m.group(4)}"
        if key not in cameras:
            raise ValueError(f"{path}: image {name!r}: no camera {key!r} in the camera file")
        out.append({"image": str(name), "camera": cameras[key], "frame": int(m.group(5)),
                    "subject": int(m.group(1) or m.group(4)),
                    "camera_index": int(m.group(3)) if train else 0,
                    "uv": _ours(part[k][:, :2]), "joints_cam": 1000.0 * _ours(S[k][:, :3]),
                    "activity": len(ACTIVITIES) - 1,
                    "split": "train" if train else "test"})  # fmt: skip
    return out


def read_test_set(root, cameras: dict, sequences=TEST_SEQUENCES) -> list[dict]:
    """Valid frames of the official test set's sequences (module docstring)."""
    import h5py

    out = []
    for n in sequences:
        path = pathlib.Path(root) / f"TS{n}" / "annot_data.mat"
        try:
            with h5py.File(path, "r") as f:
                uv = np.asarray(f["annot2"], np.float64)[:, 0]
                xyz = np.asarray(f["univ_annot3"], np.float64)[:, 0]
                valid = np.asarray(f["valid_frame"]).reshape(-1) > 0
                activity = np.asarray(f["activity_annotation"]).reshape(-1).astype(int)
        except (OSError, KeyError) as e:
            raise ValueError(f"{path}: not a 3DHP test annotation ({e})") from e
        if f"TS{n}" not in cameras:
            raise ValueError(f"TS{n}: no camera 'TS{n}' in the camera file")
        for i in np.flatnonzero(valid):
            out.append({"image": f"TS{n}/imageSequence/img_{i + 1:06d}.jpg",
                        "camera": cameras[f"TS{n}"], "frame": int(i), "subject": n,
                        "camera_index": 0, "uv": _ours(uv[i]), "joints_cam": _ours(xyz[i]),
                        "activity": int(np.clip(activity[i] - 1, 0, len(ACTIVITIES) - 1)),
                        "split": "test"})  # fmt: skip
    return out


def convert(samples: list[dict], images, out, crop_res: int, args: dict) -> int:
    """Write the samples into one dataset file; returns the sample count."""
    images = pathlib.Path(images)
    kinds = {s["split"] for s in samples}
    if len(kinds) > 1:
        raise ValueError("training (S*) and test (TS*) samples: convert them into separate files")
    args = {**args, "sequences": "TS" if kinds == {"test"} else "S"}
    with DatasetWriter(out, source="mpi_inf_3dhp", args=args, crop_res=crop_res,
                       action_names=ACTIVITIES, camera_names=[str(c) for c in range(14)],
                       source_joint_names=NAMES, joint_sources=JOINT_SOURCES) as w:  # fmt: skip
        for s in tqdm(samples, desc="mpi_inf_3dhp", unit="img"):
            path = images / s["image"]
            try:
                frame = np.asarray(Image.open(path).convert("RGB"))
            except (OSError, ValueError) as e:
                raise ValueError(f"{path}: image named in the annotations unreadable ({e})") from e
            center, scale = box_from_joints(s["uv"])
            sample = make_sample(frame, s["joints_cam"], s["uv"], center, scale, s["camera"],
                                 crop_res, 90)  # fmt: skip
            sample.update(subject=s["subject"], action=s["activity"], subaction=0,
                          camera=s["camera_index"], frame=s["frame"])  # fmt: skip
            w.append({k: [v] for k, v in sample.items()})
        return w.count


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--test-set", type=pathlib.Path, help="folder with TS1..TS6")
    src.add_argument("--npz", type=pathlib.Path, help="a preprocessed .npz")
    p.add_argument("--cameras", required=True, type=pathlib.Path, help="camera .pkl")
    p.add_argument("--images", type=pathlib.Path, help="image folder (default: --test-set)")
    p.add_argument("--out", required=True, type=pathlib.Path, help="output .h5 file")
    p.add_argument("--crop-res", type=int, default=256)
    args = p.parse_args(argv)
    try:
        cameras = load_cameras(args.cameras)
        if args.test_set:
            samples = read_test_set(args.test_set, cameras)
        else:
            samples = read_npz(args.npz, cameras)
        if not samples:
            raise ValueError("no valid frame to convert")
        images = args.images or args.test_set
        if images is None:
            raise ValueError("--images: needed with --npz")
        n = convert(samples, images, args.out, args.crop_res,
                    {k: str(v) for k, v in vars(args).items()})  # fmt: skip
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {n} samples to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
