"""``python -m c2f VERB ...``: the same as the ``c2f`` command."""

import sys

from c2f.cli import entry

sys.exit(entry())
