"""The one local user is signed in by the page that is opened, so a ``/thread/<id>`` link works on a first visit.

Without a password login, every visitor is the local user through Chainlit's
header-auth hook, but Chainlit's frontend only learns that on its login page,
which always sends the browser to ``/`` afterwards: a thread link opened in a
fresh browser (no session cookie yet) landed on a new chat, and only a second
visit opened the thread.  This middleware sets the session cookie (Chainlit's
own JWT and cookie settings) on the page itself when the browser has none, so
the frontend is signed in from its first request and resumes the thread.  It
gives nobody more than the header-auth hook already gives every visitor.
"""

from __future__ import annotations

from typing import Any

from chainlit.auth import create_jwt
from chainlit.auth.cookie import get_token_from_cookies, set_auth_cookie
from chainlit.user import User
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Page paths (under the root path) the frontend is opened on.
PAGES = ("/", "/thread/")


class LocalLogin:
    """ASGI middleware: a page request without a session cookie gets one for ``user``."""

    def __init__(self, app: ASGIApp, *, user: User, prefix: str = "") -> None:
        self.app = app
        self.user = user
        self.prefix = prefix.rstrip("/")

    def _is_page(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope.get("method") != "GET":
            return False
        path = str(scope.get("path", ""))
        if self.prefix:
            if not path.startswith(self.prefix):
                return False
            path = path[len(self.prefix) :] or "/"
        return path == PAGES[0] or path.startswith(PAGES[1])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._is_page(scope):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if get_token_from_cookies(dict(request.cookies)):
            await self.app(scope, receive, send)
            return
        carrier = Response()
        set_auth_cookie(request, carrier, create_jwt(self.user))
        cookies = [(k, v) for k, v in carrier.raw_headers if k == b"set-cookie"]

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *cookies]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def install(app: Any, user: User, prefix: str = "") -> None:
    """Put ``LocalLogin`` on Chainlit's (not yet started) server; idempotent."""
    if getattr(app.state, "local_login", False):
        return
    app.add_middleware(LocalLogin, user=user, prefix=prefix)
    app.state.local_login = True
