"""Run a ``c2f export --format stablehlo`` artifact with jax and numpy only.

No flax, optax, orbax or ``c2f.model`` is imported: the network is in the artifact.
"""

import json
import pathlib
import zipfile

import jax
import numpy as np

from c2f.serving.person_crop import OUTPUTS, BoxPredictor, runtime_skeleton

# The artifact's members (c2f.serving.export writes them).
META_FILE, STABLEHLO_FILE = "meta.json", "model.stablehlo"


def read_artifact(path):
    """(meta, jax.export.Exported) of an artifact.

    Raises:
      ValueError: the file is not a c2f StableHLO artifact (naming it and what is wrong).
    """
    path = pathlib.Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if not {META_FILE, STABLEHLO_FILE} <= names:
                raise ValueError(f"{path}: a zip, but not a c2f StableHLO artifact (it holds "
                                 f"{sorted(names)[:5]}, expected {META_FILE} and "
                                 f"{STABLEHLO_FILE})")  # fmt: skip
            meta = json.loads(archive.read(META_FILE))
            blob = archive.read(STABLEHLO_FILE)
    except zipfile.BadZipFile as e:
        raise ValueError(f"{path}: not a c2f StableHLO artifact (not a zip file: {e}); an ONNX "
                         "export runs with c2f.serving.deploy.OnnxPredictor") from e  # fmt: skip
    if meta.get("format") != "c2f-stablehlo":
        raise ValueError(f"{path}: {META_FILE} says format {meta.get('format')!r}, "
                         "expected 'c2f-stablehlo'")  # fmt: skip
    try:
        exported = jax.export.deserialize(bytearray(blob))
    except Exception as e:  # jax raises several kinds for a damaged module
        raise ValueError(f"{path}: {STABLEHLO_FILE} does not deserialize ({e})") from e
    return meta, exported


def this_platform() -> str:
    """The platform name jax.export uses for this machine's default devices."""
    device = jax.devices()[0]
    if device.platform == "gpu":
        return "rocm" if "rocm" in str(getattr(device.client, "platform_version", "")) else "cuda"
    return device.platform


class StableHLOPredictor(BoxPredictor):
    """An exported predictor with :class:`c2f.Predictor`'s call (see :mod:`c2f.serving.deploy`).

    Args:
      path: the artifact.
      max_bucket: the largest padded batch (one compilation per bucket, as the Predictor).
      root_depth_mm: per part, mm: for artifacts of skeletons without bone lengths (their
        ``meta["inputs"]`` has ``root_depth_mm``), as the Predictor's.

    Raises:
      ValueError: not an artifact, or lowered for platforms other than this machine's.
    """

    def __init__(self, path, *, max_bucket: int = 64, root_depth_mm=None):
        self.path = pathlib.Path(path)
        self.meta, self.exported = read_artifact(self.path)
        platform = this_platform()
        if platform not in self.exported.platforms:
            raise ValueError(f"{self.path}: lowered for {', '.join(self.exported.platforms)}; "
                             f"this machine runs {platform} (export with --platforms "
                             f"{platform})")  # fmt: skip
        self.input_res, self.output_res = self.meta["input_res"], self.meta["output_res"]
        self.skeleton, self.root_depth_mm = runtime_skeleton(self.meta, root_depth_mm, self.path)
        self.max_bucket = max_bucket
        self._call = jax.jit(self.exported.call)

    def _infer(self, batch: dict, size: int) -> dict:
        out = self._call(*(batch[k] for k in self.meta["inputs"]))
        return dict(zip(OUTPUTS, (np.asarray(x) for x in out)))
