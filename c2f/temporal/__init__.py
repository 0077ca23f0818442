"""A learned temporal model over the image model's per-frame output (issue 28, in progress).

:mod:`c2f.temporal.designs`: the designs (``DESIGNS``: a dilated temporal convolution after
VideoPose3D, centred or causal, and a transformer over the window after MPS-Net's attention) and
their config; :mod:`c2f.temporal.windows`: per-frame windows of a sequence and their features.
"""

from c2f.temporal.designs import DESIGNS, TemporalConfig, TemporalModel
from c2f.temporal.windows import FEATURES, frame_features, sequence_windows

__all__ = ["DESIGNS", "FEATURES", "TemporalConfig", "TemporalModel", "frame_features",
           "sequence_windows"]  # fmt: skip
