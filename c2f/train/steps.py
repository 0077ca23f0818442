"""The one ``train_step``, shared by train.py, the benchmarks and the tests.

(The evaluation step is the inference function, :class:`c2f.inference.Inference`, shared with
the Predictor and the pictures.) Built for a static graph and jitted on the split state.
Images travel as uint8 and become floats in [0, 1] on the device; Gaussian targets are built
on the device from joint coordinates (:func:`c2f.losses.stage_losses`).
"""

import jax
import jax.numpy as jnp
from flax import nnx

from c2f.config import Config
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


def make_train_step(cfg: Config, graphdef):
    """``train_step(state, batch) -> (state, metrics)``, jitted, the state donated.

    ``batch`` needs ``image`` (uint8), ``coords`` and ``mask`` (:class:`c2f.data.Loader`);
    with ``mask_xy``, 2D-only joints are supervised in x and y (:mod:`c2f.losses`).
    ``metrics``: ``loss``, per-stage parts, ``grad_norm``, ``finite`` (all of loss and grads).
    """

    def train_step(state, batch):
        model, optimizer = nnx.merge(graphdef, state)

        def loss_fn(model):
            volumes = model(batch_images(batch, cfg.model.input_res))
            return stage_losses(volumes, batch["coords"], batch["mask"], cfg.loss, cfg.targets,
                                mask_xy=batch.get("mask_xy"))  # fmt: skip

        (loss, parts), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
        grad_norm = global_norm(grads)
        optimizer.update(model, grads)
        _, new_state = nnx.split((model, optimizer))
        finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
        return new_state, {"loss": loss, "grad_norm": grad_norm, "finite": finite, **parts}

    return jax.jit(train_step, donate_argnums=0)
