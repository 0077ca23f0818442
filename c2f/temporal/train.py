"""The temporal model's one training step: MPJPE of the target frame, jitted on split state."""

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


def make_step(graphdef):
    """``step(state, windows, target_mm) -> (state, loss_mm)``, jitted, the state donated.

    ``windows`` [B, W, J, FEATURES]; ``target_mm`` [B, J, 3] root-relative truth of the target
    frames; the loss is their MPJPE (mm).
    """

    def step(state, windows, target_mm):
        model, optimizer = nnx.merge(graphdef, state)

        def loss_fn(model):
            return jnp.mean(jnp.linalg.norm(model(windows) - target_mm, axis=-1))

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return nnx.split((model, optimizer))[1], loss

    return jax.jit(step, donate_argnums=0)
