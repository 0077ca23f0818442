"""Train the coarse-to-fine network: the same command as ``c2f train`` (c2f/cli/train.py).

python train.py --config demo --workdir runs/demo [--set train.steps=500 ...]
"""

import sys

from c2f.cli import compile_cache

compile_cache.enable()  # as `c2f train`: before jax is imported
from c2f.cli.train import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
