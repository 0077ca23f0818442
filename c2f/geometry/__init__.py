"""Camera, crop and depth geometry (see each module for frames, units and conventions).

Names are loaded on first use: ``c2f.geometry.crop`` and ``depth_bins`` are numpy-only and
serve host-side code (the deployment runtimes' crops) that must not import jax, which
``camera`` and ``root`` do.
"""

import importlib

_WHERE = {
    "Camera": "camera",
    "back_project": "camera",
    "camera_to_world": "camera",
    "distort": "camera",
    "project": "camera",
    "undistort": "camera",
    "world_to_camera": "camera",
    "apply_affine": "crop",
    "box_from_joints": "crop",
    "compose_affine": "crop",
    "crop_matrix": "crop",
    "invert_affine": "crop",
    "DepthBins": "depth_bins",
    "recover_root_depth": "root",
    "skeleton_from_root_depth": "root",
}

__all__ = sorted(_WHERE)


def __getattr__(name):
    if name not in _WHERE:
        raise AttributeError(f"module 'c2f.geometry' has no attribute {name!r}")
    return getattr(importlib.import_module(f"c2f.geometry.{_WHERE[name]}"), name)
