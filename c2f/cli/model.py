"""``c2f model --config RECIPE [--set ...]``: a network's size, volumes, FLOPs and memory.

Parameters; the voxels of each stage's volume per image (J x D_k x H x W); convolution
multiply-adds; XLA's FLOPs and the memory of one compiled inference forward pass (arguments,
outputs and temporaries) at ``--batch``. ``--set model.skeleton=coco_wholebody133`` sizes a
network for another keypoint set (its joints follow the skeleton).
"""

import argparse
import sys

from c2f.config import apply_overrides, load_config
from c2f.model.summary import conv_macs, count_params, forward_cost, volume_voxels


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="paper", help="a recipe name or file")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides")
    parser.add_argument("--batch", type=int, default=1, help="images per forward pass")
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error("--batch must be >= 1")
    try:
        cfg = apply_overrides(load_config(args.config), args.set).model
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    skeleton = cfg.keypoints.name if cfg.skeleton else "h36m17 (until data says otherwise)"
    print(f"config: {args.config}  design={cfg.design} depths={cfg.depths} input={cfg.input_res}px "
          f"joints={cfg.joints} skeleton={skeleton}")  # fmt: skip
    print(f"parameters: {count_params(cfg):,}")
    voxels = volume_voxels(cfg)
    print("volume voxels per image: " + ", ".join(f"{v / 1e6:.2f} M" for v in voxels)
          + f" ({voxels[-1] * 4 / 2**20:.0f} MiB float32 for the last)")  # fmt: skip
    macs = conv_macs(cfg)
    print(f"convolution multiply-adds per image: {macs / 1e9:.2f} G ({2 * macs / 1e9:.2f} GFLOPs)")
    cost = forward_cost(cfg, args.batch)
    print(f"forward FLOPs per image, XLA cost analysis: {cost['flops'] / args.batch / 1e9:.2f} G")
    if cost["peak_bytes"] is not None:
        print(f"inference memory at batch {args.batch}, XLA memory analysis: "
              f"{cost['peak_bytes'] / 2**30:.2f} GiB (outputs {cost['output_bytes'] / 2**30:.2f} "
              "GiB)")  # fmt: skip
    return 0
