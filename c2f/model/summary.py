"""Parameter count and forward FLOPs of a model configuration.

``c2f model --config paper`` prints both; the FLOPs come from
XLA's cost analysis of the compiled forward pass (multiply and add counted separately), on
abstract parameters, so nothing is initialised.
"""

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from c2f.model.c2f_pose import abstract_model
from c2f.model.config import ModelConfig


def count_params(model_or_cfg) -> int:
    """Number of trainable parameters (BatchNorm scale/bias included, running stats not)."""
    model = abstract_model(model_or_cfg) if isinstance(model_or_cfg, ModelConfig) else model_or_cfg
    params = nnx.state(model, nnx.Param)
    return sum(int(x.size) for x in jax.tree.leaves(params))


def _abstract_forward(cfg: ModelConfig, batch: int):
    model = abstract_model(cfg)
    model.eval()
    graphdef, state = nnx.split(model)

    def forward(state, images):
        return nnx.merge(graphdef, state)(images)

    images = jax.ShapeDtypeStruct((batch, cfg.input_res, cfg.input_res, 3), jnp.float32)
    return forward, state, images


try:
    from jax.extend.core import jaxprs_in_params as _jaxprs_in_params
except ImportError:  # jax releases before jax.extend.core had it
    _jaxprs_in_params = jax.core.jaxprs_in_params


def _conv_macs_in(jaxpr) -> int:
    total = 0
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "cond":  # per-platform alternatives: one of them runs
            total += max(_conv_macs_in(b.jaxpr) for b in eqn.params["branches"])
            continue
        if eqn.primitive.name == "conv_general_dilated":
            out = eqn.outvars[0].aval.shape
            kernel = eqn.invars[1].aval.shape  # HWIO: every output element costs kh * kw * cin
            total += int(np.prod(out)) * int(np.prod(kernel[:-1]))
        elif eqn.primitive.name == "dot_general":  # the 1x1 convolutions (c2f.model.conv)
            (contract, _), _ = eqn.params["dimension_numbers"]
            lhs = eqn.invars[0].aval.shape
            total += int(np.prod(eqn.outvars[0].aval.shape)) * int(
                np.prod([lhs[i] for i in contract])
            )
        for sub in _jaxprs_in_params(eqn.params):
            total += _conv_macs_in(sub)
    return total


def conv_macs(cfg: ModelConfig, batch: int = 1) -> int:
    """Multiply-accumulates of every convolution (and 1x1 matrix product) of one forward pass.

    Counts every tap, padding included (the usual convention of FLOP counters and of the
    PyTorch twin's 16.0 G for the paper config).
    """
    forward, state, images = _abstract_forward(cfg, batch)
    return _conv_macs_in(jax.make_jaxpr(forward)(state, images).jaxpr)


def model_flops(cfg: ModelConfig, batch: int = 1, train: bool = False) -> float:
    """FLOPs of the network counted from its own layer shapes: the same on every backend.

    ``2 * conv_macs`` for one forward pass of ``batch`` images (a multiply and an add per tap);
    a training step counts 3 passes (the backward pass computes two products per forward one:
    the gradients of the inputs and of the weights). XLA's cost analysis on a GPU leaves out
    the convolutions that cuDNN runs, so its count cannot serve there; on the CPU it is within
    1 % of this one for the paper's and the uniform network (``tests/test_flops.py``).
    """
    return 2.0 * conv_macs(cfg, batch) * (3 if train else 1)


def forward_flops(cfg: ModelConfig, batch: int = 1) -> float:
    """FLOPs of one inference forward pass of ``batch`` images (XLA cost analysis).

    XLA counts what it executes: convolution taps that fall in the zero padding are not
    counted, so this is slightly below ``2 * conv_macs`` plus the elementwise work.
    """
    return forward_cost(cfg, batch)["flops"]


def forward_cost(cfg: ModelConfig, batch: int = 1) -> dict:
    """XLA's analysis of the compiled inference forward pass of ``batch`` images.

    Returns:
      ``flops``; ``peak_bytes`` (arguments + outputs + temporaries: the memory one call
      needs) and ``output_bytes`` (the volumes), or None where the backend does not say.
    """
    forward, state, images = _abstract_forward(cfg, batch)
    compiled = jax.jit(forward).lower(state, images).compile()
    cost = compiled.cost_analysis()
    if isinstance(cost, list):  # older jax returned one dict per device
        cost = cost[0]
    out = {"flops": float(cost["flops"]), "peak_bytes": None, "output_bytes": None}
    try:
        mem = compiled.memory_analysis()
        out["output_bytes"] = int(mem.output_size_in_bytes)
        out["peak_bytes"] = int(mem.temp_size_in_bytes + mem.argument_size_in_bytes
                                + mem.output_size_in_bytes)  # fmt: skip
    except (AttributeError, NotImplementedError):
        pass
    return out


def volume_voxels(cfg: ModelConfig) -> list[int]:
    """Voxels of each stage's volume for one image: J x D_k x H x W."""
    side = cfg.output_res
    return [cfg.joints * d * side * side for d in cfg.depths]
