"""The one ``train_step``, shared by train.py, the benchmarks and the tests.

(The evaluation step is the inference function, :class:`c2f.inference.Inference`, shared with
the Predictor and the pictures.) Built for a static graph and jitted on the split state.
Images travel as uint8 and become floats in [0, 1] on the device; Gaussian targets are built
on the device from joint coordinates (:func:`c2f.losses.stage_losses`). ``train.programs``
chooses how it is compiled: one XLA program (here), or one per segment of the network
(:mod:`c2f.train.staged`); both compute the same step.
"""

import jax
from flax import nnx

from c2f.config import Config
from c2f.train.staged import make_staged_step
from c2f.train.update import apply_gradients, model_loss


def make_train_step(cfg: Config, graphdef):
    """``train_step(state, batch) -> (state, metrics)``, the state donated.

    ``batch`` needs ``image`` (uint8), ``coords`` and ``mask`` (:class:`c2f.data.Loader`);
    with ``mask_xy``, 2D-only joints are supervised in x and y (:mod:`c2f.losses`).
    ``metrics``: ``loss``, per-stage parts, ``grad_norm``, ``finite`` (all of loss and grads).
    With ``train.programs="one"`` it is one ``jax.jit`` function (``.trace``, ``.lower``).
    """
    if cfg.train.programs == "segments":
        return make_staged_step(cfg, graphdef)

    def train_step(state, batch):
        model, optimizer = nnx.merge(graphdef, state)
        (loss, parts), grads = nnx.value_and_grad(model_loss, has_aux=True)(model, batch, cfg)
        metrics = apply_gradients(model, optimizer, grads, loss, parts)
        _, new_state = nnx.split((model, optimizer))
        return new_state, metrics

    return jax.jit(train_step, donate_argnums=0)
