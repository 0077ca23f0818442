"""Person crops for inference, on the host: images, boxes and cameras in, network inputs out.

Shared by :class:`c2f.Predictor` and the deployment runtimes (:mod:`c2f.serving.deploy`), so that
all of them feed the network the same pixels. numpy only: no jax, no PIL (the ONNX runtime
needs nothing else). :class:`BoxPredictor` holds the call signature common to all of them.

A box ``(x0, y0, x1, y1)`` in image px becomes the authors' crop: centre the box's centre,
side ``max(w, h) + 40`` px (their annotations' margin), resampled bilinearly to ``res x res``
(:func:`c2f.geometry.crop.crop_matrix` conventions). Without a box the whole image is the
crop, without margin.
"""

import json

import numpy as np

from c2f.geometry.crop import BOX_MARGIN_PX, BOX_SIZE_PX, crop_matrix, invert_affine
from c2f.skeleton import H36M17, Skeleton

NOMINAL_FOCAL_PER_PX = 1.145  # Human3.6M: f ~ 1145 px for 1000 px frames
OUTPUTS = ("uv", "pred_mm", "joints_mm")  # what an inference backend returns per crop
# What the jax backend (c2f.serving.Predictor) returns besides; the temporal model reads them.
OPTIONAL_OUTPUTS = ("coords", "confidence")
INPUT_SPECS = {  # name: (dtype, shape after the batch; R = the network's input side)
    "image": (np.uint8, ("R", "R", 3)),
    "hm_to_img": (np.float32, (2, 3)),
    "intrinsics": (np.float32, (4,)),
    "distortion": (np.float32, (5,)),
}


def warp_bilinear(image: np.ndarray, M: np.ndarray, res: int) -> np.ndarray:
    """Resample ``image`` [H, W, 3] uint8 into ``res x res`` through the affine map ``M``.

    ``M`` [2, 3] maps source px to output px (pixel centres at integers, :mod:`c2f.grid`).
    Bilinear; source pixels outside the image count as black. An identity
    map on an image that already is ``res x res`` returns a copy. Equals the training
    pipeline's PIL resampling (:func:`c2f.data.augment.warp`) away from the border up to
    rare one-level differences (tested).
    """
    h, w = image.shape[:2]
    if (h, w) == (res, res) and np.allclose(M, np.eye(3)[:2], atol=1e-9):
        return image.copy()
    inv = invert_affine(M)
    rows, cols = np.mgrid[0:res, 0:res].astype(np.float64)
    u = inv[0, 0] * cols + inv[0, 1] * rows + inv[0, 2]
    v = inv[1, 0] * cols + inv[1, 1] * rows + inv[1, 2]
    u0, v0 = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    fu, fv = (u - u0)[..., None], (v - v0)[..., None]
    out = np.zeros((res, res, image.shape[2]), np.float64)
    for du, dv, weight in ((0, 0, (1 - fu) * (1 - fv)), (1, 0, fu * (1 - fv)),
                           (0, 1, (1 - fu) * fv), (1, 1, fu * fv)):  # fmt: skip
        uu, vv = u0 + du, v0 + dv
        inside = (uu >= 0) & (uu < w) & (vv >= 0) & (vv < h)
        pixels = image[np.clip(vv, 0, h - 1), np.clip(uu, 0, w - 1)]
        out += np.where(inside[..., None], pixels * weight, 0.0)
    # Truncated as PIL's bilinear resampling does (measured: rounding made a third of the
    # pixels one level brighter than the training crops); 1e-6 absorbs float error.
    return np.clip(np.floor(out + 1e-6), 0, 255).astype(np.uint8)


def check_images(images):
    """(images [B, H, W, 3] uint8, single) of a batch or one image; ValueError naming images."""
    if not isinstance(images, np.ndarray):
        raise ValueError(f"images: expected a numpy uint8 array, got {type(images).__name__}")
    if images.dtype != np.uint8:
        raise ValueError(f"images: expected dtype uint8, got {images.dtype}")
    single = images.ndim == 3
    if single:
        images = images[None]
    if images.ndim != 4:
        raise ValueError(f"images: expected [B, H, W, 3] or [H, W, 3], got shape {images.shape}")
    if images.shape[-1] != 3:
        raise ValueError(f"images: expected 3 (RGB) channels, got {images.shape[-1]}")
    if images.shape[0] == 0:
        raise ValueError("images: empty batch")
    if min(images.shape[1:3]) < 8:
        raise ValueError(f"images: {images.shape[1]}x{images.shape[2]} px is too small")
    return images, single


def check_boxes(boxes, n: int, width: int, height: int) -> list:
    """Boxes as n tuples (x0, y0, x1, y1); the whole image when None."""
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


def nominal_K(width: int, height: int) -> np.ndarray:
    """[3, 3] intrinsics of a Human3.6M-like camera for an image whose own are unknown.

    Focal length 1.145 x the longer side, principal point at the centre.
    """
    f = NOMINAL_FOCAL_PER_PX * max(width, height)
    return np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1]])


def check_K(K, n: int, width: int, height: int) -> np.ndarray:
    """[n, 3, 3] intrinsics; a nominal Human3.6M-like camera when None."""
    if K is None:
        return np.repeat(nominal_K(width, height)[None], n, axis=0)
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
    if not np.allclose(K[:, 2], [0.0, 0.0, 1.0]) or np.any(K[:, 1, 0] != 0):
        raise ValueError(
            "K: not an intrinsics matrix (its last row must be [0, 0, 1] and K[1, 0] 0)"
        )
    centre = K[:, :2, 2]
    # The principal point lies in or near the image: within one image side of it.
    if np.any(centre < -side) or np.any(centre > side + np.array([width, height])):
        raise ValueError(
            f"K: principal point {centre.min():.4g}..{centre.max():.4g} px is not plausible for "
            f"a {width}x{height} image (more than one image side outside it)"
        )
    return K


def prepare(images, boxes, K, res: int, out_res: int):
    """(batch, single): the network inputs of a call, checked.

    ``batch``: ``image`` [B, res, res, 3] uint8, ``hm_to_img`` [B, 2, 3] (heatmap px ->
    image px), ``intrinsics`` [B, 4] (fx, fy, cx, cy), ``distortion`` [B, 5] zeros.
    """
    images, single = check_images(images)
    n, height, width = images.shape[:3]
    margin = BOX_MARGIN_PX if boxes is not None else 0.0
    boxes = check_boxes(boxes, n, width, height)
    Ks = check_K(K, n, width, height)
    crops = np.empty((n, res, res, 3), np.uint8)
    hm_to_img = np.empty((n, 2, 3), np.float32)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        center = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        scale = (max(x1 - x0, y1 - y0) + margin) / BOX_SIZE_PX
        crops[i] = warp_bilinear(images[i], crop_matrix(center, scale, res), res)
        hm_to_img[i] = invert_affine(crop_matrix(center, scale, out_res))
    intrinsics = np.stack([Ks[:, 0, 0], Ks[:, 1, 1], Ks[:, 0, 2], Ks[:, 1, 2]], 1)
    batch = {"image": crops, "hm_to_img": hm_to_img, "intrinsics": intrinsics.astype(np.float32),
             "distortion": np.zeros((n, 5), np.float32)}  # fmt: skip
    return batch, single


def check_crops(batch: dict, res: int) -> dict:
    """The network inputs of :func:`prepare`, checked: dtypes and shapes, one batch size.

    Raises:
      ValueError: naming the input and what it should be.
    """
    if not isinstance(batch, dict):
        raise ValueError(f"batch: expected a dict of {INPUT_SPECS}, got {type(batch).__name__}")
    n = None
    out = {}
    for name, (dtype, tail) in INPUT_SPECS.items():
        if name not in batch:
            raise ValueError(f"batch: no {name!r} (expected {sorted(INPUT_SPECS)})")
        value = np.asarray(batch[name])
        shape = tuple(res if d == "R" else d for d in tail)
        if value.dtype != dtype or value.ndim != len(shape) + 1 or value.shape[1:] != shape:
            want = ", ".join(map(str, ("B", *shape)))
            raise ValueError(f"{name}: expected {np.dtype(dtype).name} [{want}], got "
                             f"{value.dtype} {list(value.shape)}")  # fmt: skip
        if n is not None and len(value) != n:
            raise ValueError(f"{name}: {len(value)} rows, but image has {n}")
        n = len(value) if n is None else n
        out[name] = value
    if n == 0:
        raise ValueError("image: empty batch")
    if "root_depth_mm" in batch:  # optional: skeletons without bone lengths need it
        depth = np.asarray(batch["root_depth_mm"])
        if depth.dtype != np.float32 or depth.ndim not in (1, 2) or len(depth) != n:
            raise ValueError(f"root_depth_mm: expected float32 [B] or [B, P] with B = {n}, got "
                             f"{depth.dtype} {list(depth.shape)}")  # fmt: skip
        out["root_depth_mm"] = depth
    return out


def runtime_skeleton(meta: dict, root_depth_mm, where) -> tuple:
    """(skeleton, root depths) of an exported artifact's ``meta``, checked (deploy runtimes).

    Artifacts written before the skeleton was recorded are Human3.6M's 17 joints.
    """
    try:
        skeleton = (
            Skeleton.from_json(json.dumps(meta["skeleton"])) if "skeleton" in meta else H36M17
        )
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: the metadata's skeleton is not one ({e})") from e
    if "root_depth_mm" not in meta.get("inputs", ()):
        if root_depth_mm is not None:
            raise ValueError(f"root_depth_mm: {where} recovers the root depth from bone lengths")
        return skeleton, None
    return skeleton, check_root_depth(root_depth_mm, skeleton)


def check_root_depth(root_depth_mm, skeleton):
    """[P] float32 root depths (mm) for ``skeleton``'s P parts, or None; checked.

    Raises:
      ValueError: a depth is missing where the skeleton has no bone lengths to recover it
        from, or the count or values are wrong.
    """
    if root_depth_mm is None:
        if skeleton.bone_lengths_mm is None:
            raise ValueError(
                f"root_depth_mm: skeleton {skeleton.name!r} has no mean bone lengths to recover "
                "the root depth from; pass the root depth (mm)"
            )
        return None
    parts = len(skeleton.roots)
    depth = np.asarray(root_depth_mm, np.float32).reshape(-1)
    if depth.shape != (parts,) or not np.all(np.isfinite(depth)) or not np.all(depth > 0):
        raise ValueError(
            f"root_depth_mm: {parts} positive depth(s) in mm for skeleton {skeleton.name!r}, "
            f"got {depth.tolist()}"
        )
    return depth


class BoxPredictor:
    """The call every predictor shares: ``p(images, boxes=None, K=None)`` -> joints.

    Subclasses set ``input_res``, ``output_res``, ``max_bucket`` and implement
    :meth:`_infer`. Batches are padded to the next power of two up to ``max_bucket`` (one
    compilation per bucket where compilation happens) and run in chunks beyond it.

    Outputs (numpy; J joints in the order of the run's skeleton): ``joints_2d`` [B, J, 2] px in
    the input images; ``joints_3d`` [B, J, 3] root-relative joints in mm in the camera's
    orientation; with ``K`` also ``joints_3d_camera`` [B, J, 3], camera-frame mm with the root
    depth (``root_depth_mm`` when set, else) recovered from bone
    lengths. Without ``K`` the metric scale of x and y assumes a Human3.6M-like camera (focal
    length 1.145 x the image's longer side, principal point at the centre). The jax predictor
    (:class:`c2f.serving.Predictor`) also gives ``confidence`` [B, J] in [0, 1]
    (:mod:`c2f.volume.confidence`) and ``joints_2d_heatmap`` [B, J, 2], heatmap px of each
    crop: what a temporal model reads (:class:`c2f.serving.temporal.TemporalPredictor`).
    """

    input_res: int
    output_res: int
    max_bucket: int = 64
    root_depth_mm: np.ndarray | None = None  # [P] mm: fed to every crop when set

    def _with_root_depth(self, batch: dict) -> dict:
        if self.root_depth_mm is None or "root_depth_mm" in batch:
            return batch
        depth = self.root_depth_mm if len(self.root_depth_mm) > 1 else self.root_depth_mm[0]
        n = len(batch["image"])
        return {**batch, "root_depth_mm": np.broadcast_to(depth, (n, *np.shape(depth)))}

    def _infer(self, batch: dict, size: int) -> dict:
        """{``uv``, ``pred_mm``, ``joints_mm``} of a padded batch of ``size`` crops."""
        raise NotImplementedError

    def _bucket(self, n: int) -> int:
        b = 1
        while b < n:
            b *= 2
        return min(b, self.max_bucket)

    def run_crops(self, batch: dict) -> dict:
        """Joints of prepared crops (:func:`prepare`'s ``batch``): {uv, pred_mm, joints_mm}.

        Raises:
          ValueError: an input is missing or of the wrong dtype or shape (naming it).
        """
        batch = check_crops(self._with_root_depth(batch), self.input_res)
        n = len(batch["image"])
        outs = []
        for start in range(0, n, self.max_bucket):
            stop = min(start + self.max_bucket, n)
            size = self._bucket(stop - start)
            pad = np.r_[np.arange(start, stop), np.full(size - (stop - start), stop - 1)]
            result = self._infer({k: np.asarray(v)[pad] for k, v in batch.items()}, size)
            keys = OUTPUTS + tuple(k for k in OPTIONAL_OUTPUTS if k in result)
            outs.append({k: np.asarray(result[k])[: stop - start] for k in keys})
        return {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}

    def __call__(self, images, boxes=None, K=None) -> dict:
        """Predict joints (see the class docstring).

        Raises:
          ValueError: naming the argument, for a wrong dtype, shape, channel count, an empty
            batch, a box that is empty or outside its image, or implausible intrinsics.
        """
        batch, single = prepare(images, boxes, K, self.input_res, self.output_res)
        out = self.run_crops(batch)
        result = {"joints_2d": out["uv"], "joints_3d": out["pred_mm"]}
        if "confidence" in out:
            result["confidence"] = out["confidence"]
            result["joints_2d_heatmap"] = out["coords"][..., :2]
        if K is not None:
            result["joints_3d_camera"] = out["joints_mm"]
        return {k: v[0] for k, v in result.items()} if single else result
