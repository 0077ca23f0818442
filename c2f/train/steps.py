"""The one ``train_step`` and the one ``eval_step``, shared by train.py, eval.py and the tests.

Both are built for a static graph and jitted on the split state. Images travel as uint8 and
become floats in [0, 1] on the device; Gaussian targets are built on the device from joint
coordinates (:func:`c2f.losses.stage_losses`).
"""

import jax
import jax.numpy as jnp
from flax import nnx

from c2f import metrics
from c2f.config import Config
from c2f.losses import stage_losses
from c2f.protocols import check_decode
from c2f.reconstruct import reconstruct
from c2f.skeleton import FLIP_PERMUTATION, ROOT
from c2f.volume import hard_argmax_3d, soft_argmax_3d


def to_float(images):
    """uint8 [B, H, W, 3] -> float32 in [0, 1]."""
    return images.astype(jnp.float32) * (1.0 / 255.0)


def make_train_step(cfg: Config, graphdef):
    """``train_step(state, batch) -> (state, metrics)``, jitted, the state donated.

    ``batch`` needs ``image`` (uint8), ``coords`` and ``mask`` (:class:`c2f.data.Loader`).
    ``metrics``: ``loss``, per-stage parts, ``grad_norm``, ``finite`` (all of loss and grads).
    """

    def train_step(state, batch):
        model, optimizer = nnx.merge(graphdef, state)

        def loss_fn(model):
            volumes = model(to_float(batch["image"]))
            return stage_losses(volumes, batch["coords"], batch["mask"], cfg.loss, cfg.targets)

        (loss, parts), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
        grad_norm = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in jax.tree.leaves(grads)))
        optimizer.update(model, grads)
        _, new_state = nnx.split((model, optimizer))
        finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
        return new_state, {"loss": loss, "grad_norm": grad_norm, "finite": finite, **parts}

    return jax.jit(train_step, donate_argnums=0)


def decode(volume, how: str):
    """[B, J, D, H, W] -> [B, J, 3] voxel coordinates.

    ``how``: "soft" (soft-argmax), "hard" (argmax refined by a parabola, sub-voxel) or
    "argmax" (the paper's: the highest voxel's centre).
    """
    check_decode(how)
    if how == "soft":
        return soft_argmax_3d(volume)
    return hard_argmax_3d(volume, refine=how == "hard")


def unflip(coords, width: int):
    """Coordinates predicted on a mirrored image, mapped back (x mirrored, sides swapped)."""
    coords = coords[:, jnp.array(FLIP_PERMUTATION)]
    return coords.at[..., 0].set(width - 1 - coords[..., 0])


def unflip_volume(volume):
    """[B, J, D, H, W] predicted on a mirrored image, mapped back (W reversed, sides swapped).

    The authors' flip test (c2f-vol-demo ``main.lua``: ``flip(shuffleLR(x))``).
    """
    return volume[:, jnp.array(FLIP_PERMUTATION), :, :, ::-1]


FLIPS = ("none", "coords", "volumes")


def _flip_mode(flip) -> str:
    if flip is True or flip is False:  # the boolean of earlier releases: average coordinates
        return "coords" if flip else "none"
    if flip not in FLIPS:
        raise ValueError(f"flip: one of {FLIPS}, got {flip!r}")
    return flip


def make_eval_step(
    cfg: Config, graphdef, *, how: str = "soft", flip: bool | str = False, root: str = "gt"
):
    """``eval_step(state, batch) -> outputs``, jitted; the model graph is in evaluation mode.

    Args:
      cfg: the experiment configuration.
      graphdef: the model's graph (from :func:`c2f.train.state.eval_graph`).
      how: "soft", "hard" or "argmax" decoding (:func:`decode`).
      flip: also predict on the mirrored image: "coords" averages the decoded coordinates,
        "volumes" the volumes before decoding (the authors'), "none" (or False) does not.
      root: "gt" (the ground-truth root depth) or "bones" (recovered from mean bone lengths).

    Returns outputs with ``coords`` [B, J, 3] (heatmap px, bins), ``uv`` [B, J, 2] original
    px, ``pred_mm`` [B, J, 3] root-relative camera-frame mm, ``mpjpe`` and ``pa_mpjpe`` [B].
    """
    if root not in ("gt", "bones"):
        raise ValueError(f"root: 'gt' or 'bones', got {root!r}")
    check_decode(how)
    flip = _flip_mode(flip)

    def eval_step(state, batch):
        model = nnx.merge(graphdef, state)
        images = to_float(batch["image"])
        volume = model(images)[-1]
        if flip == "volumes":
            mirrored = unflip_volume(model(images[:, :, ::-1])[-1])
            volume = 0.5 * (volume.astype(jnp.float32) + mirrored.astype(jnp.float32))
        coords = decode(volume, how)
        if flip == "coords":
            mirrored = decode(model(images[:, :, ::-1])[-1], how)
            coords = 0.5 * (coords + unflip(mirrored, cfg.model.output_res))
        root_depth = batch["root_depth_mm"] if root == "gt" else None

        def one(c, a, k, d, r):
            return reconstruct(c, a, k, d, cfg.depth_bins, r)

        in_axes = (0, 0, 0, 0, 0 if root == "gt" else None)
        joints, uv = jax.vmap(one, in_axes)(
            coords, batch["hm_to_img"], batch["intrinsics"], batch["distortion"], root_depth
        )
        pred = joints - joints[:, ROOT : ROOT + 1]
        gt = batch["joints_rel_mm"]
        return {
            "coords": coords,
            "uv": uv,
            "pred_mm": pred,
            "mpjpe": metrics.mpjpe(pred, gt),
            "pa_mpjpe": metrics.pa_mpjpe(pred, gt),
        }

    return jax.jit(eval_step)
