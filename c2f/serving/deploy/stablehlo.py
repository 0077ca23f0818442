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
# The largest each member may declare: the paper network's model.stablehlo is 205 MB and its
# meta.json 2 kB. A member declaring more is refused before it is decompressed (a 1.5 MB zip
# can hold a 1.5 GB member), and zipfile never inflates past the declared size.
MAX_MEMBER_BYTES = {META_FILE: 1 << 20, STABLEHLO_FILE: 2 << 30}


def read_artifact(path):
    """(meta, jax.export.Exported) of an artifact.

    Raises:
      ValueError: the file is not a c2f StableHLO artifact (naming it and what is wrong).
    """
    path = pathlib.Path(path)
    meta, exported = read_exported(path, "c2f-stablehlo", "a c2f StableHLO artifact",
                                   not_zip="; an ONNX export runs with "
                                   "c2f.serving.deploy.OnnxPredictor")  # fmt: skip
    # The metadata must describe its program: an edited meta.json fails here, not at a call.
    try:
        inputs, joints, res = list(meta["inputs"]), int(meta["joints"]), int(meta["input_res"])
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: {META_FILE} lacks or mangles a field ({e})") from e
    image, uv = exported.in_avals[0].shape[1:], exported.out_avals[0].shape[1:]
    if len(exported.in_avals) != len(inputs) or image != (res, res, 3) or uv != (joints, 2):
        raise ValueError(
            f"{path}: {META_FILE} does not describe its program ({len(inputs)} inputs, "
            f"{res} px, {joints} joints; the program takes {len(exported.in_avals)} inputs, "
            f"images {image} and returns {uv} 2D joints)"
        )
    return meta, exported


def read_exported(path, fmt: str, what: str, not_zip: str = ""):
    """(meta, jax.export.Exported) of a zip holding ``meta.json`` and ``model.stablehlo``.

    Each member's declared size is checked before it is read (``MAX_MEMBER_BYTES``);
    ``meta.json`` must be a JSON object whose ``format`` is ``fmt``.

    Raises:
      ValueError: naming the file, ``what`` it should have been and what is wrong.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if not {META_FILE, STABLEHLO_FILE} <= names:
                raise ValueError(f"{path}: a zip, but not {what} (it holds {sorted(names)[:5]}, "
                                 f"expected {META_FILE} and {STABLEHLO_FILE})")  # fmt: skip
            for name, limit in MAX_MEMBER_BYTES.items():
                size = archive.getinfo(name).file_size
                if size > limit:
                    raise ValueError(f"{path}: {name} declares {size:,} bytes, more than the "
                                     f"{limit:,} an artifact's {name} may hold")  # fmt: skip
            try:
                meta = json.loads(archive.read(META_FILE))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise ValueError(f"{path}: {META_FILE} is not JSON ({e})") from e
            if not isinstance(meta, dict):
                raise ValueError(f"{path}: {META_FILE} is not a JSON object")
            blob = archive.read(STABLEHLO_FILE)
    except zipfile.BadZipFile as e:
        raise ValueError(f"{path}: not {what} (not a zip file: {e}){not_zip}") from e
    if meta.get("format") != fmt:
        raise ValueError(f"{path}: {META_FILE} says format {meta.get('format')!r}, "
                         f"expected {fmt!r}")  # fmt: skip
    try:
        return meta, jax.export.deserialize(bytearray(blob))
    except Exception as e:  # jax raises several kinds for a damaged module
        raise ValueError(f"{path}: {STABLEHLO_FILE} does not deserialize ({e})") from e


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
