"""H3WB (Human3.6M 3D WholeBody) into the c2f format: ``c2f data h3wb --npz F --images DIR``.

H3WB (Zhu et al. 2023) annotates 133 whole-body keypoints in COCO-WholeBody's order in 3D on
Human3.6M frames. Its ``.npz`` (object arrays, read without running code:
:mod:`data_prep.safe_pickle`) holds ``train_data[subject][action]`` with ``global_3d``
[N, 133, 3], ``frame_id`` [N] and, per camera id, ``camera_3d`` [N, 133, 3] (metres, camera
frame) and ``pose_2d`` [N, 133, 2] (px); ``metadata[subject][camera]`` with ``K`` (normalised
by the image width), ``R``, ``T`` (metres: ``X_cam = R X_world + T``) and ``Distortion``
(OpenCV's order k1, k2, p1, p2, k3); and
``bbox[(subject, action, camera, frame)]`` with ``x_min``, ``y_min``, ``x_max``, ``y_max``.

The frames are the user's own Human3.6M frames (H3WB's data preparation extracts them), found
under ``--images`` by ``--pattern`` (default ``{subject}/{action}.{camera}/{frame:06d}.jpg``).
Stored in the ``coco_wholebody133`` skeleton, naming the ``h3wb`` benchmark: ``joints_cam`` =
``camera_3d`` in mm, ``joints_2d`` = ``pose_2d`` through the crop, the camera's intrinsics
(``K`` x the image width) and Human3.6M's distortion; the person box about ``bbox``, side
``max(w, h) + 40`` px (the Human3.6M convention).
"""

import argparse
import pathlib
import sys

import numpy as np
from PIL import Image
from tqdm import tqdm

from c2f.data.schema import DatasetWriter
from c2f.geometry import Camera
from c2f.h36m import CAMERAS, canonical_action
from c2f.skeleton import COCO_WHOLEBODY133
from data_prep import safe_pickle
from data_prep.cli import run
from data_prep.sample import make_sample

BOX_MARGIN_PX = 40.0
PATTERN = "{subject}/{action}.{camera}/{frame:06d}.jpg"


def read_npz(path) -> dict:
    """``train_data``, ``metadata`` and ``bbox`` of an H3WB ``.npz``, checked."""
    data = safe_pickle.load_npz(path)
    for key in ("train_data", "metadata"):
        if not isinstance(data.get(key), dict):
            raise ValueError(f"{path}: no {key!r} dictionary (H3WB's layout)")
    data.setdefault("bbox", {})
    return data


def camera(metadata: dict, subject: str, cam: str, width: int, height: int, path) -> Camera:
    """The c2f camera of H3WB's ``metadata[subject][cam]`` (mm; ``t`` the camera centre)."""
    try:
        m = {k: np.asarray(v, np.float64) for k, v in metadata[subject][cam].items()}
        K, R, T = m["K"].reshape(3, 3), m["R"].reshape(3, 3), m["T"].reshape(3) * 1000.0
        # H3WB's Distortion is OpenCV's order (k1, k2, p1, p2, k3); its p1, p2 are Human3.6M's
        d = m.get("Distortion", np.zeros(5)).reshape(5)
    except (KeyError, ValueError) as e:
        raise ValueError(f"{path}: metadata of {subject} camera {cam}: {e}") from e
    return Camera(R=R, t=-R.T @ T, f=K[[0, 1], [0, 1]] * width, c=K[:2, 2] * width,
                  k=d[[0, 1, 4]], p=d[[2, 3]], res_w=width, res_h=height)  # fmt: skip


def samples(data: dict, path):
    """(subject, action, camera, frame, camera_3d mm [133, 3], pose_2d px [133, 2]) per frame."""
    for subject, actions in data["train_data"].items():
        for action, entry in actions.items():
            frames = np.asarray(entry.get("frame_id", []), np.int64).reshape(-1)
            for cam, views in entry.items():
                if cam in ("global_3d", "frame_id"):
                    continue
                try:
                    joints = np.asarray(views["camera_3d"], np.float64) * 1000.0
                    uv = np.asarray(views["pose_2d"], np.float64)
                except (KeyError, TypeError) as e:
                    raise ValueError(f"{path}: {subject} {action} camera {cam}: {e}") from e
                n = len(frames)
                if joints.shape != (n, 133, 3) or uv.shape != (n, 133, 2):
                    raise ValueError(f"{path}: {subject} {action} camera {cam}: expected "
                                     f"[{n}, 133, 3] and [{n}, 133, 2], got {joints.shape} "
                                     f"and {uv.shape}")  # fmt: skip
                for k in range(n):
                    yield subject, action, str(cam), int(frames[k]), joints[k], uv[k]


def person_box(data: dict, key, uv) -> tuple:
    """(centre, scale) of H3WB's box of a frame (else the keypoints' box), +40 px."""
    box = data["bbox"].get(key)
    if box is not None:
        x0, y0, x1, y1 = (float(box[k]) for k in ("x_min", "y_min", "x_max", "y_max"))
    else:
        (x0, y0), (x1, y1) = uv.min(0), uv.max(0)
    side = max(x1 - x0, y1 - y0) + BOX_MARGIN_PX
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2]), side / 200.0


def convert(data: dict, npz, images, out, crop_res: int, args: dict, pattern: str = PATTERN,
            limit: int | None = None) -> int:  # fmt: skip
    """Write H3WB's frames into ``out`` (skeleton ``coco_wholebody133``); returns the count."""
    images = pathlib.Path(images)
    frames = list(samples(data, npz))[:limit]
    if not frames:
        raise ValueError(f"{npz}: no frame")
    actions = sorted({canonical_action(a) for _, a, *_ in frames})
    args = {**args, "frame_step": 0}
    with DatasetWriter(out, source="h3wb", args=args, crop_res=crop_res, action_names=actions,
                       camera_names=CAMERAS, skeleton=COCO_WHOLEBODY133,
                       benchmark="h3wb") as w:  # fmt: skip
        for subject, action, cam, frame, joints, uv in tqdm(frames, desc="h3wb", unit="frame"):
            path = images / pattern.format(subject=subject, action=action, camera=cam,
                                           frame=frame)  # fmt: skip
            try:
                image = np.asarray(Image.open(path).convert("RGB"))
            except (OSError, ValueError) as e:
                raise ValueError(f"{path}: the frame of {subject} {action} camera {cam} #{frame} "
                                 f"is unreadable ({e})") from e  # fmt: skip
            cam_model = camera(data["metadata"], subject, cam, image.shape[1], image.shape[0], npz)
            center, scale = person_box(data, (subject, action, cam, frame), uv)
            s = make_sample(image, joints, uv, center, scale, cam_model, crop_res, 90)
            if cam not in CAMERAS:
                raise ValueError(f"{npz}: camera {cam} is not one of Human3.6M's {CAMERAS}")
            last = action.split()[-1]
            s.update(subject=int(subject.lstrip("S")),
                     action=actions.index(canonical_action(action)),
                     subaction=int(last) if last.isdigit() else 1,
                     camera=CAMERAS.index(cam), frame=frame)  # fmt: skip
            w.append({k: [v] for k, v in s.items()})
        return w.count


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--npz", required=True, type=pathlib.Path, help="H3WB's .npz")
    p.add_argument("--images", required=True, type=pathlib.Path, help="your Human3.6M frames")
    p.add_argument("--pattern", default=PATTERN, help="a frame's path under --images")
    p.add_argument("--out", required=True, type=pathlib.Path, help="output .h5 file")
    p.add_argument("--crop-res", type=int, default=256, help="stored crop side, px")
    p.add_argument("--limit", type=int, help="convert only the first N frames")

    def work(args):
        data = read_npz(args.npz)
        given = {k: str(v) for k, v in vars(args).items()}
        n = convert(data, args.npz, args.images, args.out, args.crop_res, given, args.pattern,
                    args.limit)  # fmt: skip
        return f"wrote {n} frames to {args.out}"

    return run(p, argv, work)


if __name__ == "__main__":
    sys.exit(main())
