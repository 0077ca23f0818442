"""Camera, crop and depth geometry (see each module for frames, units and conventions)."""

from c2f.geometry.camera import (
    Camera,
    back_project,
    camera_to_world,
    distort,
    project,
    undistort,
    world_to_camera,
)
from c2f.geometry.crop import (
    apply_affine,
    box_from_joints,
    compose_affine,
    crop_matrix,
    invert_affine,
)
from c2f.geometry.depth_bins import DepthBins
from c2f.geometry.root import recover_root_depth, skeleton_from_root_depth

__all__ = [
    "Camera",
    "DepthBins",
    "apply_affine",
    "back_project",
    "box_from_joints",
    "camera_to_world",
    "compose_affine",
    "crop_matrix",
    "distort",
    "invert_affine",
    "project",
    "recover_root_depth",
    "skeleton_from_root_depth",
    "undistort",
    "world_to_camera",
]
