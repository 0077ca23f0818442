"""Whole-file validation of a dataset, run when it is opened (before any training step).

Every numeric field of every sample is checked at once, vectorised over the file (a few seconds
for the full Human3.6M file), so that a bad sample fails at start-up, naming the file, the
field and the first bad samples, instead of when the loader reaches it minutes or hours later.
The stored crops' size is checked against the ``crop_res`` attribute on the first image.

What cannot be checked without decoding every image (a JPEG whose entropy-coded data has
flipped bits usually decodes, to wrong pixels) is left to the loader, which counts and skips
(or fails on) images that do not decode (``DataConfig.bad_images``).
"""

import io
import json

import h5py
import numpy as np
from PIL import Image

from c2f.data.schema import read

# A joint farther than this from the camera is no measurement (Human3.6M: < 10 m).
MAX_JOINT_MM = 1e5
ROWS_PER_READ = 65536  # bounded memory on the full Human3.6M file


def _first(bad: np.ndarray, limit: int = 5) -> str:
    where = np.flatnonzero(bad)
    shown = ", ".join(str(i) for i in where[:limit])
    return f"sample(s) {shown}{' ...' if len(where) > limit else ''} ({len(where)} bad)"


def _attr(f: h5py.File, path, name: str, kind):
    try:
        value = f.attrs[name]
        if kind is list:
            value = json.loads(value)
            if not isinstance(value, list):
                raise ValueError("not a JSON list")
            return value
        return kind(value)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{path}: attribute {name!r} is malformed ({f.attrs[name]!r}: {e})") from e


def _checks(f: h5py.File, names: dict, start: int, stop: int):
    """(field, description, bad-row mask) for the rows [start, stop)."""
    col = {k: read(f, k, slice(start, stop)) for k in (
        "joints_cam", "joints_2d", "center", "scale", "crop_center", "crop_scale", "intrinsics",
        "distortion", "image_size", "subject", "action", "camera", "valid_2d",
        "valid_3d")}  # fmt: skip
    valid_3d = col["valid_3d"] > 0  # 2D-only joints hold no 3D: their joints_cam is not checked
    per_row = {k: v.reshape(len(v), -1) for k, v in col.items()}
    for name in ("joints_cam", "joints_2d", "center", "scale", "crop_center", "crop_scale",
                 "intrinsics", "distortion"):  # fmt: skip
        yield name, "NaN or Inf values", ~np.all(np.isfinite(per_row[name]), axis=1)
    yield (
        "joints_cam",
        f"a joint farther than {MAX_JOINT_MM:.0e} mm",
        np.any((np.abs(np.nan_to_num(col["joints_cam"])) > MAX_JOINT_MM).any(-1) & valid_3d, 1),
    )
    yield (
        "joints_cam",
        "a joint at or behind the camera (z <= 0)",
        np.any((col["joints_cam"][..., 2] <= 0) & valid_3d, axis=1),
    )
    for name in ("valid_2d", "valid_3d"):
        yield name, "a value other than 0 or 1", np.any(col[name] > 1, axis=1)
    for name in ("scale", "crop_scale"):
        yield name, "a scale that is not positive", ~(col[name] > 0)
    yield (
        "intrinsics",
        "a focal length that is not positive",
        ~np.all(col["intrinsics"][:, :2] > 0, axis=1),
    )
    yield "image_size", "a non-positive image size", ~np.all(col["image_size"] > 0, axis=1)
    yield "subject", "a negative subject number", col["subject"] < 0
    for name, table in (("action", "action_names"), ("camera", "camera_names")):
        n = len(names[table])
        yield name, f"an id outside the file's {n} {table}", (col[name] < 0) | (col[name] >= n)


def validate(f: h5py.File, path) -> None:
    """Check every sample of an open dataset (schema already checked).

    Raises:
      ValueError: naming the file, the field and the first bad samples.
    """
    names = {t: _attr(f, path, t, list) for t in ("action_names", "camera_names", "joint_names")}
    crop_res = _attr(f, path, "crop_res", int)
    if crop_res <= 0:
        raise ValueError(f"{path}: attribute 'crop_res' must be positive, got {crop_res}")
    n = len(f["image"])
    for start in range(0, n, ROWS_PER_READ):
        stop = min(n, start + ROWS_PER_READ)
        for field, what, bad in _checks(f, names, start, stop):
            if np.any(bad):
                full = np.zeros(n, bool)
                full[start:stop] = bad
                raise ValueError(f"{path}: field {field!r}: {what} at {_first(full)}")
    if n:
        try:
            with Image.open(io.BytesIO(f["image"][0].tobytes())) as img:
                size = img.size
        except Exception as e:
            raise ValueError(
                f"{path}: field 'image': sample 0 is not a decodable JPEG ({e})"
            ) from e
        if size != (crop_res, crop_res):
            raise ValueError(
                f"{path}: attribute 'crop_res' is {crop_res} but the stored crops are "
                f"{size[0]}x{size[1]} px (sample 0)"
            )
