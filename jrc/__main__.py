"""``python -m jrc scan ...`` (see ``python -m jrc scan --help``)."""

import sys

from jrc.cli import main

sys.exit(main())
