"""The jitted predictor: images in, 2D and 3D joints out.

    from c2f import Predictor
    p = Predictor.from_checkpoint("runs/demo")
    out = p(images)                       # uint8 [B, H, W, 3] or one [H, W, 3]
    out = p(images, boxes=boxes, K=K)     # person boxes [B, 4] (x0, y0, x1, y1) px; K [B, 3, 3]

Outputs (numpy): ``joints_2d`` [B, 17, 2] px in the input images; ``joints_3d`` [B, 17, 3]
root-relative joints in mm in the camera's orientation; with ``K``, also ``joints_3d_camera``
[B, 17, 3], camera-frame joints in mm with the root depth recovered from bone lengths. Without
``K`` the metric scale of x and y assumes a Human3.6M-like camera (focal length 1.145 x the
image's longer side, principal point at the centre).

Each call crops on the host and runs one jitted function on a batch padded to the next bucket
size (1, 2, 4, 8, ...), so it compiles once per bucket, not once per batch size.
"""

import numpy as np

from c2f.data.augment import warp
from c2f.geometry.crop import BOX_MARGIN_PX, BOX_SIZE_PX, crop_matrix, invert_affine

NOMINAL_FOCAL_PER_PX = 1.145  # Human3.6M: f ~ 1145 px for 1000 px frames


class Predictor:
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
    """

    def __init__(self, cfg, graphdef, state, *, flip: bool | str = False, decode: str | None = None,
                 max_bucket: int = 64, compute_dtype: str | None = None):  # fmt: skip
        from c2f.inference import Inference

        if isinstance(max_bucket, bool) or not isinstance(max_bucket, int) or max_bucket < 1:
            raise ValueError(f"max_bucket: a positive int, got {max_bucket!r}")
        if compute_dtype not in (None, "float32", "bfloat16"):
            raise ValueError(f"compute_dtype: 'float32' or 'bfloat16', got {compute_dtype!r}")
        if compute_dtype and compute_dtype != cfg.model.compute_dtype:
            cfg, graphdef = _with_dtype(cfg, compute_dtype)
        self.cfg = cfg
        self.inference = Inference(cfg, graphdef, state, decode=decode or cfg.train.decode,
                                   flip=flip)  # fmt: skip
        self.flip, self.how = self.inference.flip, self.inference.decode
        self.max_bucket = max_bucket
        from jax.sharding import NamedSharding
        from jax.sharding import PartitionSpec as P

        from c2f.sharding import make_mesh

        self.mesh = make_mesh()
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
        from c2f.checkpoint import load_model

        if which not in ("last", "best"):
            raise ValueError(f"which: 'last' or 'best', got {which!r}")
        if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
            raise ValueError(f"step: a non-negative int or None, got {step!r}")
        cfg, graphdef, state, _ = load_model(workdir, step=step, which=which)
        return cls(cfg, graphdef, state, **kwargs)

    def _place(self, batch: dict, size: int) -> dict:
        """A batch on the devices, placed as evaluation places its batches.

        jit traces numpy inputs and mesh-placed arrays separately; placed alike, the Predictor
        and evaluation share one compilation. Split over the mesh when the bucket divides,
        else replicated.
        """
        import jax

        split, replicated = self._shardings
        return jax.device_put(batch, split if size % self.mesh.size == 0 else replicated)

    def _bucket(self, n: int) -> int:
        b = 1
        while b < n:
            b *= 2
        return min(b, self.max_bucket)

    def __call__(self, images, boxes=None, K=None) -> dict:
        """Predict joints; see the module docstring for inputs and outputs.

        Raises:
          ValueError: naming the argument, for a wrong dtype, shape, channel count, an empty
            batch, or a box that is empty or lies outside its image.
        """
        images, single = self._check_images(images)
        n, height, width = images.shape[:3]
        margin = BOX_MARGIN_PX if boxes is not None else 0.0  # the training boxes' margin
        boxes = self._check_boxes(boxes, n, width, height)
        Ks = self._check_K(K, n, width, height)
        res, out_res = self.cfg.model.input_res, self.cfg.model.output_res
        crops = np.empty((n, res, res, 3), np.uint8)
        hm_to_img = np.empty((n, 2, 3), np.float32)
        for i, (x0, y0, x1, y1) in enumerate(boxes):
            center = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
            scale = (max(x1 - x0, y1 - y0) + margin) / BOX_SIZE_PX
            crops[i] = warp(images[i], crop_matrix(center, scale, res), res)
            hm_to_img[i] = invert_affine(crop_matrix(center, scale, out_res))
        intrinsics = np.stack([Ks[:, 0, 0], Ks[:, 1, 1], Ks[:, 0, 2], Ks[:, 1, 2]], 1).astype(
            np.float32
        )
        outs = []
        for start in range(0, n, self.max_bucket):
            stop = min(start + self.max_bucket, n)
            size = self._bucket(stop - start)
            pad = np.r_[np.arange(start, stop), np.full(size - (stop - start), stop - 1)]
            batch = {
                "image": crops[pad], "hm_to_img": hm_to_img[pad], "intrinsics": intrinsics[pad],
                "distortion": np.zeros((size, 5), np.float32),
            }  # fmt: skip
            result = self.inference(self._place(batch, size))
            outs.append(
                [np.asarray(result[k])[: stop - start] for k in ("uv", "pred_mm", "joints_mm")]
            )
        uv, rel, cam = (np.concatenate(parts) for parts in zip(*outs))
        result = {"joints_2d": uv, "joints_3d": rel}
        if K is not None:
            result["joints_3d_camera"] = cam
        return {k: v[0] for k, v in result.items()} if single else result

    @staticmethod
    def _check_images(images):
        if not isinstance(images, np.ndarray):
            raise ValueError(f"images: expected a numpy uint8 array, got {type(images).__name__}")
        if images.dtype != np.uint8:
            raise ValueError(f"images: expected dtype uint8, got {images.dtype}")
        single = images.ndim == 3
        if single:
            images = images[None]
        if images.ndim != 4:
            raise ValueError(
                f"images: expected [B, H, W, 3] or [H, W, 3], got shape {images.shape}"
            )
        if images.shape[-1] != 3:
            raise ValueError(f"images: expected 3 (RGB) channels, got {images.shape[-1]}")
        if images.shape[0] == 0:
            raise ValueError("images: empty batch")
        if min(images.shape[1:3]) < 8:
            raise ValueError(f"images: {images.shape[1]}x{images.shape[2]} px is too small")
        return images, single

    @staticmethod
    def _check_boxes(boxes, n, width, height):
        if boxes is None:
            return [(-0.5, -0.5, width - 0.5, height - 0.5)] * n
        boxes = np.asarray(boxes, np.float64)
        if boxes.shape == (4,):
            boxes = boxes[None]
        if boxes.shape != (n, 4):
            raise ValueError(f"boxes: expected [{n}, 4] (x0, y0, x1, y1), got shape {boxes.shape}")
        if not np.all(np.isfinite(boxes)):
            raise ValueError("boxes: contains NaN or Inf")
        for i, (x0, y0, x1, y1) in enumerate(boxes):
            if x1 <= x0 or y1 <= y0:
                raise ValueError(f"boxes: box {i} is empty ({x0}, {y0}, {x1}, {y1})")
            if x1 < 0 or y1 < 0 or x0 > width - 1 or y0 > height - 1:
                raise ValueError(f"boxes: box {i} lies outside its {width}x{height} image")
        return [tuple(b) for b in boxes]

    @staticmethod
    def _check_K(K, n, width, height):
        if K is None:
            f = NOMINAL_FOCAL_PER_PX * max(width, height)
            nominal = np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1]])
            return np.repeat(nominal[None], n, axis=0)
        K = np.asarray(K, np.float64)
        if K.shape == (3, 3):
            K = np.repeat(K[None], n, axis=0)
        if K.shape != (n, 3, 3):
            raise ValueError(f"K: expected [3, 3] or [{n}, 3, 3], got shape {K.shape}")
        if not np.all(np.isfinite(K)):
            raise ValueError("K: contains NaN or Inf")
        focal = K[:, [0, 1], [0, 1]]
        # A focal length outside (0.01, 100) x the image's side is no camera: 1e30 gave NaN.
        side = max(width, height)
        if np.any(focal <= 0.01 * side) or np.any(focal >= 100 * side):
            raise ValueError(
                f"K: focal lengths {focal.min():.4g}..{focal.max():.4g} px are not plausible "
                f"for a {width}x{height} image (0.01 to 100 x its side)"
            )
        return K


def _with_dtype(cfg, compute_dtype: str):
    """(cfg, graphdef) of the evaluation-mode model computing in ``compute_dtype``."""
    import dataclasses

    from flax import nnx

    from c2f.model.summary import abstract_model

    model_cfg = dataclasses.replace(cfg.model, compute_dtype=compute_dtype)
    model = abstract_model(model_cfg)
    model.eval()
    return dataclasses.replace(cfg, model=model_cfg), nnx.graphdef(model)
