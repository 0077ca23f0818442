"""The optimisers, one table of names, and the learning-rate schedule.

``OPTIMIZERS`` is the extension point: ``OptimConfig.name``'s validation and the docs read its
names; adding an optimiser is one entry. Functions take an ``OptimConfig``
(:class:`c2f.config.OptimConfig`: name, learning rate, decay steps and factor, warm-up, clipping).
"""

import collections

import jax
import jax.numpy as jnp
import optax

OPTIMIZERS = {
    # name: (schedule -> optax transformation, one line for help texts)
    # Torch's optim.rmsprop (the authors' -optMethod rmsprop): alpha 0.99, epsilon 1e-8 OUTSIDE
    # the square root, mean square starting at 0, no bias correction.
    "rmsprop": (
        lambda schedule: optax.rmsprop(schedule, decay=0.99, eps=1e-8, eps_in_sqrt=False),
        "RMSprop with Torch7's semantics (the paper: lr 2.5e-4)",
    ),
    "adam": (optax.adam, "Adam (the integral recipe)"),
}


def global_norm(tree) -> jax.Array:
    """The L2 norm of all of a pytree's leaves together, a float32 scalar.

    The leaves are stacked by shape and each stack reduced once. A sum of one reduction per leaf
    (the paper network has 1,552 parameter arrays) chains 1,552 additions in the compiled
    program, and XLA's CPU compiler took 10 s of the paper step's compilation over it; the
    stacks take 2 s (docs/speed.md). The value is the same up to float32 summation order.
    """
    groups = collections.defaultdict(list)
    for leaf in jax.tree.leaves(tree):
        groups[(leaf.shape, jnp.result_type(leaf))].append(leaf)
    total = jnp.zeros((), jnp.float32)
    for leaves in groups.values():
        total += jnp.sum(jnp.square(jnp.stack(leaves).astype(jnp.float32)))
    return jnp.sqrt(total)


def clip_by_global_norm(max_norm: float) -> optax.GradientTransformation:
    """Clipping as ``optax.clip_by_global_norm`` does, the norm by :func:`global_norm`."""

    def update(updates, state, params=None):
        del params
        norm = global_norm(updates)
        keep = norm < max_norm
        clip = lambda u: jnp.where(keep, u, (u / norm.astype(u.dtype)) * max_norm)  # noqa: E731
        return jax.tree.map(clip, updates), state

    return optax.GradientTransformation(optax.init_empty_state, update)


def learning_rate_schedule(cfg, total_steps: int):
    """The step schedule (optionally after a linear warm-up)."""
    boundaries = {int(s): cfg.decay_factor for s in cfg.decay_steps if 0 < s < total_steps}
    schedule = optax.piecewise_constant_schedule(cfg.learning_rate, boundaries)
    if cfg.warmup_steps > 0:
        warmup = optax.linear_schedule(0.0, cfg.learning_rate, cfg.warmup_steps)
        schedule = optax.join_schedules([warmup, schedule], [cfg.warmup_steps])
    return schedule


def make_optimizer(cfg, total_steps: int) -> optax.GradientTransformation:
    """RMSprop with Torch7's semantics (the paper) or Adam.

    Torch's ``optim.rmsprop`` (the authors' ``-optMethod rmsprop``, alpha 0.99, epsilon 1e-8,
    mean square starting at 0, no bias correction) steps by ``lr * g / (sqrt(m) + eps)``:
    epsilon OUTSIDE the square root, hence ``eps_in_sqrt=False``. optax's default puts it
    inside, which for the tiny gradients of a voxel MSE makes every step several times smaller.
    """
    tx = OPTIMIZERS[cfg.name][0](learning_rate_schedule(cfg, total_steps))
    if cfg.clip_norm > 0:
        tx = optax.chain(clip_by_global_norm(cfg.clip_norm), tx)
    return tx
