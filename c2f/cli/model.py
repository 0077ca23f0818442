"""``c2f model --config RECIPE``: a recipe's parameter count and forward FLOPs (XLA's count)."""

import argparse

from c2f.config import load_config
from c2f.model.summary import conv_macs, count_params, forward_flops


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="paper", help="a recipe name or file")
    args = parser.parse_args(argv)
    cfg = load_config(args.config).model
    print(f"config: {args.config}  design={cfg.design} depths={cfg.depths} input={cfg.input_res}px")
    print(f"parameters: {count_params(cfg):,}")
    macs = conv_macs(cfg)
    print(f"convolution multiply-adds per image: {macs / 1e9:.2f} G ({2 * macs / 1e9:.2f} GFLOPs)")
    flops = forward_flops(cfg)
    print(f"forward FLOPs per image, XLA cost analysis: {flops / 1e9:.2f} G")
    return 0
