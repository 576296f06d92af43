"""``python -m securitize`` is the ``securitize`` command."""

import sys

from securitize.cli import main

sys.exit(main())
