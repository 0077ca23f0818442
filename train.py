"""Train the coarse-to-fine network: the same command as ``c2f train`` (c2f/cli/train.py).

python train.py --config demo --workdir runs/demo [--set train.steps=500 ...]
"""

import sys

from c2f import signals
from c2f.cli import compile_cache

signals.install()  # as `c2f train`: before jax is imported
compile_cache.enable()
from c2f.cli import finish  # noqa: E402
from c2f.cli.train import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(finish(main))
