"""Per-channel sums and affine maps; on the CPU the reductions run as matrix-vector products.

Why: XLA's CPU backend reduces [N, C] -> [C] (over every axis but the channels) in one
thread at well under 1 GB/s: BatchNorm statistics of an [8, 64, 64, 256] activation took
46 ms, and the gradients of every per-channel scale and bias are the same reduction. As a
product with a vector of ones the same sums go to the multithreaded matrix kernels (measured
2.5-6x faster on 2 cores). That was measured on CPUs only, so the choice is made per platform
when the program is lowered (``jax.lax.platform_dependent``): GPUs and TPUs get a plain
reduction. Sums accumulate in float32 whatever the input dtype.
"""

import contextlib
import contextvars

import jax
import jax.numpy as jnp

PLATFORM_CHOICES = ("cpu", "default")
_PLATFORM = contextvars.ContextVar("c2f_platform", default=None)


@contextlib.contextmanager
def single_platform(choice: str):
    """Trace the network's per-platform choices for ONE platform: "cpu" or "default" (GPU, TPU).

    Inside, :func:`per_platform` picks a branch at trace time instead of emitting
    ``platform_dependent`` (``platform_index`` and a conditional), which converters such as
    jax2onnx cannot lower.
    """
    if choice not in PLATFORM_CHOICES:
        raise ValueError(f"single_platform: one of {PLATFORM_CHOICES}, got {choice!r}")
    token = _PLATFORM.set(choice)
    try:
        yield
    finally:
        _PLATFORM.reset(token)


def per_platform(*args, cpu, default):
    """``jax.lax.platform_dependent(*args, cpu=cpu, default=default)``, or one branch.

    The branch :func:`single_platform` fixed, when inside it.
    """
    choice = _PLATFORM.get()
    if choice is None:
        return jax.lax.platform_dependent(*args, cpu=cpu, default=default)
    return (cpu if choice == "cpu" else default)(*args)


def channel_sum(x):
    """[..., C] -> [C] float32, the sum over every axis but the last.

    On the CPU as a matrix-vector product (:func:`_channel_sum_matvec`), elsewhere as XLA's
    reduction.
    """
    return per_platform(x, cpu=_channel_sum_matvec, default=_channel_sum_reduce)


def _channel_sum_reduce(x):
    return jnp.sum(x.astype(jnp.float32), axis=tuple(range(x.ndim - 1)))


def _channel_sum_matvec(x):
    """The CPU's channel sum, as a product with a vector of ones.

    Rows are summed in up to 64 interleaved partial sums that are added at the end: one
    running sum over all N rows (the matrix kernel's order) loses about N x 2^-24 of relative
    precision, enough to make BatchNorm's output depend on the order of the batch at the 1e-4
    level.
    """
    c = x.shape[-1]
    n = x.size // c
    parts = next(p for p in (64, 32, 16, 8, 4, 2, 1) if n % p == 0)
    flat = x.reshape(n // parts, parts * c)
    ones = jnp.ones((flat.shape[0],), flat.dtype)
    partial = jax.lax.dot_general(
        ones, flat, (((0,), (0,)), ((), ())), preferred_element_type=jnp.float32
    )
    return jnp.sum(partial.reshape(parts, c), axis=0)


@jax.custom_vjp
def scale_shift(x, mul, add):
    """``x * mul + add`` for [..., C] inputs and [C] ``mul``, ``add`` (all one dtype)."""
    return x * mul + add


def _scale_shift_fwd(x, mul, add):
    return x * mul + add, (x, mul)


def _scale_shift_bwd(res, g):
    x, mul = res
    dmul = channel_sum(g * x).astype(mul.dtype)
    return g * mul, dmul, channel_sum(g).astype(mul.dtype)


scale_shift.defvjp(_scale_shift_fwd, _scale_shift_bwd)


@jax.custom_vjp
def add_bias(x, bias):
    """``x + bias`` for [..., C] inputs and a [C] ``bias`` of the same dtype."""
    return x + bias


def _add_bias_fwd(x, bias):
    return x + bias, None


def _add_bias_bwd(_, g):
    return g, channel_sum(g).astype(g.dtype)


add_bias.defvjp(_add_bias_fwd, _add_bias_bwd)
