"""Same-origin only for the API and the chat's websocket: a page on another origin may not use them, unless allowed.

Chainlit adds Starlette's ``CORSMiddleware`` with ``allow_origins=["*"]`` and
credentials on, so any page the user visits could stream answers from their
server (and spend their API key) and read them.  Chainlit's socket.io server
is created with ``cors_allowed_origins=[]``, which turns its origin check off,
so the same holds for the chat itself.  This middleware sits outside
Chainlit's and refuses, with a 403 and no CORS headers (a websocket is closed
before it is accepted), every request to ``/api/*``, ``/metrics`` and the chat's
``/ws/socket.io`` whose ``Origin`` is neither the server's own nor in the
allow-list:

    API_ALLOWED_ORIGINS    comma-separated origins, e.g. ``https://app.example.com,http://localhost:3000``;
                           ``*`` allows any origin (the old behaviour)

Requests without an ``Origin`` header (curl, scripts, a browser's same-origin
GET) pass: ``Origin`` is what browsers send on cross-origin requests, and a
preflight carries it too, so a refused page never gets as far as the request
that would run the model.  An allowed origin then gets Chainlit's CORS
headers as before.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from agents import observe

ORIGINS_VAR = "API_ALLOWED_ORIGINS"
_INSTALLED = "guarded_stream_origins_installed"


def allowed_origins() -> frozenset[str]:
    """The allow-list from ``API_ALLOWED_ORIGINS`` (normalised: lower case, no trailing slash)."""
    raw = os.environ.get(ORIGINS_VAR, "")
    return frozenset(o.strip().rstrip("/").lower() for o in raw.split(",") if o.strip())


def same_origin(origin: str, host: str | None) -> bool:
    """Whether ``origin`` names the host the request was sent to (``Host`` header: host and port)."""
    if not host:
        return False
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:
        return False
    return bool(netloc) and netloc.lower() == host.lower()


def origin_allowed(origin: str | None, host: str | None, allowed: frozenset[str]) -> bool:
    """Whether a request with this ``Origin`` header may use the API."""
    if origin is None:
        return True
    return "*" in allowed or origin.rstrip("/").lower() in allowed or same_origin(origin, host)


class SameOriginAPI:
    """ASGI middleware: cross-origin requests to the API get a 403 unless their origin is allowed."""

    def __init__(self, app: ASGIApp, prefix: str = "") -> None:
        self.app = app
        self._guarded = (f"{prefix}/api/", f"{prefix}/metrics", f"{prefix}/ws/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"} or not str(scope.get("path", "")).startswith(self._guarded):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin_allowed(origin, headers.get("host"), allowed_origins()):
            await self.app(scope, receive, send)
            return
        observe.rejected(403)
        if scope["type"] == "websocket":
            await WebSocketClose(code=1008)(scope, receive, send)  # before accept: the client sees a 403
            return
        shown = origin if origin is not None and len(origin) <= 100 else f"{str(origin)[:97]}..."
        message = f"Requests from another origin ({shown}) are refused: add it to {ORIGINS_VAR} to allow it."
        await JSONResponse({"error": message}, status_code=403)(scope, receive, send)


def install(app: Starlette, prefix: str = "") -> None:
    """Put ``SameOriginAPI`` outside every middleware of the (not yet started) ``app``; idempotent."""
    if getattr(app.state, _INSTALLED, False):
        return
    app.add_middleware(SameOriginAPI, prefix=prefix)
    setattr(app.state, _INSTALLED, True)
