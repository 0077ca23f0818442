"""The converters' command-line tail, written once.

Every converter's ``main`` builds its parser and a ``work(args)`` that converts and returns the
line to print; :func:`run` adds ``--overwrite``, parses, checks ``--out`` by the output rule
(:mod:`c2f.outputs`: not an existing file unless ``--overwrite``, not an input nor inside an
input folder, writable; before any work), runs it, and turns a ``ValueError``
(``DatasetError`` is one) into ``error: ...`` on stderr and exit code 2.
"""

import pathlib
import sys

from c2f.outputs import add_overwrite, check_outputs

MIN_CROP_RES = 32


def check_common(args) -> None:
    """The converters' shared options: ``--limit`` at least 1, ``--crop-res`` at least 32 px."""
    limit = getattr(args, "limit", None)
    if limit is not None and limit < 1:
        raise ValueError(f"--limit: at least 1 person, got {limit}")
    crop = getattr(args, "crop_res", None)
    if crop is not None and crop < MIN_CROP_RES:
        raise ValueError(f"--crop-res: at least {MIN_CROP_RES} px, got {crop}")


def run(parser, argv, work) -> int:
    """Parse ``argv``, check ``--out``, run ``work(args)``: 0 and a message, or 2 and an error."""
    add_overwrite(parser)
    args = parser.parse_args(argv)
    try:
        check_common(args)
        out = getattr(args, "out", None)
        if out is not None:
            inputs = {f"--{k.replace('_', '-')}": v for k, v in vars(args).items()
                      if isinstance(v, pathlib.Path) and k != "out"}  # fmt: skip
            check_outputs({"--out": out}, inputs, overwrite=args.overwrite)
        message = work(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(message)
    return 0
