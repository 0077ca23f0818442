"""Synthetic capture rigs: four Human3.6M-like cameras around each subject."""

import numpy as np

from c2f.geometry import Camera
from c2f.h36m import CAMERAS

# Human3.6M's video heights per camera (1002 for the first and last; S7's are all 1002).
_RES_H = (1002, 1000, 1000, 1002)


def look_at(centre, target) -> np.ndarray:
    """World-to-camera rotation of a camera at ``centre`` looking at ``target`` (world z up)."""
    forward = np.asarray(target, float) - centre
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


def subject_cameras(subject: int, seed: int = 0) -> dict[str, Camera]:
    """The four cameras of a subject's capture (deterministic per subject and seed).

    Cameras stand at 3.5-6.5 m from the room centre in four directions, 1.2-1.9 m high, aimed
    at about pelvis height, with focal lengths and principal points like Human3.6M's. They are
    pinhole cameras (no lens distortion).
    """
    rng = np.random.default_rng([seed, subject, 7])
    cams = {}
    for i, cam_id in enumerate(CAMERAS):
        azimuth = np.deg2rad(45 + 90 * i + rng.uniform(-15, 15))
        dist = rng.uniform(3500, 6500)
        centre = np.array([dist * np.cos(azimuth), dist * np.sin(azimuth), rng.uniform(1200, 1900)])
        target = np.array([*rng.uniform(-200, 200, 2), rng.uniform(800, 1100)])
        f = rng.uniform(1140, 1155)
        cams[cam_id] = Camera(
            R=look_at(centre, target),
            t=centre,
            f=np.array([f, f * rng.uniform(0.998, 1.0)]),
            c=np.array([rng.uniform(500, 525), rng.uniform(495, 520)]),
            k=np.zeros(3),
            p=np.zeros(2),
            res_w=1000,
            res_h=1002 if subject == 7 else _RES_H[i],
        )
    return cams
