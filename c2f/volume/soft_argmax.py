"""3-D soft-argmax (integral regression, Sun et al. 2018) over voxel volumes."""

import jax
import jax.numpy as jnp

from c2f.checks import check_array


def soft_argmax_3d(logits, beta: float = 1.0):
    """Expected voxel coordinates under a softmax over each joint's whole volume.

    The softmax is taken over all D * H * W voxels of a joint, stabilised by subtracting the
    joint's maximum (the log-sum-exp trick); the expectation of each axis comes from the
    marginals of that one exponentiated volume, so at most one softmax-sized volume exists.
    Inputs of any float dtype (bf16 from the network) are accumulated in float32.

    Args:
      logits: [..., J, D, H, W] unnormalised scores.
      beta: inverse temperature applied to the logits before the softmax.

    Returns:
      [..., J, 3] float32 (x, y, z) in voxel units of this volume (see :mod:`c2f.volume`).
    """
    logits = check_array("logits", logits, ("...", None, None, None, None))
    depth, height, width = logits.shape[-3:]
    x = jnp.asarray(logits).astype(jnp.float32) * beta
    peak = jax.lax.stop_gradient(jnp.max(x, axis=(-3, -2, -1), keepdims=True))
    e = jnp.exp(x - peak)
    pz = jnp.sum(e, axis=(-2, -1))
    py = jnp.sum(e, axis=(-3, -1))
    px = jnp.sum(e, axis=(-3, -2))
    total = jnp.sum(pz, axis=-1)

    def expect(marginal, n):
        return jnp.sum(marginal * jnp.arange(n, dtype=jnp.float32), axis=-1) / total

    return jnp.stack([expect(px, width), expect(py, height), expect(pz, depth)], axis=-1)
