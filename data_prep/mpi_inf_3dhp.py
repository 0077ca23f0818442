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

* ``--train ROOT [--subjects 1 2 ...] [--cameras-used 0 1 2 ...] [--step 10]``: the training
  sequences, ``ROOT/S{n}/Seq{m}/annot.mat`` (MATLAB 5, read with scipy: cell arrays
  ``annot2`` [frames, 28 x 2] px and ``annot3`` [frames, 28 x 3] camera-frame mm, one cell
  per camera), ``camera.calibration`` (the text file: per camera ``intrinsic`` and
  ``extrinsic`` 4 x 4, row-major) and the videos ``imageSequence/video_{c}.avi``, every
  ``--step``-th frame decoded with PyAV. The 28 joints go to 3DHP's 17 as in the benchmark's
  own code (``TRAIN_TO_17``).

Joints: 3DHP's 17 in their order (head top, neck, shoulders, elbows, wrists, hips, knees,
ankles, root, spine, head) onto ours; every joint has 2D and 3D. The person box follows the
Human3.6M convention (the 2D joints' bounding box, side ``max(w, h) + 40`` px). ``subject`` is
n of ``S{n}`` or ``TS{n}`` (the file's ``args["sequences"]`` says which: a file holds training
or test sequences, not both), ``action`` the test set's activity ("Unknown" where the input
has none). The image size stored is the frame's own (the training camera file's ``h`` reads
204 where the frames are 2048 px high).
"""

import argparse
import itertools
import pathlib
import re
import sys

import h5py
import numpy as np
from PIL import Image
from scipy.io import loadmat
from tqdm import tqdm

from c2f.archives import check_members
from c2f.data.schema import DatasetWriter
from c2f.geometry import Camera, box_from_joints
from c2f.serving.mp4 import read_frames
from data_prep import safe_pickle
from data_prep.cli import run
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
# 3DHP's 17 from the training annotations' 28 joints (spine3, spine4, spine2, spine, pelvis,
# neck, head, head_top, left clavicle, shoulder, elbow, wrist, hand, right clavicle, ..., left
# hip, knee, ankle, foot, toe, right hip, ...).
TRAIN_TO_17 = (7, 5, 14, 15, 16, 9, 10, 11, 23, 24, 25, 18, 19, 20, 4, 3, 6)
_NAME = re.compile(r"^(?:S(\d+)_Seq(\d+)_Cam(\d+)|TS(\d+))_(\d+)\.\w+$")


def load_cameras(path) -> dict:
    """``{key: Camera}`` from a camera pickle (``f``, ``c`` px, ``w``, ``h``).

    The pickle is read by :mod:`data_prep.safe_pickle`: plain data and numpy arrays only, so a
    hostile file is refused (:class:`~data_prep.safe_pickle.UnsafePickle`), never run.
    """
    try:
        raw = safe_pickle.load(path)
    except safe_pickle.UnsafePickle:
        raise
    except ValueError as e:
        raise ValueError(f"{path}: not a 3DHP camera file ({e})") from e
    try:
        cams = {}
        for key, c in raw.items():
            (fx, fy), (cx, cy) = (np.asarray(c[k], np.float64).reshape(2) for k in "fc")
            K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])
            cams[key] = Camera.from_intrinsics(K, int(c["w"]), int(c["h"]))
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: not a 3DHP camera file ({e})") from e
    return cams


def _ours(joints):
    return np.asarray(joints, np.float64)[..., TO_OURS, :]


def read_npz(path, cameras: dict) -> list[dict]:
    """Samples of the preprocessed form (module docstring)."""
    try:
        check_members(path)
        z = np.load(path, allow_pickle=False)
        names, part, S = z["imgname"], z["part"], z["S"]
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(f"{path}: not a preprocessed 3DHP file ({e})") from e
    out = []
    for k, name in enumerate(str(n) for n in names):
        m = _NAME.match(name)
        if m is None:
            raise ValueError(f"{path}: image {name!r} is not like S4_Seq2_Cam0_001033.jpg or "
                             "TS1_002001.jpg")  # fmt: skip
        train = m.group(1) is not None
        key = f"S{m.group(1)}_Seq{m.group(2)}_Cam{m.group(3)}" if train else f"TS{m.group(4)}"
        if key not in cameras:
            raise ValueError(f"{path}: image {name!r}: no camera {key!r} in the camera file")
        out.append({"image": name, "camera": cameras[key], "frame": int(m.group(5)),
                    "subject": int(m.group(1) or m.group(4)),
                    "camera_index": int(m.group(3)) if train else 0,
                    "uv": _ours(part[k][:, :2]), "joints_cam": 1000.0 * _ours(S[k][:, :3]),
                    "activity": len(ACTIVITIES) - 1,
                    "split": "train" if train else "test"})  # fmt: skip
    return out


def read_test_set(root, cameras: dict, sequences=TEST_SEQUENCES) -> list[dict]:
    """Valid frames of the official test set's sequences (module docstring)."""
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


def read_calibration(path) -> dict:
    """``{camera number: Camera}`` from a sequence's ``camera.calibration`` (mm, px)."""
    cams, current, size = {}, None, (2048, 2048)
    try:
        for line in pathlib.Path(path).read_text().splitlines():
            key, _, rest = line.strip().partition(" ")
            values = rest.split()
            if key in ("name", "camera"):
                current = int(values[0])
            elif key == "size":
                size = (int(values[0]), int(values[1]))
            elif key == "intrinsic":
                K = np.asarray(values, np.float64).reshape(4, 4)
            elif key == "extrinsic":
                E = np.asarray(values, np.float64).reshape(4, 4)
                R, t = E[:3, :3], E[:3, 3]
                cams[current] = Camera(R=R, t=-R.T @ t, f=K[[0, 1], [0, 1]], c=K[:2, 2],
                                       k=np.zeros(3), p=np.zeros(2), res_w=size[0],
                                       res_h=size[1])  # fmt: skip
    except (OSError, ValueError, TypeError, NameError, IndexError) as e:
        raise ValueError(f"{path}: not a 3DHP camera.calibration ({e})") from e
    if not cams:
        raise ValueError(f"{path}: no camera found")
    return cams


def read_sequence(seq_dir, subject: int, cameras_used, step: int):
    """Yield every ``step``-th frame of the listed cameras of one training sequence.

    The frames are decoded as they are asked for (``image`` holds the array, not a file
    name), so a whole sequence never sits in memory.
    """
    seq_dir = pathlib.Path(seq_dir)
    try:
        annot = loadmat(str(seq_dir / "annot.mat"))
        annot2, annot3 = annot["annot2"].reshape(-1), annot["annot3"].reshape(-1)
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(f"{seq_dir / 'annot.mat'}: not a 3DHP annotation ({e})") from e
    cams = read_calibration(seq_dir / "camera.calibration")
    for c in cameras_used:
        if c >= len(annot3) or c not in cams:
            raise ValueError(f"{seq_dir}: no camera {c} (annot.mat has {len(annot3)})")
        uv = np.asarray(annot2[c], np.float64).reshape(-1, 28, 2)[:, TRAIN_TO_17]
        xyz = np.asarray(annot3[c], np.float64).reshape(-1, 28, 3)[:, TRAIN_TO_17]
        video = seq_dir / "imageSequence" / f"video_{c}.avi"
        for i, frame in read_frames(video, step):
            if i >= len(xyz):
                break
            yield {"image": frame, "camera": cams[c], "frame": i, "subject": subject,
                   "camera_index": c, "uv": _ours(uv[i]), "joints_cam": _ours(xyz[i]),
                   "activity": len(ACTIVITIES) - 1, "split": "train"}  # fmt: skip


def convert(samples, images, out, crop_res: int, args: dict, sequences: str = "TS") -> int:
    """Write the samples (any iterable) into one dataset file; returns the sample count.

    ``sequences``: "TS" (test sequences) or "S" (training); every sample must be of that kind.
    """
    images = pathlib.Path(images)
    kind = "test" if sequences == "TS" else "train"
    args = {**args, "sequences": sequences}
    with DatasetWriter(out, source="mpi_inf_3dhp", args=args, crop_res=crop_res,
                       action_names=ACTIVITIES, camera_names=[str(c) for c in range(14)],
                       source_joint_names=NAMES, joint_sources=JOINT_SOURCES) as w:  # fmt: skip
        for s in tqdm(samples, desc="mpi_inf_3dhp", unit="img"):
            if s["split"] != kind:
                raise ValueError("training (S*) and test (TS*) samples: convert them apart")
            if isinstance(s["image"], np.ndarray):  # a decoded video frame
                frame = s["image"]
            else:
                path = images / s["image"]
                try:
                    frame = np.asarray(Image.open(path).convert("RGB"))
                except (OSError, ValueError) as e:
                    raise ValueError(f"{path}: image in the annotations unreadable ({e})") from e
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
    src.add_argument("--train", type=pathlib.Path, help="folder with S1..S8/Seq1..2")
    p.add_argument("--cameras", type=pathlib.Path, help="camera .pkl (--test-set, --npz)")
    p.add_argument("--subjects", type=int, nargs="+", default=list(range(1, 9)))
    p.add_argument("--cameras-used", type=int, nargs="+", default=[0, 1, 2, 4, 5, 6, 7, 8],
                   help="--train: cameras (default: the 8 at chest height)")  # fmt: skip
    p.add_argument("--step", type=int, default=10, help="--train: every N-th video frame")
    p.add_argument("--images", type=pathlib.Path, help="image folder (default: --test-set)")
    p.add_argument("--out", required=True, type=pathlib.Path, help="output .h5 file")
    p.add_argument("--crop-res", type=int, default=256)

    def work(args):
        sequences = "TS"
        if args.train:
            if args.step < 1:
                raise ValueError("--step: must be >= 1")
            sequences = "S"
            samples = itertools.chain.from_iterable(
                read_sequence(args.train / f"S{n}" / f"Seq{seq}", n, args.cameras_used, args.step)
                for n in args.subjects for seq in (1, 2)
            )  # fmt: skip
        elif args.cameras is None:
            raise ValueError("--cameras: needed with --test-set and --npz")
        elif args.test_set:
            samples = read_test_set(args.test_set, load_cameras(args.cameras))
        else:
            samples = read_npz(args.npz, load_cameras(args.cameras))
            if samples and samples[0]["split"] == "train":
                sequences = "S"
        if isinstance(samples, list) and not samples:
            raise ValueError("no valid frame to convert")
        images = args.images or args.test_set or args.train
        if images is None:
            raise ValueError("--images: needed with --npz")
        n = convert(samples, images, args.out, args.crop_res,
                    {k: str(v) for k, v in vars(args).items()}, sequences)  # fmt: skip
        return f"wrote {n} samples to {args.out}"

    return run(p, argv, work)


if __name__ == "__main__":
    sys.exit(main())
