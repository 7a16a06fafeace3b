"""Wire the HTTP API into the running Chainlit app.  ``app.py`` imports this once.

Importing it adds the SSE routes and /metrics to Chainlit's FastAPI server,
turns on Chainlit's password login if ``CHAT_USERNAME``/``CHAT_PASSWORD`` are
set, and writes one JSON line per answer to stderr (see docs/http-api.md).
"""

from __future__ import annotations

from chainlit.config import config
from chainlit.server import app

from agents import observe
from web import api, auth

api.install(app, prefix=config.run.root_path or "")
auth.enable_password_login()
observe.configure_logging()
