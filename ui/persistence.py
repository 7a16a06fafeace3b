"""Switch on conversation history: Chainlit's data layer on ``DATABASE_URL``, and a local user when nobody logs in.

Chainlit shows the thread list only with a data layer *and* an authenticated
user.  With a password login configured, users log in and each sees only
their own threads.  Without one, every visitor is one local user through
Chainlit's header-auth hook (no login page): this is a single-person install.
Chainlit needs a JWT secret once any login is on; without
``CHAINLIT_AUTH_SECRET`` one is made on first run and kept in
``.chat-auth-secret`` (mode 0600) so sessions survive a restart.  Chainlit
signs its session cookies with a key derived from that secret *and* the
sign-in mode (``_scope_secret``): a local-user cookie handed to any visitor
must not stay a session once the owner turns the password login on.

A database that cannot be used gives one line on stderr at startup, and the
chat runs without history; it never stops the app.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import sys
from pathlib import Path

import chainlit as cl

from store.database import ROOT, DatabaseError, database_url, describe, prepare_blocking
from store.datalayer import DataLayer
from ui.sink import show_error, show_notice

LOCAL_USER_VAR = "CHAT_LOCAL_USER"
SECRET_FILE = ROOT / ".chat-auth-secret"
log = logging.getLogger(__name__)
#: Why history is off (a bad ``DATABASE_URL`` or database), shown once in each new chat; ``None`` if fine or off.
problem: str | None = None


def _say(line: str) -> None:
    global problem
    problem = line
    print(line, file=sys.stderr, flush=True)


def install(login_configured: bool) -> DataLayer | None:
    """Register the data layer (or none) and, with history on and no password login, the local user."""
    layer: DataLayer | None = None
    url: str | None = None
    try:
        url = database_url()
        if url is not None:
            prepare_blocking(url)
            layer = DataLayer(url)
    except DatabaseError as err:
        shown = describe(url) if url else "DATABASE_URL"
        _say(f"Conversation history is off: {shown}: {err}")

    # Always registered: without it Chainlit would read DATABASE_URL itself and expect PostgreSQL.
    cl.data_layer(lambda: layer)  # type: ignore[arg-type,return-value]
    if login_configured or layer is not None:
        # Chainlit refuses to start a login without a secret (with a traceback): make one and keep it.
        _ensure_secret()
        _scope_secret("password" if login_configured else "local")
    if layer is not None and not login_configured:
        _local_user()
    return layer


BACK = "Conversation history is back: the database answers again, and what was said meanwhile is saved."
_SEEN_KEY = "history_failure_seen"


def failure() -> str | None:
    """The line the data layer said when the database failed while running (until it answers again), else ``None``."""
    from chainlit.data import get_data_layer

    layer = get_data_layer()
    return getattr(layer, "failure", None)


async def announce() -> None:
    """Tell this page, in one line, when history became unavailable and when it is back (once each)."""
    now, seen = failure(), cl.user_session.get(_SEEN_KEY)
    if (now is None) == (seen is None):
        return
    cl.user_session.set(_SEEN_KEY, now)
    if now is not None:
        await show_error(now)
    else:
        await show_notice(BACK)


def seen(line: str | None) -> None:
    """This page has been told ``line`` (the failure shown when it opened)."""
    cl.user_session.set(_SEEN_KEY, line)


def _ensure_secret() -> None:
    if not os.environ.get("CHAINLIT_AUTH_SECRET"):
        os.environ["CHAINLIT_AUTH_SECRET"] = _secret(SECRET_FILE)


#: The secret as configured (env or file), before ``_scope_secret`` replaced Chainlit's copy with a derived key.
_base_secret: str | None = None


def _scope_secret(mode: str) -> None:
    """Give Chainlit a JWT key for this sign-in mode only: HMAC-SHA256 of the configured secret and ``mode``.

    Without it, a cookie the local login gave every visitor still signed them
    in (as the local user, with its threads) after ``CHAT_USERS`` or
    ``CHAT_PASSWORD`` was set, until the JWT expired.  The key is a pure
    function of the secret, so several instances sharing one secret still
    accept each other's cookies, and a restart keeps sessions.
    """
    global _base_secret
    if _base_secret is None:
        _base_secret = os.environ["CHAINLIT_AUTH_SECRET"]
    key = hmac.new(_base_secret.encode(), f"chat-login:{mode}".encode(), hashlib.sha256).hexdigest()
    os.environ["CHAINLIT_AUTH_SECRET"] = key


def _local_user() -> None:
    from chainlit.config import config
    from chainlit.server import app

    from ui import local_login

    identifier = os.environ.get(LOCAL_USER_VAR, "").strip() or "local"

    @cl.header_auth_callback
    async def _local(headers: object) -> cl.User:
        return cl.User(identifier=identifier, metadata={"provider": "local"})

    # A /thread/<id> link in a fresh browser: signed in by the page itself, not by a detour through "/".
    local_login.install(app, cl.User(identifier=identifier, metadata={"provider": "local"}), config.run.root_path or "")


def _secret(path: Path) -> str:
    try:
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        value = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(value)
        return value
    except OSError as err:  # a read-only folder: sessions then last as long as the process
        log.warning("could not keep the login secret in %s (%s); sessions end with the process", path, err)
        return secrets.token_urlsafe(48)
