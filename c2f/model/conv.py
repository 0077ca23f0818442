"""2D convolution for [B, H, W, C] inputs whose 1x1 case is a matrix product on the CPU.

Why not ``nnx.Conv``: XLA's CPU backend runs a 1x1 convolution through its generic
convolution kernel at about half the speed of the same work as a matrix product (measured on
the paper network's 256 <-> 128 channel layers at 64 x 64 px: 3.3 ms against 1.6 ms on 2
cores), and a third of the network's multiply-adds are 1x1. Measured on CPUs only, so the
matrix product is chosen for the CPU when the program is lowered
(``jax.lax.platform_dependent``); GPUs and TPUs get the convolution. Products accumulate in
float32 (``preferred_element_type``) and are rounded to the compute dtype after. Parameters
have ``nnx.Conv``'s names, shapes (``kernel`` [kh, kw, C_in, C_out], ``bias`` [C_out]) and
initialisers, so checkpoints are interchangeable.
"""

import functools

import jax
import jax.numpy as jnp
from flax import nnx

from c2f.model.channel_ops import add_bias, per_platform


class Conv(nnx.Module):
    """Square convolution with "same" zero padding (``kernel // 2``) and a bias.

    Args:
      cin, cout: input and output channels.
      kernel: kernel side (odd).
      stride: spatial stride.
      dtype: compute dtype; parameters are stored in float32 and cast on use.
      init: "torch": kernel and bias uniform in +-1/sqrt(kernel^2 * cin), Torch7's
        ``nn.SpatialConvolution:reset()``, which the authors trained from; "lecun": LeCun
        normal kernel and zero bias, as ``nnx.Conv``.
      key: a PRNG key (jax.random) for the initialisation, or ``rngs`` (nnx.Rngs) to draw one.
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int = 1,
        stride: int = 1,
        *,
        dtype,
        key=None,
        rngs: nnx.Rngs | None = None,
        init: str = "lecun",
    ):
        key = rngs.params() if key is None else key
        shape = (kernel, kernel, cin, cout)
        if init == "torch":
            bound = 1.0 / (kernel * kernel * cin) ** 0.5
            k_w, k_b = jax.random.split(key)
            self.kernel = nnx.Param(jax.random.uniform(k_w, shape, jnp.float32, -bound, bound))
            self.bias = nnx.Param(jax.random.uniform(k_b, (cout,), jnp.float32, -bound, bound))
        else:
            lecun = nnx.initializers.lecun_normal()
            self.kernel = nnx.Param(lecun(key, shape, jnp.float32))
            self.bias = nnx.Param(jnp.zeros((cout,), jnp.float32))
        self.stride = stride
        self.dtype = dtype

    def __call__(self, x):
        """[B, H, W, C_in] -> [B, H / stride, W / stride, C_out] in ``dtype``."""
        w = self.kernel[...].astype(self.dtype)
        x = x.astype(self.dtype)
        y = _conv(x, w, self.stride)
        return add_bias(y.astype(self.dtype), self.bias[...].astype(self.dtype))


def _product(x, w, stride: int, accumulate):
    """The convolution; a matrix product for 1x1 on the CPU; outputs in ``accumulate``."""
    pad = w.shape[0] // 2

    def conv(x, w):
        return jax.lax.conv_general_dilated(
            x, w, (stride, stride), ((pad, pad), (pad, pad)),
            dimension_numbers=("NHWC", "HWIO", "NHWC"), preferred_element_type=accumulate,
        )  # fmt: skip

    def matmul(x, w):
        dims = (((x.ndim - 1,), (0,)), ((), ()))
        return jax.lax.dot_general(x, w[0, 0], dims, preferred_element_type=accumulate)

    if w.shape[0] == 1 and stride == 1:
        return per_platform(x, w, cpu=matmul, default=conv)
    return conv(x, w)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _conv(x, w, stride: int):
    """A convolution whose forward accumulates in float32, visibly in the program.

    The gradients' products take operands in the compute dtype, as without
    ``preferred_element_type`` (with it, autodiff would run every backward convolution in
    float32: 813 of the paper network's 1,220 in its train step); their accumulation is the
    backend's (float32 on GPUs and TPUs for bfloat16).
    """
    return _product(x, w, stride, jnp.float32)


def _conv_fwd(x, w, stride):
    return _product(x, w, stride, jnp.float32), (x, w)


@functools.partial(jax.jit, static_argnums=0)
def _conv_grads(stride, x, w, g):
    """(dx, dw) of the convolution, products in the compute dtype.

    Jitted so that jax traces and linearises it once per distinct (shapes, stride): inside the
    train step's trace the 407 convolutions of the paper network share about 60 signatures,
    and the per-call ``jax.vjp`` was most of its tracing time (about 10 s of 14 s on a 2-core
    CPU). XLA inlines the calls: the compiled program is the same.
    """
    _, vjp = jax.vjp(lambda a, b: _product(a, b, stride, None), x, w)
    return vjp(g.astype(x.dtype))


def _conv_bwd(stride, res, g):
    x, w = res
    return _conv_grads(stride, x, w, g)


_conv.defvjp(_conv_fwd, _conv_bwd)
