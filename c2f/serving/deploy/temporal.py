"""Run a ``c2f export --temporal NAME`` artifact with jax and numpy only.

The temporal model is exported as its own artifact, beside the image model's (the choice of
issue 28: the image model's artifact stays one program per crop, and a live system pairs the two
at its own pace). A zip of ``meta.json`` (format ``c2f-temporal-stablehlo``: design, window,
causal, joints, heatmap_px, features) and ``model.stablehlo``: windows float32
``[B, window, J, FEATURES]`` (:mod:`c2f.temporal.windows`) -> refined joints ``[B, J, 3]`` mm.
"""

import json
import pathlib
import zipfile

import jax
import numpy as np

from c2f.serving.deploy.stablehlo import MAX_MEMBER_BYTES, META_FILE, STABLEHLO_FILE, this_platform

FORMAT = "c2f-temporal-stablehlo"


class TemporalArtifact:
    """``artifact(windows) -> [B, J, 3]`` mm, and its ``meta`` (window, causal, joints, ...).

    Raises:
      ValueError: the file is not a temporal artifact, or its meta does not describe its
        program (naming the file).
    """

    def __init__(self, path):
        path = pathlib.Path(path)
        try:
            with zipfile.ZipFile(path) as archive:
                for name, limit in MAX_MEMBER_BYTES.items():
                    if archive.getinfo(name).file_size > limit:
                        raise ValueError(f"{path}: {name} declares more than {limit:,} bytes")
                meta = json.loads(archive.read(META_FILE))
                blob = archive.read(STABLEHLO_FILE)
        except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"{path}: not a c2f temporal artifact ({e})") from e
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"{path}: {META_FILE} is not a {FORMAT} artifact's")
        self.meta, self.path = meta, path
        self.exported = jax.export.deserialize(bytearray(blob))
        shape = self.exported.in_avals[0].shape[1:]
        if shape != (meta["window"], meta["joints"], meta["features"]):
            raise ValueError(f"{path}: {META_FILE} says windows of {meta['window']} frames of "
                             f"{meta['joints']} joints; the program takes {shape}")  # fmt: skip
        if this_platform() not in self.exported.platforms:
            raise ValueError(f"{path}: exported for {list(self.exported.platforms)}, not "
                             f"{this_platform()}")  # fmt: skip

    def __call__(self, windows) -> np.ndarray:
        windows = np.asarray(windows, np.float32)
        return np.asarray(self.exported.call(windows))
