"""Wire the HTTP API into the running Chainlit app.  ``app.py`` calls ``install()`` once.

``install`` adds the SSE routes and /metrics to Chainlit's FastAPI server,
turns on Chainlit's password login if ``CHAT_USERNAME``/``CHAT_PASSWORD`` are
set, and writes one JSON line per answer to stderr (see docs/http-api.md).
Importing this module does nothing by itself: the environment is read when
``install`` runs, after ``app.py`` has loaded ``.env``.
"""

from __future__ import annotations

from agents import observe
from web import api, auth


def install() -> None:
    """Mount the API on Chainlit's server and apply the login and logging settings."""
    from chainlit.config import config
    from chainlit.server import app

    api.install(app, prefix=config.run.root_path or "")
    auth.enable_password_login()
    observe.configure_logging()
