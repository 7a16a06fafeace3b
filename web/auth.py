"""Optional protection: a bearer token for the API, and Chainlit's password login.

Both are off unless their environment variables are set:

    API_BEARER_TOKEN                 the API (/api/*, /metrics) needs ``Authorization: Bearer <token>``
    CHAT_USERNAME, CHAT_PASSWORD     the Chainlit UI asks for this login (one without the other is refused)
    CHAT_USERS                       more logins: ``name:password,name2:password2`` (each sees only their threads)
    CHAINLIT_AUTH_SECRET             required by Chainlit once a login is on (``chainlit create-secret``)
"""

from __future__ import annotations

import hmac
import os

from agents.errors import ConfigError

TOKEN_VAR = "API_BEARER_TOKEN"
USER_VAR = "CHAT_USERNAME"
PASSWORD_VAR = "CHAT_PASSWORD"
USERS_VAR = "CHAT_USERS"


def bearer_token() -> str | None:
    """The configured API token, or ``None`` when the API is open."""
    return os.environ.get(TOKEN_VAR, "").strip() or None


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def authorized(header: str | None, query_token: str | None = None) -> bool:
    """Whether a request may use the API: no token configured, or the right one given.

    ``query_token`` is the ``?token=`` parameter, which the caller passes for
    GET requests only: a browser's EventSource cannot send headers.  Prefer the
    header: URLs end up in histories and proxy logs.  A request that sends an
    ``Authorization`` header is judged by it alone, so a wrong header is never
    rescued by a token in the URL.
    """
    expected = bearer_token()
    if expected is None:
        return True
    if header is not None:
        scheme, _, value = header.partition(" ")
        return scheme.lower() == "bearer" and _same(value.strip(), expected)
    return query_token is not None and _same(query_token, expected)


def logins() -> list[tuple[str, str]]:
    """The configured (name, password) pairs: ``CHAT_USERNAME``/``CHAT_PASSWORD``, then ``CHAT_USERS``."""
    found: list[tuple[str, str]] = []
    user, secret = os.environ.get(USER_VAR, ""), os.environ.get(PASSWORD_VAR, "")
    if user and secret:
        found.append((user, secret))
    for entry in os.environ.get(USERS_VAR, "").split(","):
        if not entry.strip():
            continue
        name, _, word = entry.strip().partition(":")
        if not name or not word:
            shown = name or "an entry"
            raise ConfigError(f"{USERS_VAR}: {shown} has no password (write name:password, comma-separated).")
        if any(name == known for known, _ in found):
            raise ConfigError(f"{USERS_VAR}: {name} is listed twice; give each user one password.")
        found.append((name, word))
    return found


def check_password(username: str, password: str) -> bool:
    """Whether ``username``/``password`` match a configured login (each pair compared in constant time)."""
    ok = False
    for user, secret in logins():
        ok |= _same(username, user) & _same(password, secret)
    return ok


def login_configured() -> bool:
    """Whether the password login is on; raises ``ConfigError`` when only one of its two variables is set.

    Half a login used to mean no login at all, with the chat's websocket open to
    anyone: someone who set a password clearly meant to have one.
    """
    user, secret = os.environ.get(USER_VAR, ""), os.environ.get(PASSWORD_VAR, "")
    if bool(user) != bool(secret):
        given, missing = (USER_VAR, PASSWORD_VAR) if user else (PASSWORD_VAR, USER_VAR)
        raise ConfigError(f"{given} is set without {missing}: set both to require the login, or neither.")
    return bool(logins())


def enable_password_login() -> bool:
    """Register Chainlit's password callback when the login is configured; raises ``ConfigError`` if half is."""
    if not login_configured():
        return False
    import chainlit as cl

    @cl.password_auth_callback
    async def _login(username: str, password: str) -> cl.User | None:
        if check_password(username, password):
            return cl.User(identifier=username, metadata={"provider": "credentials"})
        return None

    return True
