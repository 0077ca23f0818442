"""Training losses on the per-stage volumes.

* Voxel MSE (the paper): each stage's volume regresses a Gaussian target at that stage's own
  depth resolution, built on the device from the joint coordinates (never shipped as a dense
  volume). Mean over voxels, then over valid joints.
* Integral L1 (Sun et al. 2018): L1 distance between the stage's soft-argmax and the true
  coordinates, in voxels of the finest grid, mean over the three axes and valid joints.

Both take coordinates in voxel units of the FINEST volume (x, y heatmap px; z depth-bin
coordinate at ``depths[-1]`` bins, :mod:`c2f.volume` convention) and a per-joint validity mask.

Joints known in 2D only (MPII, COCO; ``mask_xy``) are supervised in x and y only, so that
nothing pulls their depth anywhere:

* integral L1: the mean of the x and y errors of the 3D soft-argmax (Sun et al.'s 2D term);
* voxel MSE: the depth-averaged volume against the depth-averaged target, a 2D heatmap MSE.
  Such a joint's coordinates carry the middle depth bin (a 2D sample's placeholder joints sit
  at the root), so its 3D target is the Gaussian there and its depth average the 2D Gaussian
  times the mean of the depth profile. Averaging (not summing) over depth makes the 2D term
  equal to the 3D one whenever the error is the same at every depth, so a 2D joint weighs as
  much as a 3D joint. Its gradient is the same at every depth of a pixel column: moving
  activation along depth changes nothing.

Both terms enter the per-example mean over joints with weight one per supervised joint.
Joints outside the volume are masked out in addition to the given mask (a depth beyond the
+-1 m range has no voxel to put its target in), except with the authors' targets: their Lua
draws whatever part of the Gaussian falls inside (clipping the depth bin) and trains an absent
one towards zero, for every annotated joint.
"""

import dataclasses
import typing

import jax
import jax.numpy as jnp

from c2f import grid
from c2f.checks import check_array
from c2f.volume.authors_target import authors_target
from c2f.volume.soft_argmax import soft_argmax_3d
from c2f.volume.targets import TargetConfig, gaussian_target, target_sigmas


@dataclasses.dataclass(frozen=True)
class LossConfig:
    """Mix of the two losses and per-stage weights.

    Attributes:
      mse_weight: weight of the voxel MSE (1 in the paper's recipe).
      l1_weight: weight of the integral L1 (1 and ``mse_weight=0`` for the integral recipe).
      stage_weights: one weight per stage; empty means 1 for every stage.
      softmax_beta: inverse temperature of the soft-argmax used by the L1 term.
    """

    mse_weight: float = 1.0
    l1_weight: float = 0.0
    stage_weights: tuple[float, ...] = ()
    softmax_beta: float = 1.0

    def weights(self) -> dict:
        """``{term: weight}`` for every term of :data:`LOSS_TERMS` (field ``<term>_weight``)."""
        return {name: getattr(self, f"{name}_weight") for name in LOSS_TERMS}

    def __post_init__(self):
        weights = self.weights()
        if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            fields = " and ".join(f"{name}_weight" for name in weights)
            raise ValueError(
                f"LossConfig: {fields} must be >= 0 and not all 0, got "
                + ", ".join(str(w) for w in weights.values())
            )
        if any(w < 0 for w in self.stage_weights):
            raise ValueError(f"LossConfig.stage_weights: must be >= 0, got {self.stage_weights}")


def inside_volume(coords, shape):
    """[J] bool: coordinates [J, 3] (x, y, z) lie within a (D, H, W) volume's extent."""
    depth, height, width = shape
    upper = jnp.array([width, height, depth], jnp.float32) - 0.5
    return jnp.all((coords >= -0.5) & (coords <= upper), axis=-1)


def _masked_mean(per_joint, mask):
    mask = mask.astype(jnp.float32)
    return jnp.sum(per_joint * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def stage_target(coords, shape, finest: int, target_cfg: TargetConfig):
    """[J, D, H, W] target of one example for a stage of ``shape`` (D, H, W).

    ``coords`` [J, 3] are in voxel units of the FINEST volume (``finest`` depth bins).
    """
    depth = shape[0]
    if target_cfg.mode == "authors":
        return authors_target(coords, shape, finest, int(target_cfg.sigma_xy))
    stage_coords = coords.at[..., 2].set(grid.rescale(coords[..., 2], finest, depth))
    return gaussian_target(stage_coords, shape, target_sigmas(depth, finest, target_cfg))


def _mixed_mean(err_3d, mask, err_xy, mask_xy):
    """Mean over the joints supervised in 3D (``mask``) or in x, y only (``mask_xy``)."""
    if mask_xy is None:
        return _masked_mean(err_3d, mask)
    m3 = mask > 0
    m2 = ((mask_xy > 0) & ~m3).astype(jnp.float32)
    m3 = m3.astype(jnp.float32)
    total = jnp.sum(err_3d * m3) + jnp.sum(err_xy * m2)
    return total / jnp.maximum(jnp.sum(m3) + jnp.sum(m2), 1.0)


def voxel_mse(volume, target, mask, mask_xy=None):
    """Voxel MSE of one example's volume against its target.

    Args:
      volume: [J, D, H, W] predicted volume.
      target: [J, D, H, W] target (:func:`stage_target`).
      mask: [J] bool or 0/1 validity.
      mask_xy: [J] joints supervised in x and y only (their depth-averaged volume against the
        depth-averaged target; module docstring), or None.

    Returns:
      scalar float32 loss: mean over voxels, then over valid joints.
    """
    volume = volume.astype(jnp.float32)
    err = jnp.mean((volume - target) ** 2, axis=(1, 2, 3))
    err_xy = None
    if mask_xy is not None:
        err_xy = jnp.mean((jnp.mean(volume, axis=1) - jnp.mean(target, axis=1)) ** 2, axis=(1, 2))
    return _mixed_mean(err, mask, err_xy, mask_xy)


def integral_l1(volume, coords, mask, beta: float = 1.0, unit=(1.0, 1.0, 1.0), mask_xy=None):
    """Integral-regression L1 of one example's volume.

    Args:
      volume: [J, D, H, W] logits.
      coords: [J, 3] (x, y, z) in voxel units of THIS volume.
      mask: [J] validity.
      beta: soft-argmax inverse temperature.
      unit: per-axis factor applied to the error (e.g. to express it in finest-grid voxels).
      mask_xy: [J] joints supervised in x and y only (mean of those two errors), or None.

    Returns:
      scalar float32 loss.
    """
    pred = soft_argmax_3d(volume, beta)
    err = jnp.abs(pred - coords) * jnp.asarray(unit, jnp.float32)
    return _mixed_mean(jnp.mean(err, axis=-1), mask, jnp.mean(err[:, :2], axis=-1), mask_xy)


class _Stage(typing.NamedTuple):
    """What every loss term of one stage reads (shapes as in :func:`stage_losses`)."""

    coords: jax.Array  # [B, J, 3] finest-volume voxels
    stage_coords: jax.Array  # [B, J, 3] this stage's voxels
    inside: jax.Array  # [B, J] valid and inside this stage's volume
    mask: jax.Array  # [B, J]
    mask_xy: jax.Array | None  # [B, J] or None
    shape: tuple  # (D, H, W) of this stage
    finest: int  # depth bins of the finest stage
    depth: int  # depth bins of this stage


def _mse_term(volume, stage: _Stage, loss_cfg, target_cfg):
    valid = (stage.mask > 0) if target_cfg.mode == "authors" else stage.inside
    target = jax.vmap(stage_target, (0, None, None, None))(
        stage.coords, stage.shape, stage.finest, target_cfg
    )
    return jnp.mean(jax.vmap(voxel_mse)(volume, target, valid, stage.mask_xy))


def _l1_term(volume, stage: _Stage, loss_cfg, target_cfg):
    unit = (1.0, 1.0, stage.finest / stage.depth)
    l1 = jax.vmap(integral_l1, (0, 0, 0, None, None, 0))(
        volume, stage.stage_coords, stage.inside, loss_cfg.softmax_beta, unit, stage.mask_xy
    )
    return jnp.mean(l1)


# The loss terms, an extension point: name -> (stage loss, description). A term ``name`` is
# weighted by ``LossConfig.<name>_weight``; its per-stage value is logged as ``stage{k}/<name>``.
LOSS_TERMS = {
    "mse": (_mse_term, "voxel MSE against on-device Gaussian targets (the paper)"),
    "l1": (_l1_term, "integral L1 of the soft-argmax (Sun et al. 2018)"),
}


def stage_losses(volumes, coords, mask, loss_cfg: LossConfig, target_cfg: TargetConfig,
                 mask_xy=None):  # fmt: skip
    """Total training loss over the batch and its per-stage parts.

    Args:
      volumes: list over stages of [B, J, D_k, H, W] volumes.
      coords: [B, J, 3] coordinates in voxel units of the finest volume.
      mask: [B, J] validity (bool or 0/1).
      mask_xy: [B, J] joints supervised in x and y only (known in 2D alone), or None.
      loss_cfg: loss mix and stage weights.
      target_cfg: Gaussian target widths.

    Returns:
      (total, parts): scalar loss and a dict ``{"stage{k}/mse", "stage{k}/l1"}`` of scalars
      (batch means, unweighted).
    """
    if not volumes:
        raise ValueError("volumes: expected at least one stage")
    batch, joints = volumes[0].shape[:2]
    coords = check_array("coords", coords, (batch, joints, 3))
    mask = check_array("mask", mask, (batch, joints), kind="mask")
    if mask_xy is not None:
        mask_xy = check_array("mask_xy", mask_xy, (batch, joints), kind="mask")
    finest = volumes[-1].shape[2]
    weights = loss_cfg.stage_weights or (1.0,) * len(volumes)
    if len(weights) != len(volumes):
        raise ValueError(f"stage_weights: {len(weights)} weights for {len(volumes)} stages")
    coords = jnp.asarray(coords, jnp.float32)
    total = jnp.zeros((), jnp.float32)
    parts = {}
    for k, (volume, weight) in enumerate(zip(volumes, weights)):
        shape = volume.shape[2:]
        depth = shape[0]
        stage_coords = coords.at[..., 2].set(grid.rescale(coords[..., 2], finest, depth))
        inside = jax.vmap(inside_volume, (0, None))(stage_coords, shape) & (mask > 0)
        stage = _Stage(coords, stage_coords, inside, mask, mask_xy, shape, finest, depth)
        for name, (term, _) in LOSS_TERMS.items():
            term_weight = getattr(loss_cfg, f"{name}_weight")
            if term_weight > 0:
                value = term(volume, stage, loss_cfg, target_cfg)
                parts[f"stage{k}/{name}"] = value
                total = total + weight * term_weight * value
    return total, parts
