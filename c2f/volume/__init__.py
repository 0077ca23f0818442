"""Voxel volumes: Gaussian targets and decoding (soft-argmax and hard argmax).

Coordinate convention (the one place it is stated for volumes; see also :mod:`c2f.grid`):

* A volume is ``[J, D, H, W]`` (with any leading batch dimensions): joint, depth bin, row,
  column. Coordinates are returned and taken as ``(x, y, z)`` = (column, row, depth bin).
* Voxel ``(d, h, w)`` has its CENTRE at ``(x, y, z) = (w, h, d)``; a volume spans
  ``[-0.5, W - 0.5] x [-0.5, H - 0.5] x [-0.5, D - 0.5]``.
* x and y are heatmap pixels of the output grid; z is a depth-bin coordinate of that volume's
  own depth resolution (:class:`c2f.geometry.DepthBins` converts to mm). Volumes of different
  depth resolutions over the same range relate by :func:`c2f.grid.rescale`.
"""

from c2f.volume.decode import DECODERS, DECODES, check_decode, decode
from c2f.volume.hard_argmax import hard_argmax_3d
from c2f.volume.soft_argmax import soft_argmax_3d
from c2f.volume.targets import TargetConfig, gaussian_target, target_sigmas

__all__ = [
    "DECODERS",
    "DECODES",
    "TargetConfig",
    "check_decode",
    "decode",
    "gaussian_target",
    "hard_argmax_3d",
    "soft_argmax_3d",
    "target_sigmas",
]
