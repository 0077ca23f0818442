"""The paper's optimiser: RMSprop with Torch7's ``optim.rmsprop`` semantics."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from c2f.config import OptimConfig
from c2f.optim import clip_by_global_norm, global_norm
from c2f.train.state import make_optimizer


def torch_rmsprop(x, grads, lr, alpha=0.99, epsilon=1e-8):
    """A numpy transcription of torch/optim ``rmsprop.lua`` (weightDecay 0, initialMean 0)."""
    m = np.zeros_like(x)
    for g in grads:
        m = alpha * m + (1.0 - alpha) * g * g  # state.m:mul(alpha):addcmul(1 - alpha, g, g)
        x = x - lr * g / (np.sqrt(m) + epsilon)  # tmp = sqrt(m) + eps; x:addcdiv(-lr, g, tmp)
    return x


def test_rmsprop_matches_torch_over_several_steps():
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(5, 7)).astype(np.float64)
    # Gradients spanning the scales of a voxel MSE (1e-9) to ordinary ones (1).
    grads = [rng.normal(size=x0.shape) * 10.0 ** rng.uniform(-9, 0, x0.shape) for _ in range(6)]
    tx = make_optimizer(OptimConfig(name="rmsprop", learning_rate=2.5e-4), total_steps=100)
    with jax.enable_x64(True):
        params = jnp.asarray(x0)
        state = tx.init(params)
        for g in grads:
            updates, state = tx.update(jnp.asarray(g), state, params)
            params = optax.apply_updates(params, updates)
        ours = np.asarray(params)
    np.testing.assert_allclose(ours, torch_rmsprop(x0, grads, 2.5e-4), rtol=1e-12, atol=1e-15)
    # optax's default (epsilon inside the square root) is not Torch's: the small-gradient
    # entries move far less.
    default = optax.rmsprop(2.5e-4, decay=0.99, eps=1e-8)
    with jax.enable_x64(True):
        p, s = jnp.asarray(x0), default.init(jnp.asarray(x0))
        for g in grads:
            u, s = default.update(jnp.asarray(g), s, p)
            p = optax.apply_updates(p, u)
    assert not np.allclose(np.asarray(p), ours, rtol=1e-6)


def test_global_norm_and_clipping_match_optax():
    # Leaves of several shapes, some sharing one (stacked together), one in bfloat16.
    rng = np.random.default_rng(1)
    tree = {
        "a": [jnp.asarray(rng.normal(size=(3, 4)), jnp.float32) for _ in range(3)],
        "b": jnp.asarray(rng.normal(size=(5,)) * 100, jnp.float32),
        "c": jnp.asarray(rng.normal(size=(2, 2)), jnp.bfloat16),
        "d": jnp.zeros((0,), jnp.float32),
    }
    norm = float(jax.jit(global_norm)(tree))
    expected = np.sqrt(
        sum(np.sum(np.square(np.asarray(x, np.float64))) for x in jax.tree.leaves(tree))
    )
    np.testing.assert_allclose(norm, expected, rtol=1e-6)
    np.testing.assert_allclose(norm, float(optax.tree.norm(tree)), rtol=1e-6)
    for max_norm in (norm * 2, norm / 3):  # left alone, then scaled down
        ours, _ = clip_by_global_norm(max_norm).update(tree, optax.EmptyState())
        theirs, _ = optax.clip_by_global_norm(max_norm).update(tree, optax.EmptyState())
        for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs)):
            assert a.dtype == b.dtype
            np.testing.assert_allclose(
                np.asarray(a, np.float32),
                np.asarray(b, np.float32),
                rtol=1e-2 if a.dtype == jnp.bfloat16 else 1e-6,
            )
    np.testing.assert_allclose(float(global_norm(ours)), norm / 3, rtol=1e-3)
