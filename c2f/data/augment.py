"""From a stored sample to a training example: crop, the paper's augmentation, and targets.

The stored crop (``crop_center``, ``crop_scale``, ``crop_res``; docs/data.md) is resampled
into the network's input box: the person box (``center``, ``scale``) zoomed by ``s``, rotated
and optionally mirrored (:func:`c2f.geometry.crop_matrix` conventions). Joint coordinates go
through the same affine map; a mirror also swaps left and right joints and mirrors the 3D pose.
"""

import dataclasses
import io

import numpy as np
from PIL import Image

from c2f import grid
from c2f.geometry.crop import (
    apply_affine,
    compose_affine,
    crop_matrix,
    invert_affine,
    split_affine,
)
from c2f.geometry.depth_bins import DepthBins
from c2f.skeleton import Skeleton


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """The paper's augmentation (Newell et al.'s recipe), all configurable.

    scale ~ N(1, scale_sigma) clamped to [scale_min, scale_max]; rotation ~ N(0, rot_sigma_deg)
    clamped to +-rot_max_deg, applied with probability rot_prob; horizontal flip with
    probability flip_prob; each colour channel x U(colour_min, colour_max).
    """

    scale_sigma: float = 0.25
    scale_min: float = 0.75
    scale_max: float = 1.25
    rot_sigma_deg: float = 30.0
    rot_max_deg: float = 60.0
    rot_prob: float = 0.4
    flip_prob: float = 0.5
    colour_min: float = 0.8
    colour_max: float = 1.2

    def __post_init__(self):
        for lo, hi in (("scale_min", "scale_max"), ("colour_min", "colour_max")):
            if not 0 < getattr(self, lo) <= getattr(self, hi):
                raise ValueError(
                    f"AugmentConfig.{lo} ({getattr(self, lo)}) must be positive and at most "
                    f"{hi} ({getattr(self, hi)})"
                )
        for name in ("rot_prob", "flip_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"AugmentConfig.{name}: a probability, got {getattr(self, name)}")
        if self.scale_sigma < 0 or self.rot_sigma_deg < 0 or self.rot_max_deg < 0:
            raise ValueError("AugmentConfig: scale_sigma, rot_sigma_deg, rot_max_deg must be >= 0")


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """One draw of the augmentation."""

    scale: float = 1.0
    rot_deg: float = 0.0
    flip: bool = False
    colour: tuple[float, float, float] = (1.0, 1.0, 1.0)


def sample_augmentation(rng: np.random.Generator, cfg: AugmentConfig) -> Augmentation:
    """Draw one augmentation."""
    scale = float(np.clip(rng.normal(1.0, cfg.scale_sigma), cfg.scale_min, cfg.scale_max))
    rot = float(np.clip(rng.normal(0.0, cfg.rot_sigma_deg), -cfg.rot_max_deg, cfg.rot_max_deg))
    rot = rot if rng.uniform() < cfg.rot_prob else 0.0
    flip = bool(rng.uniform() < cfg.flip_prob)
    colour = tuple(float(c) for c in rng.uniform(cfg.colour_min, cfg.colour_max, 3))
    return Augmentation(scale, rot, flip, colour)


class ImageDecodeError(ValueError):
    """A stored image does not decode, or not to the stored crop size."""


def decode_jpeg(data, size: int | None = None) -> np.ndarray:
    """JPEG bytes -> [H, W, 3] uint8 RGB (of ``size`` x ``size`` px when given).

    Raises:
      ImageDecodeError: if the bytes are not a decodable image of that size.
    """
    try:
        with Image.open(io.BytesIO(bytes(data))) as img:
            image = np.asarray(img.convert("RGB"))
    except Exception as e:
        raise ImageDecodeError(f"image: not a decodable JPEG ({e})") from e
    if size is not None and image.shape[:2] != (size, size):
        raise ImageDecodeError(
            f"image: decoded to {image.shape[1]}x{image.shape[0]} px, not the stored {size}"
        )
    return image


def warp(image: np.ndarray, M: np.ndarray, res: int) -> np.ndarray:
    """Resample ``image`` [H, W, 3] uint8 into ``res x res`` through an affine map.

    ``M`` maps source px to output px (:mod:`c2f.grid` convention); bilinear, black outside.
    An identity map on an image that already is ``res x res`` returns a copy (no resampling).
    """
    if image.shape[:2] == (res, res) and np.allclose(M, np.eye(3)[:2], atol=1e-9):
        return image.copy()
    inv = invert_affine(M)
    # PIL samples at pixel centres x + 0.5 (pixels span [i, i + 1]); shift both sides by 0.5.
    shift = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]])
    unshift = np.array([[1.0, 0.0, -0.5], [0.0, 1.0, -0.5]])
    pil = compose_affine(shift, compose_affine(inv, unshift))
    out = Image.fromarray(image).transform(
        (res, res), Image.Transform.AFFINE, tuple(pil.ravel()), Image.Resampling.BILINEAR
    )
    return np.asarray(out)


def make_example(
    sample: dict,
    aug: Augmentation,
    *,
    stored_res: int,
    input_res: int,
    output_res: int,
    depth_bins: DepthBins,
    skeleton: Skeleton,
    device_warp: bool = False,
) -> dict:
    """One training/evaluation example from a stored sample.

    Args:
      sample: a record from :class:`c2f.data.source.H5Source`.
      aug: the augmentation to apply (``Augmentation()`` for none).
      stored_res: side of the stored crops.
      input_res: network input side, px.
      output_res: heatmap side, px.
      depth_bins: depth range and finest resolution of the output volume.
      skeleton: the sample's keypoint set: the flip's left/right pairs, and the part root each
        joint's depth is relative to.
      device_warp: leave the image's warp and colour to the device
        (:func:`c2f.geometry.resample.augment_image`): the example has the decoded stored
        crop, ``crop`` [S, S, 3] uint8, the map from input px to stored px, ``warp``
        [3, 2, 3] (float64 in three float32 parts, :func:`c2f.geometry.crop.split_affine`),
        and ``colour`` [3] in place of ``image``; everything else is the same.

    Returns:
      dict with ``image`` [R, R, 3] uint8, ``coords`` [J, 3] float32 (x, y heatmap px; z bins
      at ``depth_bins.num_bins``), ``z_mm`` [J] root-relative depth, ``joints_rel_mm``
      [J, 3] root-relative camera-frame joints (mirrored in x when flipped), ``joints_cam``
      [J, 3] the camera-frame joints themselves (meaningful unaugmented), ``mask`` [J] bool
      (inside the volume, and valid in 2D and 3D: the sample's ``valid_2d``/``valid_3d``),
      ``mask_xy`` [J] bool (known in 2D only, inside the heatmap: supervised in x and y
      alone, :mod:`c2f.losses`), ``valid_3d`` [J] bool (the joint and its part root have 3D:
      what evaluation scores), ``uv_input`` [J, 2] px in the input image,
      ``hm_to_img`` [2, 3] affine from heatmap px to original-image px, ``intrinsics`` [4],
      ``distortion`` [5] and ``root_depth_mm`` (the root's camera-frame depth; [P], one per
      part, for a skeleton of P > 1 parts, after the flip).
    """
    joints_cam = np.asarray(sample["joints_cam"], np.float64)
    if not np.all(np.isfinite(joints_cam)):
        raise ValueError("joints_cam: contains NaN or Inf values")
    to_stored = crop_matrix(sample["crop_center"], float(sample["crop_scale"]), stored_res)
    to_input = crop_matrix(
        sample["center"], float(sample["scale"]) * aug.scale, input_res, aug.rot_deg, aug.flip
    )
    M = compose_affine(to_input, invert_affine(to_stored))
    crop = decode_jpeg(sample["image"], stored_res)
    if device_warp:
        pixels = {"crop": crop, "warp": split_affine(invert_affine(M)),
                  "colour": np.asarray(aug.colour, np.float32)}  # fmt: skip
    else:
        pixels = {"image": warp(crop, M, input_res)}
        if aug.colour != (1.0, 1.0, 1.0):
            colour = np.asarray(aug.colour, np.float32)
            pixels["image"] = np.clip(pixels["image"] * colour, 0, 255).astype(np.uint8)
    uv = apply_affine(M, np.asarray(sample["joints_2d"], np.float64))
    root_of = list(skeleton.root_of)  # depths are relative to each joint's part root
    rel = joints_cam - joints_cam[root_of]
    # Schema version 2: a joint is supervised in 3D where the file has its 2D and 3D position
    # (and its root's 3D: depths are root-relative), in x and y only where it has the 2D
    # position alone; version-1 files read as all valid.
    n = len(uv)
    valid_2d = np.asarray(sample.get("valid_2d", np.ones(n)), bool)
    valid_3d = np.asarray(sample.get("valid_3d", np.ones(n)), bool)
    valid_3d = valid_3d & valid_3d[root_of]
    roots = list(skeleton.roots)
    cam_mm = joints_cam
    if aug.flip:
        perm = list(skeleton.flip_permutation)
        cam_mm = joints_cam[perm] * np.array([-1.0, 1.0, 1.0])
        roots = [perm[r] for r in roots]  # the part now in a root's place was that root's mirror
        uv, rel = uv[perm], rel[perm] * np.array([-1.0, 1.0, 1.0])
        valid_2d, valid_3d = valid_2d[perm], valid_3d[perm]
    depths = joints_cam[roots, 2].astype(np.float32)
    root_depth = depths if len(roots) > 1 else np.float32(depths[0])
    xy = grid.rescale(uv, input_res, output_res)
    z = depth_bins.to_bins(rel[:, 2])
    coords = np.concatenate([xy, z[:, None]], axis=1)
    upper = np.array([output_res, output_res, depth_bins.num_bins]) - 0.5
    inside = (coords >= -0.5) & (coords <= upper)
    mask = np.all(inside, axis=1) & valid_2d & valid_3d
    mask_xy = np.all(inside[:, :2], axis=1) & valid_2d & ~valid_3d
    to_heatmap = crop_matrix(
        sample["center"], float(sample["scale"]) * aug.scale, output_res, aug.rot_deg, aug.flip
    )
    return {
        **pixels,
        "coords": coords.astype(np.float32),
        "hm_to_img": invert_affine(to_heatmap).astype(np.float32),
        "intrinsics": np.asarray(sample["intrinsics"], np.float32),
        "distortion": np.asarray(sample["distortion"], np.float32),
        "root_depth_mm": root_depth,
        "z_mm": rel[:, 2].astype(np.float32),
        "joints_rel_mm": rel.astype(np.float32),
        "joints_cam": cam_mm.astype(np.float32),
        "mask": mask,
        "mask_xy": mask_xy,
        "valid_3d": valid_3d,
        "uv_input": uv.astype(np.float32),
    }
