"""``python -m cli``: the terminal client (same as ``python -m agents``)."""

import sys

from cli.main import main

sys.exit(main())
