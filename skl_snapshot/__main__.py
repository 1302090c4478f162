"""``python -m skl_snapshot``: the same as the ``skl-snapshot`` command."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
