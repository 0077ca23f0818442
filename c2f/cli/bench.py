"""``c2f bench ...``: the speed suite (``bench/`` of a checkout; not part of the wheel).

The suite compares against the PyTorch twins in the repository's ``../shared/peers`` and writes
BENCHMARKS.md's tables, so it runs from a checkout of the repository.
"""

import importlib
import sys


def main(argv=None) -> int:
    try:
        bench = importlib.import_module("bench.__main__")
    except ModuleNotFoundError as e:
        if e.name not in ("bench", "bench.__main__"):
            raise
        print(
            "error: c2f bench runs from a checkout of the c2f repository (the bench/ folder is "
            "not installed with the package); run it there",
            file=sys.stderr,
        )
        return 2
    return int(bench.main(argv) or 0)
