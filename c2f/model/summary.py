"""Parameter count and forward FLOPs of a model configuration.

``python -m c2f.model.summary --config configs/paper.py`` prints both; the FLOPs come from
XLA's cost analysis of the compiled forward pass (multiply and add counted separately), on
abstract parameters, so nothing is initialised.
"""

import argparse

import jax
import jax.numpy as jnp
from flax import nnx

from c2f.model.c2f_pose import C2FPose
from c2f.model.config import ModelConfig


def abstract_model(cfg: ModelConfig) -> C2FPose:
    """The model with shape-only parameters (no memory, no initialisation)."""
    return nnx.eval_shape(lambda: C2FPose(cfg, rngs=nnx.Rngs(0)))


def count_params(model_or_cfg) -> int:
    """Number of trainable parameters (BatchNorm scale/bias included, running stats not)."""
    model = abstract_model(model_or_cfg) if isinstance(model_or_cfg, ModelConfig) else model_or_cfg
    params = nnx.state(model, nnx.Param)
    return sum(int(x.size) for x in jax.tree.leaves(params))


def forward_flops(cfg: ModelConfig, batch: int = 1) -> float:
    """FLOPs of one inference forward pass of ``batch`` images (XLA cost analysis)."""
    model = abstract_model(cfg)
    model.eval()
    graphdef, state = nnx.split(model)

    def forward(state, images):
        return nnx.merge(graphdef, state)(images)

    images = jax.ShapeDtypeStruct((batch, cfg.input_res, cfg.input_res, 3), jnp.float32)
    compiled = jax.jit(forward).lower(state, images).compile()
    cost = compiled.cost_analysis()
    if isinstance(cost, list):  # older jax returned one dict per device
        cost = cost[0]
    return float(cost["flops"])


def main(argv=None) -> None:
    from c2f.config import load_config

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/paper.py", help="a configs/*.py file")
    args = parser.parse_args(argv)
    cfg = load_config(args.config).model
    print(f"config: {args.config}  depths={cfg.depths} input={cfg.input_res}px")
    print(f"parameters: {count_params(cfg):,}")
    flops = forward_flops(cfg)
    print(f"forward FLOPs per image: {flops / 1e9:.2f} G ({flops / 2e9:.2f} G multiply-adds)")


if __name__ == "__main__":
    main()
