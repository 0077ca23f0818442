"""Evaluate a trained run: the same command as ``c2f eval`` (c2f/cli/eval.py).

python eval.py --workdir runs/demo [--protocol paper] [--all-frames --smooth savgol] ...
"""

import sys

from c2f import signals
from c2f.cli import compile_cache

signals.install()  # as `c2f eval`: before jax is imported
compile_cache.enable()
from c2f.cli import finish  # noqa: E402
from c2f.cli.eval import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(finish(main))
