"""Runtimes for exported predictors (``c2f export``), with the Predictor's call.

    from c2f.serving.deploy import load
    p = load("paper.stablehlo")      # or "paper.onnx"
    out = p(images, boxes=boxes, K=K)  # as c2f.Predictor: joints_2d, joints_3d, ...

* :class:`StableHLOPredictor` (``c2f.serving.deploy.stablehlo``) needs jax and numpy only: no flax,
  optax, orbax, nor the network's code.
* :class:`OnnxPredictor` (``c2f.serving.deploy.onnx``) needs onnxruntime and numpy only: not even
  jax.

Both crop on the host exactly as the Predictor does (:mod:`c2f.serving.person_crop`).
"""

import pathlib

ZIP_MAGIC = b"PK\x03\x04"


def load(path, **kwargs):
    """The runtime for an exported file, chosen by its content (a zip is a StableHLO artifact).

    Raises:
      FileNotFoundError: no such file.
      ValueError: the file is neither (naming it).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with open(path, "rb") as fh:
        head = fh.read(4)
    # Each runtime is imported only when used: the StableHLO one needs jax, and the ONNX one
    # must run where jax is not installed (tests/test_deploy.py asserts that).
    if head == ZIP_MAGIC:
        from c2f.serving.deploy.stablehlo import StableHLOPredictor

        return StableHLOPredictor(path, **kwargs)
    from c2f.serving.deploy.onnx import OnnxPredictor

    return OnnxPredictor(path, **kwargs)


def __getattr__(name):
    if name == "StableHLOPredictor":
        from c2f.serving.deploy.stablehlo import StableHLOPredictor

        return StableHLOPredictor
    if name == "OnnxPredictor":
        from c2f.serving.deploy.onnx import OnnxPredictor

        return OnnxPredictor
    raise AttributeError(f"module 'c2f.serving.deploy' has no attribute {name!r}")
