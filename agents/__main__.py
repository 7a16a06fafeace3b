"""``python -m agents``: the terminal client (see ``agents.cli``)."""

import sys

from agents.cli import main

sys.exit(main())
