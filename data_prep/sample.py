"""One stored sample of the c2f format, shared by every converter."""

import io

import numpy as np
from PIL import Image

from c2f.data.augment import warp
from c2f.geometry import Camera, apply_affine, crop_matrix

CROP_MARGIN = 1.5  # stored crop box = person box x this (room for scale/rotation augmentation)


def stored_crop_matrix(center, scale: float, crop_res: int) -> np.ndarray:
    """Affine from original-image px to the stored crop of a person box (center, scale)."""
    return crop_matrix(center, scale * CROP_MARGIN, crop_res)


def stored_sample(crop, A, joints_cam, uv, center, scale, cam: Camera, image_size, quality: int):
    """The schema's fields (all but the ids) of one sample.

    Args:
      crop: [R, R, 3] uint8 stored crop (``A`` applied to the original image).
      A: [2, 3] original px -> crop px (:func:`stored_crop_matrix`).
      joints_cam: [17, 3] camera-frame joints, mm.
      uv: [17, 2] their pixels in the original image.
      center: [2] person box centre, original px.
      scale: the person box side / 200.
      cam: the original image's camera (intrinsics and distortion are stored).
      image_size: (width, height) of the original image, px.
      quality: JPEG quality.
    """
    buf = io.BytesIO()
    Image.fromarray(crop).save(buf, "JPEG", quality=quality)
    return {
        "image": buf.getvalue(),
        "joints_cam": joints_cam,
        "joints_2d": apply_affine(A, uv),
        "center": center,
        "scale": scale,
        "crop_center": center,
        "crop_scale": scale * CROP_MARGIN,
        "intrinsics": np.array([*cam.f, *cam.c]),
        "distortion": np.array([*cam.k, *cam.p]),
        "image_size": np.asarray(image_size),
    }


def make_sample(frame, joints_cam, uv, center, scale, cam: Camera, crop_res: int, quality: int):
    """A stored sample: the crop of ``frame`` around the box (center, scale) with a margin.

    Args:
      frame: [H, W, 3] uint8 original image.
      joints_cam: [17, 3] camera-frame joints, mm.
      uv: [17, 2] their pixels in ``frame``.
      center: [2] person box centre, px.
      scale: the box side / 200.
      cam: the frame's camera (intrinsics and distortion are stored).
      crop_res: stored crop side, px.
      quality: JPEG quality.

    Returns:
      dict of the schema's fields except the ids (subject, action, ...).
    """
    A = stored_crop_matrix(center, scale, crop_res)
    size = (frame.shape[1], frame.shape[0])
    return stored_sample(
        warp(frame, A, crop_res), A, joints_cam, uv, center, scale, cam, size, quality
    )
