"""HTTP routes on the Chainlit app's own FastAPI server: SSE chat streams, /metrics, a demo page.

    POST /api/chat/stream   JSON body {"messages": [...], "provider"?, "model"?, "buffer"?, ...}
    GET  /api/stream        ?prompt=...&provider=... (the EventSource-friendly form)
    GET  /metrics           Prometheus text exposition
    GET  /stream            a small EventSource page that shows a live stream

    GET    /api/streams/{id}   follow that answer after ``Last-Event-ID: N`` (no duplicates)
    DELETE /api/streams/{id}   cancel that answer (within one token)

Both stream routes run a ``ChatSession`` turn, exactly as the Chainlit UI does
(runner, guardrails, buffering, resume), as a ``chat.live.LiveAnswer``, and
encode its events with ``web.sse``: every frame has an ``id:`` and the
response an ``X-Stream-Id`` header.  When the client disconnects, the answer
goes on for a grace period (``STREAM_GRACE_SECONDS``, 30 s), then is
cancelled unless a client re-attached; a finished answer stays readable for
``STREAM_RETENTION_SECONDS`` (5 min).  Unknown or expired ids get a 404.

Chainlit serves its frontend from a ``GET /{full_path:path}`` catch-all, so
``install`` puts these routes in front of every existing route.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from contextlib import aclosing
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from agents import observe
from chat.live import LiveAnswer, LiveAnswers
from web import auth, sse
from web.request import (
    MAX_QUERY_BYTES,
    ChatRequest,
    RequestError,
    max_body_bytes,
    open_turn,
    parse_body,
    parse_query,
)

STATIC = Path(__file__).parent / "static"
#: Live and recently finished answers; created on first use, after ``.env`` is loaded.
_live: LiveAnswers | None = None
STREAM_HEADER = "X-Stream-Id"
STREAM_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
_INSTALLED = "guarded_stream_api_installed"


def _refuse(status: int, message: str) -> JSONResponse:
    observe.rejected(status)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _unauthorized(request: Request) -> JSONResponse | None:
    # ``?token=`` is for EventSource, which can only GET; on any other method it is ignored.
    query_token = request.query_params.get("token") if request.method == "GET" else None
    if auth.authorized(request.headers.get("authorization"), query_token):
        return None
    return _refuse(401, "Missing or wrong bearer token: send 'Authorization: Bearer <API_BEARER_TOKEN>'.")


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refusing more than ``limit`` bytes whether or not Content-Length is sent."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise RequestError(413, f"The body is larger than the {limit:,}-byte limit.")
        except ValueError:
            raise RequestError(400, "The Content-Length header is not a number.") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"The body is larger than the {limit:,}-byte limit.")
        chunks.append(chunk)
    return b"".join(chunks)


def live_answers() -> LiveAnswers:
    """The process's registry of live answers (grace and retention read from the environment once)."""
    global _live
    if _live is None:
        _live = LiveAnswers()
    return _live


async def _frames(answer: LiveAnswer, after: int) -> AsyncGenerator[bytes, None]:
    """The answer's events after number ``after``, as SSE frames with ``id:``, live until it ends.

    The turn runs in a task of the ``LiveAnswer``, not in this response: a
    disconnect (Starlette cancels the response) only detaches this follower,
    and the answer goes on for the grace period so the client can come back
    with ``Last-Event-ID``.
    """
    events = answer.follow(after)
    async with aclosing(events):
        async for number, event in events:
            yield sse.encode(event, number)


def _follow(answer: LiveAnswer, after: int) -> Response:
    headers = {**sse.HEADERS, STREAM_HEADER: answer.id}
    if answer.finished and after >= answer.last_id:
        # The client has every event: 204 is how an EventSource is told to stop reconnecting.
        return Response(status_code=204, headers={STREAM_HEADER: answer.id})
    return StreamingResponse(_frames(answer, after), media_type=sse.MEDIA_TYPE, headers=headers)


def _last_event_id(request: Request) -> int:
    """The client's ``Last-Event-ID`` header (or ``?last_event_id=``), 0 when absent."""
    raw = (request.headers.get("last-event-id") or request.query_params.get("last_event_id") or "0").strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:  # int() would also take "0_1", " +1", "١"
        raise RequestError(400, "Last-Event-ID must be a whole number.")
    return int(raw)


def _stream(request: ChatRequest, http: Request) -> Response:
    """Start the answer as a live answer and follow it from its first event.

    A client may name the stream itself (``?stream=ID``, 16-64 URL-safe
    characters), so that a browser EventSource, which reconnects to the same
    URL with ``Last-Event-ID``, comes back to the same answer rather than
    asking again.
    """
    live = live_answers()
    wanted = http.query_params.get("stream")
    try:
        if wanted is not None and not STREAM_ID.fullmatch(wanted):
            raise RequestError(400, "'stream' must be 16 to 64 letters, digits, '-' or '_'.")
        if wanted is not None and (existing := live.get(wanted)) is not None:
            if "last-event-id" not in http.headers:
                raise RequestError(409, "That stream id is in use: reconnect with Last-Event-ID, or pick another.")
            return _follow(existing, _last_event_id(http))
        if "last-event-id" in http.headers and wanted is not None:
            raise RequestError(404, "No such stream: it is unknown or has expired.")
        turn = open_turn(request)
    except RequestError as err:
        return _refuse(err.status, err.message)
    return _follow(live.start(turn, wanted, selfcheck=True), 0)


def _live_answer(request: Request) -> LiveAnswer | Response:
    """The live answer ``/api/streams/{id}`` names, or the refusal (401, or 404 for an unknown/expired id)."""
    if (refused := _unauthorized(request)) is not None:
        return refused
    answer = live_answers().get(request.path_params["stream_id"])
    if answer is None:
        return _refuse(404, "No such stream: it is unknown or has expired.")
    return answer


async def stream_resume(request: Request) -> Response:
    """``GET /api/streams/{id}``: follow a live or recently finished answer after ``Last-Event-ID``."""
    answer = _live_answer(request)
    if isinstance(answer, Response):
        return answer
    try:
        after = _last_event_id(request)
    except RequestError as err:
        return _refuse(err.status, err.message)
    return _follow(answer, after)


async def stream_cancel(request: Request) -> Response:
    """``DELETE /api/streams/{id}``: stop generating now (within one token); the text so far stays."""
    answer = _live_answer(request)
    if isinstance(answer, Response):
        return answer
    cancelled = answer.cancel()
    await answer.wait()
    return JSONResponse({"id": answer.id, "cancelled": cancelled, "last_event_id": answer.last_id})


async def chat_stream(request: Request) -> Response:
    """``POST /api/chat/stream``: stream the answer to a JSON chat request as SSE."""
    if (refused := _unauthorized(request)) is not None:
        return refused
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        return _refuse(415, "Send the body as JSON with 'Content-Type: application/json'.")
    try:
        parsed = parse_body(await _read_body(request, max_body_bytes()))
    except RequestError as err:
        return _refuse(err.status, err.message)
    return _stream(parsed, request)


async def query_stream(request: Request) -> Response:
    """``GET /api/stream?prompt=...``: the EventSource form of ``chat_stream``."""
    if (refused := _unauthorized(request)) is not None:
        return refused
    try:
        if len(request.scope.get("query_string", b"")) > MAX_QUERY_BYTES:
            raise RequestError(
                414, f"The query string is longer than {MAX_QUERY_BYTES:,} bytes: send long prompts with POST."
            )
        parsed = parse_query({k: request.query_params.getlist(k) for k in request.query_params.keys()})
    except RequestError as err:
        return _refuse(err.status, err.message)
    return _stream(parsed, request)


async def metrics(request: Request) -> Response:
    """``GET /metrics``: Prometheus text exposition."""
    if (refused := _unauthorized(request)) is not None:
        return refused
    body, content_type = observe.exposition()
    return Response(body, media_type=content_type)


async def page() -> HTMLResponse:
    """``GET /stream``: the EventSource demo page."""
    return HTMLResponse((STATIC / "stream.html").read_text(encoding="utf-8"))


def build_router(prefix: str = "") -> APIRouter:
    """The API's routes under ``prefix`` (Chainlit's root path, usually empty)."""
    router = APIRouter(prefix=prefix)
    router.add_api_route("/api/chat/stream", chat_stream, methods=["POST"], include_in_schema=False)
    router.add_api_route("/api/stream", query_stream, methods=["GET"], include_in_schema=False)
    router.add_api_route("/api/streams/{stream_id}", stream_resume, methods=["GET"], include_in_schema=False)
    router.add_api_route("/api/streams/{stream_id}", stream_cancel, methods=["DELETE"], include_in_schema=False)
    router.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
    router.add_api_route("/stream", page, methods=["GET"], include_in_schema=False)
    return router


def install(app: FastAPI, prefix: str = "") -> None:
    """Add the routes to ``app`` ahead of every existing route (Chainlit's catch-all); idempotent."""
    if getattr(app.state, _INSTALLED, False):
        return
    before = len(app.router.routes)
    app.include_router(build_router(prefix))
    added = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[0:0] = added
    setattr(app.state, _INSTALLED, True)
