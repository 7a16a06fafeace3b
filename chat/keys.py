"""Keys a user enters for one chat: ``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``GEMINI_API_KEY``.

They make a provider available to that session only, on top of the server's
own environment, which keeps working as before.  They live in memory in the
``ChatSession`` and nowhere else: never in ``Settings`` (which is stored with
the thread), never in a message, a log line or an error (every message here
names the variable, never the value; ``repr`` masks them).

A base URL of the user's choosing makes the server send requests wherever
the user says, internal addresses included (a cloud's metadata service, an
admin port on loopback).  So it is refused unless the operator lists the
hosts a user may name in ``ALLOW_USER_BASE_URL`` (``host`` or ``host:port``,
comma-separated; ``*`` allows any host, for a single-person install).  And a
user's base URL never gets the server's key (``agents.providers.openai_provider``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from agents.errors import ConfigError
from agents.providers.remote import checked_base_url

#: The variables a user may set for their session, and how each is named on screen.
USER_VARS = {
    "OPENAI_API_KEY": "OpenAI API key",
    "OPENAI_BASE_URL": "OpenAI base URL",
    "GEMINI_API_KEY": "Gemini API key",
}
BASE_URL_VARS = frozenset({"OPENAI_BASE_URL"})
ALLOW_VAR = "ALLOW_USER_BASE_URL"
#: What a key looks like: printable ASCII without spaces (anything else would break an HTTP header).
_KEY = re.compile(r"[!-~]{8,512}")
_MAX_URL = 2048
#: What a base URL may hold: printable ASCII.  Python's URL parser, which the allow list is checked
#: with, and the HTTP client's disagree on spaces, control characters and non-ASCII host names (the
#: client refuses some with an untyped error mid-answer, and may map others to another host).
_URL_CHARS = re.compile(r"[!-~]+")


class InvalidKey(ConfigError):
    """A key or base URL a user entered was refused; the message never holds the value."""

    kind = "invalid_setting"

    def __init__(self, var: str, reason: str) -> None:
        super().__init__(f"{USER_VARS.get(var, var)} refused: {reason}")
        self.name = var


def allowed_hosts(env: Mapping[str, str] | None = None) -> frozenset[str]:
    """The ``ALLOW_USER_BASE_URL`` entries, lowercased (empty: no user base URL is allowed)."""
    raw = (os.environ if env is None else env).get(ALLOW_VAR, "")
    return frozenset(part.strip().lower() for part in raw.split(",") if part.strip())


def check_base_url(url: str, env: Mapping[str, str] | None = None) -> str:
    """``url`` if it is a valid http(s) URL to a host the operator allows; else ``InvalidKey``."""
    var = "OPENAI_BASE_URL"
    if len(url) > _MAX_URL:
        raise InvalidKey(var, "it is too long.")
    if not _URL_CHARS.fullmatch(url):
        raise InvalidKey(var, "a URL is printable ASCII without spaces (a non-ASCII host in its xn-- form).")
    try:
        checked_base_url(url, var)
    except ConfigError:
        raise InvalidKey(var, "it is not a valid http(s) URL (for example https://host/v1).") from None
    allowed = allowed_hosts(env)
    if not allowed:
        raise InvalidKey(var, f"this server takes none from users (the operator can allow hosts with {ALLOW_VAR}).")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if "*" not in allowed and host not in allowed and f"{host}:{port}" not in allowed:
        raise InvalidKey(var, f"its host is not one the operator allows in {ALLOW_VAR}.")
    return url


def check_key(var: str, value: str) -> str:
    """``value`` if it looks like an API key (printable ASCII, no spaces, 8 to 512 characters); else ``InvalidKey``."""
    if not _KEY.fullmatch(value):
        raise InvalidKey(var, "a key is 8 to 512 printable characters without spaces.")
    return value


class UserKeys:
    """One session's own keys (env var name -> value), in memory only."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        #: Bumped on every change, so a provider built with older keys is rebuilt.
        self.version = 0

    def __repr__(self) -> str:
        return f"UserKeys({sorted(self._values)})"  # names only

    def __bool__(self) -> bool:
        return bool(self._values)

    def names(self) -> list[str]:
        """The variables set, in ``USER_VARS`` order."""
        return [var for var in USER_VARS if var in self._values]

    def env(self) -> dict[str, str]:
        """The keys as env-var pairs, for ``registry.create(keys=...)``."""
        return dict(self._values)

    def set(self, var: str, value: str) -> None:
        """Check and keep ``value`` for ``var``; raises ``InvalidKey`` (the old value stays)."""
        if var not in USER_VARS:
            raise InvalidKey(var, "not a variable users may set.")
        value = value.strip()
        checked = check_base_url(value) if var in BASE_URL_VARS else check_key(var, value)
        if self._values.get(var) != checked:
            self._values[var] = checked
            self.version += 1

    def forget(self, var: str) -> bool:
        """Drop ``var``; whether it was set."""
        if self._values.pop(var, None) is None:
            return False
        self.version += 1
        return True
