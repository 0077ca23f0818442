"""The converters' command-line tail, written once.

Every converter's ``main`` builds its parser and a ``work(args)`` that converts and returns the
line to print; :func:`run` parses, runs it, and turns a ``ValueError`` (``DatasetError`` is one)
into ``error: ...`` on stderr and exit code 2.
"""

import sys


def run(parser, argv, work) -> int:
    """Parse ``argv``, call ``work(args)``: 0 and its message printed, or 2 and the error."""
    args = parser.parse_args(argv)
    try:
        message = work(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(message)
    return 0
