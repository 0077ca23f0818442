"""The model and optimizer, split into a static graph and a pytree of arrays.

Hot paths call ``jax.jit`` on the split state (``nnx.split`` / ``nnx.merge`` inside the jitted
function) rather than ``nnx.jit``, whose per-call Python cost is tens of ms on this network.
"""

from flax import nnx

from c2f.config import Config
from c2f.model import C2FPose
from c2f.optim import learning_rate_schedule, make_optimizer

__all__ = ["abstract_train_state", "build", "create", "eval_graph", "learning_rate_schedule",
           "make_optimizer"]  # fmt: skip


def build(cfg: Config):
    """A fresh (model, optimizer) pair; the model is in training mode."""
    model = C2FPose(cfg.model, rngs=nnx.Rngs(cfg.train.seed))
    model.train()
    return model, nnx.Optimizer(model, make_optimizer(cfg.optim, cfg.train.steps), wrt=nnx.Param)


def create(cfg: Config):
    """(graphdef, state) of a fresh (model, optimizer) pair."""
    return nnx.split(build(cfg))


def abstract_train_state(cfg: Config):
    """(graphdef, state) with shape-only arrays: what a checkpoint is restored into."""
    return nnx.split(nnx.eval_shape(lambda: build(cfg)))


def eval_graph(graphdef, state):
    """(graphdef, state) of the model alone, in evaluation mode (BatchNorm running averages)."""
    model, _ = nnx.merge(graphdef, state)
    model.eval()
    return nnx.split(model)
