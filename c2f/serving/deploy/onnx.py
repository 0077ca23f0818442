"""Run a ``c2f export --format onnx`` model with onnxruntime and numpy only."""

import json
import pathlib

import numpy as np

from c2f.serving.deploy import ZIP_MAGIC
from c2f.serving.person_crop import OUTPUTS, BoxPredictor, runtime_skeleton


class OnnxPredictor(BoxPredictor):
    """An exported ONNX predictor with :class:`c2f.Predictor`'s call (:mod:`c2f.serving.deploy`).

    Batches run at their own size (ONNX Runtime compiles nothing per shape).

    Args:
      path: the ``.onnx`` file.
      providers: ONNX Runtime execution providers (default: the CPU's).
      threads: intra-op threads (default: ONNX Runtime's choice).
      root_depth_mm: per part, mm, for skeletons without bone lengths (as the Predictor's).

    Raises:
      ImportError: onnxruntime is not installed.
      ValueError: the file is not a c2f ONNX export (naming it).
    """

    def __init__(self, path, *, providers=None, threads: int | None = None, root_depth_mm=None):
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise ImportError("OnnxPredictor needs onnxruntime (requirements-deploy.txt)") from e
        self.path = pathlib.Path(path)
        with open(self.path, "rb") as fh:
            if fh.read(4) == ZIP_MAGIC:
                raise ValueError(f"{self.path}: a StableHLO artifact (zip), not an ONNX model; "
                                 "run it with c2f.serving.deploy.StableHLOPredictor")  # fmt: skip
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(
                str(self.path), options, providers=providers or ["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime raises its own exception types
            raise ValueError(f"{self.path}: not a loadable ONNX model ({e})") from e
        meta = self.session.get_modelmeta().custom_metadata_map.get("c2f")
        if meta is None:
            raise ValueError(f"{self.path}: an ONNX model, but not a c2f export (no 'c2f' "
                             "metadata)")  # fmt: skip
        self.meta = json.loads(meta)
        self.input_res, self.output_res = self.meta["input_res"], self.meta["output_res"]
        self.skeleton, self.root_depth_mm = runtime_skeleton(self.meta, root_depth_mm, self.path)
        self.max_bucket = 1 << 30

    def _bucket(self, n: int) -> int:
        return n

    def _infer(self, batch: dict, size: int) -> dict:
        feeds = {k: np.ascontiguousarray(batch[k]) for k in self.meta["inputs"]}
        return dict(zip(OUTPUTS, self.session.run(list(OUTPUTS), feeds)))
