"""Let the event loop close abandoned async generators, as plain asyncio does.

Chainlit serves under ``nest_asyncio``, whose ``run_until_complete`` (what its
``asyncio.run`` uses) installs no async-generator hooks.  An async generator
dropped before its end (an SDK's response stream after a client disconnect, a
provider's client keeper) is then finalized by the garbage collector
synchronously, inside whatever task happens to be running: its ``finally``
cannot await, and cleanup that enters an anyio cancel scope fails *that* task
("Attempted to exit cancel scope in a different task").  With the finalizer
installed, each one is closed in a task of its own on the loop, as under
``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncGenerator
from typing import Any


def install_finalizer(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Make ``loop`` (the running one by default) close dropped async generators in their own tasks.

    Call it from the loop's thread: the hooks are per thread.  Generators first
    iterated after this call get the finalizer.
    """
    target = loop or asyncio.get_running_loop()

    def finalize(agen: AsyncGenerator[Any, Any]) -> None:
        if not target.is_closed():
            target.call_soon_threadsafe(target.create_task, agen.aclose())

    firstiter, _ = sys.get_asyncgen_hooks()
    sys.set_asyncgen_hooks(firstiter=firstiter, finalizer=finalize)
