"""The converters' command-line tail, written once.

Every converter's ``main`` builds its parser and a ``work(args)`` that converts and returns the
line to print; :func:`run` parses, checks that ``--out`` replaces none of the inputs and can be
written (before any work), runs it, and turns a ``ValueError`` (``DatasetError`` is one) into
``error: ...`` on stderr and exit code 2.
"""

import pathlib
import sys

from c2f.outputs import check_outputs


def run(parser, argv, work) -> int:
    """Parse ``argv``, check ``--out``, run ``work(args)``: 0 and a message, or 2 and an error."""
    args = parser.parse_args(argv)
    try:
        out = getattr(args, "out", None)
        if out is not None:
            inputs = {f"--{k.replace('_', '-')}": v for k, v in vars(args).items()
                      if isinstance(v, pathlib.Path) and k != "out"}  # fmt: skip
            check_outputs({"--out": out}, inputs)
        message = work(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(message)
    return 0
