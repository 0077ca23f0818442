"""Run a ``c2f export --temporal NAME`` artifact with jax and numpy only.

The temporal model is exported as its own artifact, beside the image model's (the choice of
issue 28: the image model's artifact stays one program per crop, and a live system pairs the two
at its own pace). A zip of ``meta.json`` (format ``c2f-temporal-stablehlo``: design, window,
causal, joints, heatmap_px, features) and ``model.stablehlo``: windows float32
``[B, window, J, FEATURES]`` (:mod:`c2f.temporal.windows`) -> refined joints ``[B, J, 3]`` mm.
"""

import pathlib

import numpy as np

from c2f.serving.deploy.stablehlo import META_FILE, read_exported, this_platform

FORMAT = "c2f-temporal-stablehlo"


class TemporalArtifact:
    """``artifact(windows) -> [B, J, 3]`` mm, and its ``meta`` (window, causal, joints, ...).

    Raises:
      ValueError: the file is not a temporal artifact, or its meta does not describe its
        program (naming the file).
    """

    def __init__(self, path):
        path = pathlib.Path(path)
        meta, self.exported = read_exported(path, FORMAT, "a c2f temporal artifact")
        self.meta, self.path = meta, path
        shape = self.exported.in_avals[0].shape[1:]
        try:
            declared = (int(meta["window"]), int(meta["joints"]), int(meta["features"]))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path}: {META_FILE} lacks or mangles a field ({e})") from e
        if shape != declared:
            raise ValueError(f"{path}: {META_FILE} says windows of {declared[0]} frames of "
                             f"{declared[1]} joints; the program takes {shape}")  # fmt: skip
        if this_platform() not in self.exported.platforms:
            raise ValueError(f"{path}: exported for {list(self.exported.platforms)}, not "
                             f"{this_platform()}")  # fmt: skip

    def __call__(self, windows) -> np.ndarray:
        windows = np.asarray(windows, np.float32)
        return np.asarray(self.exported.call(windows))
