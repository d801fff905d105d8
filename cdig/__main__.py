"""``python -m cdig``: the same entry point as the ``cdig`` console script."""

import sys

from .cli import main

sys.exit(main())
