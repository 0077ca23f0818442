"""A learned temporal model over the image model's per-frame output (docs/temporal.md).

:mod:`c2f.temporal.designs`: the designs (``DESIGNS``: a dilated temporal convolution after
VideoPose3D, centred or causal, and a transformer over the window after MPS-Net's attention),
around a learned filter started as Savitzky-Golay, and their config; :mod:`c2f.temporal.windows`:
per-frame features and windows of runs; :mod:`c2f.temporal.augment`: the training perturbations;
:mod:`c2f.temporal.train`: the step; :mod:`c2f.temporal.run`: a trained model's config, folder
and checkpoints; :mod:`c2f.temporal.apply`: a model over whole runs. The loop is
:mod:`c2f.train.temporal` (``c2f train-temporal``); serving, :mod:`c2f.serving.temporal`.
"""

from c2f.temporal.designs import DESIGNS, TemporalConfig, TemporalModel
from c2f.temporal.windows import FEATURES, frame_features, sequence_windows

__all__ = ["DESIGNS", "FEATURES", "TemporalConfig", "TemporalModel", "frame_features",
           "sequence_windows"]  # fmt: skip
