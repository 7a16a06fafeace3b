"""Wire the HTTP API into the running Chainlit app.  ``app.py`` calls ``install()`` once.

``install`` adds the SSE routes and /metrics to Chainlit's FastAPI server,
refuses cross-origin requests to them unless allowed (``web.origins``),
turns on Chainlit's password login if ``CHAT_USERNAME``/``CHAT_PASSWORD`` are
set (and refuses to start, in one line, if only one of them is), and writes
one JSON line per answer to stderr (see docs/http-api.md).  At startup the
loop gets an async-generator finalizer (``web.asyncgens``); at shutdown the
shared provider clients are closed.  Importing this module does nothing by
itself: the environment is read when ``install`` runs, after ``app.py`` has
loaded ``.env``.
"""

from __future__ import annotations

from agents import observe
from agents.errors import ConfigError
from agents.providers.remote import aclose_shared
from web import api, asyncgens, auth, origins


def install() -> None:
    """Mount the API on Chainlit's server and apply the origin, login and logging settings."""
    import chainlit as cl
    from chainlit.config import config
    from chainlit.server import app

    api.install(app, prefix=config.run.root_path or "")
    origins.install(app, prefix=config.run.root_path or "")  # /api same-origin only (API_ALLOWED_ORIGINS)
    try:
        auth.enable_password_login()
    except ConfigError as err:
        # One clear line, and no server: half a login must not leave the chat open.
        raise SystemExit(f"error: {err}") from None
    observe.configure_logging()
    cl.on_app_startup(_close_generators_on_the_loop)
    cl.on_app_shutdown(_close_clients)


async def _close_generators_on_the_loop() -> None:
    """Abandoned async generators are closed in their own tasks, not by the GC inside another answer's."""
    asyncgens.install_finalizer()


async def _close_clients() -> None:
    """Close the provider clients shared across answers (Chainlit's loop skips ``shutdown_asyncgens``)."""
    await aclose_shared()
