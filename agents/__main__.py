"""``python -m agents``: the terminal client, kept under the engine's name that users type.

An entry point is the top of a program, not part of the engine: the layer
test (tests/test_layers.py) treats ``__main__`` modules as sinks.
"""

import sys

from cli.main import main

sys.exit(main())
