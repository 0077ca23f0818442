"""The model and optimizer, split into a static graph and a pytree of arrays.

Hot paths call ``jax.jit`` on the split state (``nnx.split`` / ``nnx.merge`` inside the jitted
function) rather than ``nnx.jit``, whose per-call Python cost is tens of ms on this network.
"""

import optax
from flax import nnx

from c2f.config import Config, OptimConfig
from c2f.model import C2FPose


def learning_rate_schedule(cfg: OptimConfig, total_steps: int):
    """The step schedule (optionally after a linear warm-up)."""
    boundaries = {int(s): cfg.decay_factor for s in cfg.decay_steps if 0 < s < total_steps}
    schedule = optax.piecewise_constant_schedule(cfg.learning_rate, boundaries)
    if cfg.warmup_steps > 0:
        warmup = optax.linear_schedule(0.0, cfg.learning_rate, cfg.warmup_steps)
        schedule = optax.join_schedules([warmup, schedule], [cfg.warmup_steps])
    return schedule


def make_optimizer(cfg: OptimConfig, total_steps: int) -> optax.GradientTransformation:
    """RMSprop with Torch7's semantics (the paper) or Adam.

    Torch's ``optim.rmsprop`` (the authors' ``-optMethod rmsprop``, alpha 0.99, epsilon 1e-8,
    mean square starting at 0, no bias correction) steps by ``lr * g / (sqrt(m) + eps)``:
    epsilon OUTSIDE the square root, hence ``eps_in_sqrt=False``. optax's default puts it
    inside, which for the tiny gradients of a voxel MSE makes every step several times smaller.
    """
    schedule = learning_rate_schedule(cfg, total_steps)
    if cfg.name == "rmsprop":
        tx = optax.rmsprop(schedule, decay=0.99, eps=1e-8, eps_in_sqrt=False)
    else:
        tx = optax.adam(schedule)
    if cfg.clip_norm > 0:
        tx = optax.chain(optax.clip_by_global_norm(cfg.clip_norm), tx)
    return tx


def build(cfg: Config):
    """A fresh (model, optimizer) pair; the model is in training mode."""
    model = C2FPose(cfg.model, rngs=nnx.Rngs(cfg.train.seed))
    model.train()
    return model, nnx.Optimizer(model, make_optimizer(cfg.optim, cfg.train.steps), wrt=nnx.Param)


def create(cfg: Config):
    """(graphdef, state) of a fresh (model, optimizer) pair."""
    return nnx.split(build(cfg))


def abstract(cfg: Config):
    """(graphdef, state) with shape-only arrays: what a checkpoint is restored into."""
    return nnx.split(nnx.eval_shape(lambda: build(cfg)))


def eval_graph(graphdef, state):
    """(graphdef, state) of the model alone, in evaluation mode (BatchNorm running averages)."""
    model, _ = nnx.merge(graphdef, state)
    model.eval()
    return nnx.split(model)
