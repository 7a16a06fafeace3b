"""``python -m cli``: the terminal client."""

import sys

from cli.main import main

sys.exit(main())
