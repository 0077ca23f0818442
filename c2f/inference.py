"""The one inference function: crops in, decoded and reconstructed joints out.

Everything that runs a trained model (the :class:`c2f.Predictor`, evaluation, pictures, the
training loop's periodic evaluation) calls an :class:`Inference`: decode, flip test and
reconstruction are written here once. Nothing in this module imports training code.

The jitted function takes the model state as a flat list of arrays (flattening an
``nnx.State`` of ~1,100 variables costs ~1.5 ms of Python per call; a list is flattened in C++)
and a batch dict:

* ``image`` uint8 [B, R, R, 3]: crops at the model's input resolution.
* ``hm_to_img`` [B, 2, 3]: affine from heatmap px to original-image px.
* ``intrinsics`` [B, 4] (fx, fy, cx, cy px) and ``distortion`` [B, 5] (Human3.6M's model).
* ``root_depth_mm`` [B] (optional; [B, P] for a skeleton of P > 1 parts): the root's true
  depth; without it the root depth is recovered from the skeleton's mean bone lengths. Its presence
  is part of the traced structure, so each of the two modes compiles once per batch shape.
"""

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from c2f.reconstruct import reconstruct
from c2f.volume import check_decode, decode
from c2f.volume.confidence import confidence

FLIPS = ("none", "coords", "volumes")
INPUTS = ("image", "hm_to_img", "intrinsics", "distortion", "root_depth_mm")


def to_float(images):
    """uint8 [B, H, W, 3] -> float32 in [0, 1]."""
    return images.astype(jnp.float32) * (1.0 / 255.0)


def unflip(coords, width: int, skeleton):
    """[B, J, 3] coordinates predicted on a mirrored image, mapped back.

    x is mirrored about the ``width`` px heatmap and the skeleton's left/right joints are
    swapped.
    """
    coords = coords[:, jnp.array(skeleton.flip_permutation)]
    return coords.at[..., 0].set(width - 1 - coords[..., 0])


def unflip_volume(volume, skeleton):
    """[B, J, D, H, W] predicted on a mirrored image, mapped back (W reversed, sides swapped).

    The authors' flip test (c2f-vol-demo ``main.lua``: ``flip(shuffleLR(x))``).
    """
    return volume[:, jnp.array(skeleton.flip_permutation), :, :, ::-1]


def flip_mode(flip) -> str:
    """A flip-test name from ``FLIPS``; True/False (earlier releases) mean "coords"/"none"."""
    if flip is True or flip is False or flip is None:
        return "coords" if flip else "none"
    if flip not in FLIPS:
        raise ValueError(f"flip: one of {FLIPS}, got {flip!r}")
    return flip


class Inference:
    """A model in evaluation mode and how to read it out, behind one jitted function.

    Args:
      cfg: the run's configuration (model resolutions, depth bins, the skeleton:
        ``cfg.model.keypoints``).
      graphdef: the model's graph in evaluation mode.
      state: its state (replace it with :meth:`set_state`; the compiled function stays).
      decode: "soft", "hard" or "argmax".
      flip: "none", "coords" (average the decoded coordinates with the mirrored crop's) or
        "volumes" (average the volumes before decoding: the authors').

    Attributes:
      traces: how many times the function was traced (once per batch shape and root mode).
    """

    def __init__(self, cfg, graphdef, state, *, decode: str = "soft", flip="none"):
        self.cfg, self.graphdef = cfg, graphdef
        self.decode, self.flip = check_decode(decode), flip_mode(flip)
        self.traces = 0
        self.set_state(state)
        self._fn = jax.jit(self._run)

    def set_state(self, state) -> None:
        """Use new weights of the same graph (no recompilation)."""
        self._leaves, self._treedef = jax.tree.flatten(state)

    def _run(self, leaves, batch):
        self.traces += 1  # runs once per compilation, not per call
        cfg, how, flip = self.cfg, self.decode, self.flip
        skeleton = cfg.model.keypoints
        model = nnx.merge(self.graphdef, jax.tree.unflatten(self._treedef, leaves))
        images = to_float(batch["image"])
        volume = model(images)[-1]
        if flip == "volumes":
            mirrored = unflip_volume(model(images[:, :, ::-1])[-1], skeleton)
            volume = 0.5 * (volume.astype(jnp.float32) + mirrored.astype(jnp.float32))
        coords = decode(volume, how)
        conf = confidence(volume, coords, how)  # of the unmirrored volume, as decoded
        if flip == "coords":
            mirrored = decode(model(images[:, :, ::-1])[-1], how)
            coords = 0.5 * (coords + unflip(mirrored, cfg.model.output_res, skeleton))
        root_depth = batch.get("root_depth_mm")

        def one(c, a, k, d, r):
            return reconstruct(c, a, k, d, cfg.depth_bins, skeleton, r)

        in_axes = (0, 0, 0, 0, None if root_depth is None else 0)
        joints, uv = jax.vmap(one, in_axes)(
            coords, batch["hm_to_img"], batch["intrinsics"], batch["distortion"], root_depth
        )
        return {
            "coords": coords,
            "uv": uv,
            "joints_mm": joints,
            "pred_mm": joints - joints[:, jnp.asarray(skeleton.root_of)],
            "confidence": conf,
        }

    def with_constant_weights(self):
        """The unjitted function ``batch -> outputs`` with the weights as host constants.

        For exporters (:mod:`c2f.serving.export`), which trace it once and keep the weights inside.
        """
        leaves = [np.asarray(x) for x in jax.device_get(self._leaves)]
        return lambda batch: self._run(leaves, batch)

    def __call__(self, batch: dict) -> dict:
        """Run on a batch (see the module docstring); extra keys are ignored.

        Returns device arrays: ``coords`` [B, J, 3] (heatmap px, bins of the finest volume),
        ``uv`` [B, J, 2] original-image px, ``joints_mm`` [B, J, 3] camera-frame mm and
        ``pred_mm`` [B, J, 3] root-relative mm, ``confidence`` [B, J] in [0, 1]
        (:mod:`c2f.volume.confidence`).
        """
        return self._fn(self._leaves, {k: batch[k] for k in INPUTS if k in batch})
