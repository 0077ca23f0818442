"""Evaluate a trained run: the same command as ``c2f eval`` (c2f/cli/eval.py).

python eval.py --workdir runs/demo [--protocol paper] [--all-frames --smooth savgol] ...
"""

import sys

from c2f import signals

signals.install()  # as `c2f eval`: before jax is imported (dispatch enables the compilation cache)
from c2f.cli import VERBS, dispatch, finish  # noqa: E402


def main(argv=None) -> int:
    """``c2f eval ARGS``: the verb imported as ``c2f`` imports it (a signal meanwhile waits)."""
    return dispatch(VERBS, "eval", sys.argv[1:] if argv is None else list(argv), "eval.py")


if __name__ == "__main__":
    sys.exit(finish(main))
