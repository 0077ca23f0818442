"""Train the coarse-to-fine network: the same command as ``c2f train`` (c2f/cli/train.py).

python train.py --config demo --workdir runs/demo [--set train.steps=500 ...]
"""

import sys

from c2f import signals

signals.install()  # as `c2f train`: before jax is imported (dispatch enables the compilation cache)
from c2f.cli import VERBS, dispatch, finish  # noqa: E402


def main(argv=None) -> int:
    """``c2f train ARGS``: the verb imported as ``c2f`` imports it (a signal meanwhile waits)."""
    return dispatch(VERBS, "train", sys.argv[1:] if argv is None else list(argv), "train.py")


if __name__ == "__main__":
    sys.exit(finish(main))
