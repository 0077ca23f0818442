"""The training step's images (both forms) and the one-program step's optimiser update.

The segmented step updates segment by segment (:mod:`c2f.train.segment_update`);
tests/test_staged.py checks that it equals :func:`apply_gradients` on the whole tree.
"""

import jax.numpy as jnp

from c2f.geometry.resample import augment_batch
from c2f.inference import to_float
from c2f.optim import global_norm


def batch_images(batch: dict, res: int):
    """The batch's images, [B, res, res, 3] float in [0, 1].

    The loader's ``image``, or its stored ``crop`` warped and coloured here
    (``data.augment_on="device"``, :mod:`c2f.geometry.resample`).
    """
    if "crop" in batch:
        return augment_batch(batch["crop"], batch["warp"], batch["colour"], res) * (1.0 / 255.0)
    return to_float(batch["image"])


def apply_gradients(model, optimizer, grads, loss, parts: dict):
    """One optimiser step in place; the step's metrics.

    ``metrics``: ``loss``, the per-stage ``parts``, ``grad_norm``, ``finite`` (all of loss
    and grads).
    """
    grad_norm = global_norm(grads)
    optimizer.update(model, grads)
    finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
    return {"loss": loss, "grad_norm": grad_norm, "finite": finite, **parts}
