"""The command-line inputs of ``c2f video`` and ``c2f predict``: numbers, boxes, cameras, truth.

Each is checked where it is read and refused with a message naming the argument.
"""

import zipfile

import numpy as np

from c2f.archives import check_members
from c2f.data.schema import BODY_FIELDS

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def _checked(values: list, name: str, shown) -> list:
    if not all(np.isfinite(values)) or max(map(abs, values)) > 1e7:
        raise ValueError(f"{name}: numbers beyond 1e7 or not finite in {shown!r}")
    return values


def parse_numbers(text: str, count: int, name: str) -> list:
    """``count`` comma-separated finite numbers of magnitude at most 1e7 for argument ``name``."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != count:
        raise ValueError(f"{name}: expected {count} comma-separated numbers, got {text!r}")
    return _checked(values, name, text)


def check_box(values: list, name: str, shown) -> list:
    """Four finite numbers ``x0, y0, x1, y1`` px with x1 > x0 and y1 > y0; a named error."""
    x0, y0, x1, y1 = _checked([float(v) for v in values], name, shown)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"{name}: x1 > x0 and y1 > y0 are needed, got {shown!r}")
    return [x0, y0, x1, y1]


def parse_box(text: str, name: str = "--box") -> list:
    """``x0,y0,x1,y1`` px (:func:`check_box`)."""
    return check_box(parse_numbers(text, 4, name), name, text)


def parse_K(text: str, name: str = "--K") -> np.ndarray:
    """``fx,fy,cx,cy`` px with positive focal lengths -> [3, 3]."""
    fx, fy, cx, cy = parse_numbers(text, 4, name)
    if fx <= 0 or fy <= 0:
        raise ValueError(f"{name}: focal lengths must be positive, got {text!r}")
    return np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])


def listed_box(box, i: int, path):
    """Entry ``i`` of a ``--boxes`` list: None or four numbers x0 < x1, y0 < y1."""
    if box is None:
        return None
    if (
        not isinstance(box, list)
        or len(box) != 4
        or not all(isinstance(v, (int, float)) for v in box)
    ):
        raise ValueError(f"--boxes: {path}: entry {i} is {box!r}, not null or [x0, y0, x1, y1]")
    return check_box(box, f"--boxes: {path}: entry {i}", box)


def read_truth(path) -> dict:
    """A clip's ground truth (``c2f data clip``'s .npz); a named error for anything else."""
    if not zipfile.is_zipfile(path):
        raise ValueError(f"--truth: {path} is not an .npz file (c2f data clip writes one)")
    try:
        check_members(path)
        with np.load(path, allow_pickle=False) as z:
            truth = {k: z[k] for k in ("joints_2d", "joints_cam")}
            truth.update({k: z[k] for k in BODY_FIELDS if k in z.files})
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(f"--truth: {path}: not a clip's ground truth ({e})") from e
    if truth["joints_cam"].ndim != 3 or truth["joints_cam"].shape[2] != 3:
        raise ValueError(f"--truth: {path}: joints_cam is {truth['joints_cam'].shape}, not "
                         "[frames, joints, 3]")  # fmt: skip
    return truth


def check_truth_joints(truth: dict, path, skeleton) -> None:
    """A clip's ground truth must have the run's joints."""
    if truth["joints_cam"].shape[1:] != (skeleton.num_joints, 3):
        raise ValueError(f"--truth: {path} holds joints_cam of shape "
                         f"{truth['joints_cam'].shape}; the run's {skeleton.name} has "
                         f"{skeleton.num_joints} joints")  # fmt: skip
