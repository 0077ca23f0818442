"""InterHand2.6M into the c2f format: ``c2f data interhand --data D.json --joints J.json ...``.

Reads the release's three annotation files of a split: ``InterHand2.6M_{split}_data.json``
(COCO-style ``images``: ``capture``, ``camera`` id, ``frame_idx``, ``file_name``; and
``annotations``: ``bbox`` x, y, w, h px, ``joint_valid`` [42, 1], ``hand_type``),
``..._joint_3d.json`` (``[capture][frame_idx]`` -> ``world_coord`` [42, 3] mm) and
``..._camera.json`` (``[capture]`` -> ``campos`` mm, ``camrot``, ``focal``, ``princpt``, each
keyed by camera id), and the images under ``--images``.

Stored, in the ``interhand42`` skeleton (right hand 0-20, left 21-41, wrists last):

* ``joints_cam`` = ``camrot @ (world_coord - campos)`` (camera frame, mm);
* ``joints_2d``: their pinhole projections ``focal * (X, Y) / Z + princpt`` through the crop;
* ``valid_2d`` = ``valid_3d`` = ``joint_valid`` (an absent hand's joints are 0);
* the crop: a square box about the annotation's ``bbox`` centre, side 1.25 x its longer side
  (mmpose's InterHand2.6M padding), stored with the converters' 1.5 margin;
* ``action``: the hand type ("right", "left", "interacting"), which the InterHand2.6M benchmark
  reports apart; ``subject`` the subject id, ``subaction`` the capture, ``camera`` an index into
  the file's camera ids, ``frame`` the frame index. The file names the ``interhand2.6m``
  benchmark.
"""

import argparse
import json
import pathlib
import sys

import numpy as np
from PIL import Image
from tqdm import tqdm

from c2f.data.schema import DatasetWriter
from c2f.geometry import Camera
from c2f.skeleton import INTERHAND42
from data_prep.cli import run
from data_prep.sample import make_sample

HAND_TYPES = ("right", "left", "interacting")
BOX_PADDING = 1.25  # the hand box side = this x the annotation's longer bbox side
NUM_JOINTS = INTERHAND42.num_joints


def _load(path: pathlib.Path, what: str):
    try:
        return json.loads(pathlib.Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not the release's {what} JSON ({e})") from e


def camera_frame(world_mm, campos, camrot) -> np.ndarray:
    """[J, 3] world mm -> camera mm: ``camrot @ (world - campos)`` (InterHand2.6M's convention)."""
    R = np.asarray(camrot, np.float64).reshape(3, 3)
    return (np.asarray(world_mm, np.float64) - np.asarray(campos, np.float64)) @ R.T


def project(joints_cam, focal, princpt) -> np.ndarray:
    """[J, 3] camera mm -> [J, 2] px (pinhole; InterHand2.6M's images are undistorted)."""
    joints_cam = np.asarray(joints_cam, np.float64)
    z = np.where(np.abs(joints_cam[:, 2:]) > 1e-6, joints_cam[:, 2:], 1e-6)
    return joints_cam[:, :2] / z * np.asarray(focal, np.float64) + np.asarray(princpt, np.float64)


def read_samples(data_path, joints_path, cameras_path) -> list[dict]:
    """Every annotated hand of the split with its 3D joints and camera, checked.

    Raises:
      ValueError: naming the file and the entry that is missing or malformed.
    """
    data = _load(data_path, "data")
    joints = _load(joints_path, "joint_3d")
    cameras = _load(cameras_path, "camera")
    if not isinstance(data, dict) or not {"images", "annotations"} <= set(data):
        raise ValueError(f"{data_path}: expected 'images' and 'annotations'")
    images = {im["id"]: im for im in data["images"]}
    samples = []
    for ann in data["annotations"]:
        where = f"{data_path}: annotation {ann.get('id')}"
        image = images.get(ann.get("image_id"))
        if image is None:
            raise ValueError(f"{where}: image_id {ann.get('image_id')} is not in 'images'")
        capture, frame, camera = (
            str(image["capture"]),
            str(image["frame_idx"]),
            str(image["camera"]),
        )
        try:
            world = np.asarray(joints[capture][frame]["world_coord"], np.float64)
        except KeyError as e:
            raise ValueError(f"{joints_path}: no joints for capture {capture} frame {frame}") from e
        try:
            cam = {k: cameras[capture][k][camera] for k in ("campos", "camrot", "focal", "princpt")}
        except KeyError as e:
            raise ValueError(f"{cameras_path}: no camera {camera} of capture {capture}") from e
        valid = np.asarray(ann["joint_valid"], np.float64).reshape(-1) > 0
        if world.shape != (NUM_JOINTS, 3) or valid.shape != (NUM_JOINTS,):
            raise ValueError(f"{where}: expected 42 joints, got {world.shape} and {valid.shape}")
        if ann.get("hand_type") not in HAND_TYPES:
            raise ValueError(f"{where}: hand_type {ann.get('hand_type')!r} not in {HAND_TYPES}")
        x, y, w, h = (float(v) for v in ann["bbox"])
        if not (w > 0 and h > 0):
            raise ValueError(f"{where}: empty bbox {ann['bbox']}")
        joints_cam = camera_frame(world, cam["campos"], cam["camrot"])
        samples.append({
            "file_name": image["file_name"],
            "size": (int(image["width"]), int(image["height"])),
            "subject": int(image.get("subject", 0)),
            "capture": int(image["capture"]),
            "camera": camera,
            "frame": int(image["frame_idx"]),
            "hand_type": ann["hand_type"],
            "joints_cam": joints_cam,
            "uv": project(joints_cam, cam["focal"], cam["princpt"]),
            "valid": valid,
            "focal": np.asarray(cam["focal"], np.float64),
            "princpt": np.asarray(cam["princpt"], np.float64),
            "center": np.array([x + w / 2, y + h / 2]),
            "scale": BOX_PADDING * max(w, h) / 200.0,
        })  # fmt: skip
    if not samples:
        raise ValueError(f"{data_path}: no annotated hand")
    return samples


def convert(samples, images, out, crop_res: int, args: dict, quality: int = 90) -> int:
    """Write the samples into ``out`` (skeleton ``interhand42``); returns the count."""
    images = pathlib.Path(images)
    cameras = sorted({s["camera"] for s in samples})
    args = {**args, "frame_step": 0}  # sparse frames of many sequences: no video order
    with DatasetWriter(out, source="interhand2.6m", args=args, crop_res=crop_res,
                       action_names=HAND_TYPES, camera_names=cameras, skeleton=INTERHAND42,
                       benchmark="interhand2.6m") as w:  # fmt: skip
        for s in tqdm(samples, desc="interhand", unit="hand"):
            path = images / s["file_name"]
            try:
                frame = np.asarray(Image.open(path).convert("RGB"))
            except (OSError, ValueError) as e:
                raise ValueError(f"{path}: image named in the annotations unreadable ({e})") from e
            K = np.array([[s["focal"][0], 0, s["princpt"][0]], [0, s["focal"][1], s["princpt"][1]],
                          [0, 0, 1]])  # fmt: skip
            cam = Camera.from_intrinsics(K, frame.shape[1], frame.shape[0])
            joints = np.where(s["valid"][:, None], s["joints_cam"], 0.0)  # absent: zero
            uv = np.where(s["valid"][:, None], s["uv"], 0.0)
            sample = make_sample(frame, joints, uv, s["center"], s["scale"], cam, crop_res, quality)
            sample["joints_2d"][~s["valid"]] = 0.0
            valid = s["valid"].astype(np.uint8)
            sample.update(valid_2d=valid, valid_3d=valid, subject=s["subject"],
                          action=HAND_TYPES.index(s["hand_type"]), subaction=s["capture"],
                          camera=cameras.index(s["camera"]), frame=s["frame"])  # fmt: skip
            w.append({k: [v] for k, v in sample.items()})
        return w.count


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, type=pathlib.Path, help="InterHand2.6M_*_data.json")
    p.add_argument("--joints", required=True, type=pathlib.Path, help="..._joint_3d.json")
    p.add_argument("--cameras", required=True, type=pathlib.Path, help="..._camera.json")
    p.add_argument("--images", required=True, type=pathlib.Path, help="the images' folder")
    p.add_argument("--out", required=True, type=pathlib.Path, help="output .h5 file")
    p.add_argument("--crop-res", type=int, default=256, help="stored crop side, px")
    p.add_argument("--limit", type=int, help="convert only the first N hands")

    def work(args):
        if args.crop_res < 32:
            raise ValueError(f"--crop-res: at least 32 px, got {args.crop_res}")
        samples = read_samples(args.data, args.joints, args.cameras)[: args.limit]
        n = convert(samples, args.images, args.out, args.crop_res,
                    {k: str(v) for k, v in vars(args).items()})  # fmt: skip
        return f"wrote {n} hands to {args.out}"

    return run(p, argv, work)


if __name__ == "__main__":
    sys.exit(main())
