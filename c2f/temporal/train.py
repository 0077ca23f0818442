"""The temporal model's one training step, jitted on split state.

Each example is three consecutive target frames (their windows cut from one window two frames
longer, so the three see the same perturbed frames); the loss is their MPJPE plus
``accel_weight`` times their acceleration error (``a(t) = X(t-1) - 2 X(t) + X(t+1)`` against
the truth's): a per-frame loss alone lets a correction vary from frame to frame, and the model
then passes jitter on that the Savitzky-Golay filter removes.
"""

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from c2f.temporal.designs import TemporalConfig, TemporalModel


def create(cfg: TemporalConfig, tx: optax.GradientTransformation, seed: int = 0):
    """(graphdef, state) of a fresh (model, optimizer) pair, the model in training mode."""
    model = TemporalModel(cfg, rngs=nnx.Rngs(seed))
    model.train()
    return nnx.split((model, nnx.Optimizer(model, tx, wrt=nnx.Param)))


def triplet_loss(model, windows, target_mm, accel_weight: float):
    """MPJPE of three consecutive frames + ``accel_weight`` x their acceleration error, mm.

    ``windows`` [B, W + 2, J, FEATURES] (:func:`c2f.temporal.windows.triplet_index`);
    ``target_mm`` [B, 3, J, 3] the truth of the three target frames.
    """
    b, w = windows.shape[0], windows.shape[1] - 2
    parts = jnp.concatenate([windows[:, i : i + w] for i in range(3)])  # [3B, W, J, F]
    out = model(parts).reshape(3, b, *target_mm.shape[2:]).swapaxes(0, 1)
    mpjpe = jnp.mean(jnp.linalg.norm(out - target_mm, axis=-1))

    def accel(x):
        return x[:, 0] - 2.0 * x[:, 1] + x[:, 2]

    accel_error = jnp.mean(jnp.linalg.norm(accel(out) - accel(target_mm), axis=-1))
    return mpjpe + accel_weight * accel_error, mpjpe


def make_step(graphdef, accel_weight: float = 1.0):
    """``step(state, windows, target_mm) -> (state, mpjpe_mm)``, jitted, the state donated.

    Arguments as :func:`triplet_loss`'s; the returned number is the batch's MPJPE (mm).
    """

    def step(state, windows, target_mm):
        model, optimizer = nnx.merge(graphdef, state)
        loss_fn = lambda m: triplet_loss(m, windows, target_mm, accel_weight)  # noqa: E731
        (_, mpjpe), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
        optimizer.update(model, grads)
        return nnx.split((model, optimizer))[1], mpjpe

    return jax.jit(step, donate_argnums=0)
