"""The jitted predictor: images in, 2D and 3D joints out.

    from c2f import Predictor
    p = Predictor.from_checkpoint("runs/demo")
    out = p(images)                       # uint8 [B, H, W, 3] or one [H, W, 3]
    out = p(images, boxes=boxes, K=K)     # person boxes [B, 4] (x0, y0, x1, y1) px; K [B, 3, 3]

Outputs and crops: :class:`c2f.serving.person_crop.BoxPredictor` (shared with the deployment
runtimes of :mod:`c2f.serving.deploy`). Each call crops on the host and runs one jitted function on
a batch padded to the next bucket size (1, 2, 4, 8, ...), so it compiles once per bucket, not once
per batch size.
"""

import dataclasses

import jax
import numpy as np
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from c2f.checkpoint import load_model
from c2f.inference import Inference
from c2f.model import abstract_model
from c2f.serving.mesh import MeshFitter, MeshResult
from c2f.serving.person_crop import NOMINAL_FOCAL_PER_PX, BoxPredictor, check_root_depth
from c2f.sharding import make_mesh

__all__ = ["NOMINAL_FOCAL_PER_PX", "Predictor"]


class Predictor(BoxPredictor):
    """A trained model wrapped for inference (see the module docstring).

    Args:
      cfg: the run's configuration.
      graphdef, state: the model in evaluation mode (:func:`c2f.checkpoint.load_model`).
      flip: flip test: True or "coords" averages the decoded coordinates with the mirrored
        crop's, "volumes" the volumes (the authors'), False/"none" no flip test.
      decode: "soft", "hard" or "argmax" (default: the run's); anything else is an error.
      max_bucket: the largest padded batch; larger inputs run in chunks.
      compute_dtype: run the network in "bfloat16" or "float32" whatever the run trained in
        (parameters stay float32; the soft-argmax accumulates in float32). bfloat16 is for
        GPUs; see BENCHMARKS.md for its agreement with float32.
      root_depth_mm: the root's depth, mm (one per part for a skeleton of several parts), for
        skeletons without mean bone lengths (hands): ``joints_3d_camera`` is then at that
        depth. None recovers it from the skeleton's bone lengths, which it must have.

    Attributes:
      skeleton: the run's keypoint set (``cfg.model.keypoints``): the order of every output.
    """

    def __init__(self, cfg, graphdef, state, *, flip: bool | str = False, decode: str | None = None,
                 max_bucket: int = 64, compute_dtype: str | None = None,
                 root_depth_mm=None):  # fmt: skip
        self.skeleton = cfg.model.keypoints
        self.root_depth_mm = check_root_depth(root_depth_mm, self.skeleton)

        if isinstance(max_bucket, bool) or not isinstance(max_bucket, int) or max_bucket < 1:
            raise ValueError(f"max_bucket: a positive int, got {max_bucket!r}")
        if compute_dtype not in (None, "float32", "bfloat16"):
            raise ValueError(f"compute_dtype: 'float32' or 'bfloat16', got {compute_dtype!r}")
        if compute_dtype and compute_dtype != cfg.model.compute_dtype:
            cfg, graphdef = _with_dtype(cfg, compute_dtype)
        self.cfg = cfg
        self.input_res, self.output_res = cfg.model.input_res, cfg.model.output_res
        self.inference = Inference(cfg, graphdef, state, decode=decode or cfg.train.decode,
                                   flip=flip)  # fmt: skip
        self.flip, self.how = self.inference.flip, self.inference.decode
        self.max_bucket = max_bucket

        self.mesh = make_mesh()
        self._body_fit = None  # the body fit, made on the first fit_mesh
        self._shardings = (NamedSharding(self.mesh, P("data")), NamedSharding(self.mesh, P()))

    @property
    def traces(self) -> int:
        """Compilations of the inference function so far (one per bucket size)."""
        return self.inference.traces

    @classmethod
    def from_checkpoint(cls, workdir, step: int | None = None, which: str = "last", **kwargs):
        """Load a train.py workdir's checkpoint (latest, a ``step``, or ``which="best"``).

        The model is built from the config saved in that checkpoint.
        """
        if which not in ("last", "best"):
            raise ValueError(f"which: 'last' or 'best', got {which!r}")
        if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
            raise ValueError(f"step: a non-negative int or None, got {step!r}")
        cfg, graphdef, state, _ = load_model(workdir, step=step, which=which)
        return cls(cfg, graphdef, state, **kwargs)

    def fit_mesh(self, joints_3d_camera, joints_2d=None, K=None) -> MeshResult:
        """Body meshes for predicted joints: the body model fitted to them (c2f.serving.mesh).

        Args:
          joints_3d_camera: [N, J, 3] camera-frame joints, mm (a call's ``joints_3d_camera``).
          joints_2d: optional [N, J, 2] px (a call's ``joints_2d``), with ``K``.
          K: optional [N, 3, 3] or [3, 3] intrinsics: the mesh then also lines up with the
            image.

        Returns:
          :class:`c2f.serving.mesh.MeshResult`: vertices [N, 17346, 3] camera mm, faces, the
          fitted phenotype, pose and root, and each fit's mean joint distance (mm).
        """
        joints = np.asarray(joints_3d_camera, np.float32)
        single = joints.ndim == 2
        joints = joints[None] if single else joints
        if K is not None:
            K = np.broadcast_to(np.asarray(K, np.float32), (len(joints), 3, 3))
            joints_2d = np.asarray(joints_2d, np.float32).reshape(len(joints), -1, 2)
        return self.body_fitter(joints, joints_2d if K is not None else None, K)

    @property
    def body_fitter(self) -> MeshFitter:
        """The body fit of :meth:`fit_mesh` (made on first use: it compiles)."""
        if self._body_fit is None:
            self._body_fit = MeshFitter(self.skeleton.name)
        return self._body_fit

    def _place(self, batch: dict, size: int) -> dict:
        """A batch on the devices, placed as evaluation places its batches.

        jit traces numpy inputs and mesh-placed arrays separately; placed alike, the Predictor
        and evaluation share one compilation. Split over the mesh when the bucket divides,
        else replicated.
        """
        split, replicated = self._shardings
        return jax.device_put(batch, split if size % self.mesh.size == 0 else replicated)

    def _infer(self, batch: dict, size: int) -> dict:
        return self.inference(self._place(batch, size))


def _with_dtype(cfg, compute_dtype: str):
    """(cfg, graphdef) of the evaluation-mode model computing in ``compute_dtype``."""
    model_cfg = dataclasses.replace(cfg.model, compute_dtype=compute_dtype)
    model = abstract_model(model_cfg)
    model.eval()
    return dataclasses.replace(cfg, model=model_cfg), nnx.graphdef(model)
