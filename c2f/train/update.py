"""The training step's images (both forms) and the one-program step's optimiser update.

The segmented step updates segment by segment (:mod:`c2f.train.segment_update`);
tests/test_staged.py checks that it equals :func:`apply_gradients` on the whole tree.
"""

import jax
import jax.numpy as jnp
from flax import nnx

from c2f.geometry.resample import augment_batch
from c2f.inference import to_float
from c2f.losses import stage_losses
from c2f.optim import global_norm


def batch_images(batch: dict, res: int):
    """The batch's images, [B, res, res, 3] float in [0, 1].

    The loader's ``image``, or its stored ``crop`` warped and coloured here
    (``data.augment_on="device"``, :mod:`c2f.geometry.resample`).
    """
    if "crop" in batch:
        return augment_batch(batch["crop"], batch["warp"], batch["colour"], res) * (1.0 / 255.0)
    return to_float(batch["image"])


def model_loss(model, batch: dict, cfg):
    """(loss, per-stage parts) of ``model`` on ``batch``: the objective of both step forms.

    ``cfg``: the :class:`c2f.config.Config` (model, loss and targets).
    """
    volumes = model(batch_images(batch, cfg.model.input_res))
    return stage_losses(volumes, batch["coords"], batch["mask"], cfg.loss, cfg.targets,
                        mask_xy=batch.get("mask_xy"))  # fmt: skip


def make_gradients_one_program(graphdef, cfg):
    """``gradients(state, batch) -> ((loss, parts), grads, BatchNorm averages)``, one program.

    The reference the segmented form is checked against (tests/test_staged.py,
    ``bench.staged``, ``bench.bf16_gradients``); ``graphdef`` and ``state``: the split (model,
    optimizer) pair.
    """

    @jax.jit
    def gradients(state, batch):
        model, _ = nnx.merge(graphdef, state)
        loss, grads = nnx.value_and_grad(model_loss, has_aux=True)(model, batch, cfg)
        return loss, grads, nnx.state(model, nnx.BatchStat)

    return gradients


def apply_gradients(model, optimizer, grads, loss, parts: dict):
    """One optimiser step in place; the step's metrics.

    ``metrics``: ``loss``, the per-stage ``parts``, ``grad_norm``, ``finite`` (all of loss
    and grads).
    """
    grad_norm = global_norm(grads)
    optimizer.update(model, grads)
    finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
    return {"loss": loss, "grad_norm": grad_norm, "finite": finite, **parts}
