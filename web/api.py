"""HTTP routes on the Chainlit app's own FastAPI server: SSE chat streams, /metrics, a demo page.

    POST /api/chat/stream   JSON body {"messages": [...], "provider"?, "model"?, "buffer"?, ...}
    GET  /api/stream        ?prompt=...&provider=... (the EventSource-friendly form)
    GET  /metrics           Prometheus text exposition
    GET  /stream            a small EventSource page that shows a live stream

Both stream routes run a ``ChatSession`` turn, exactly as the Chainlit UI does
(runner, guardrails, buffering, resume), and encode its events with
``web.sse``.  When the client disconnects, Starlette cancels the response
task; closing the event stream then closes the provider's stream, so
generation stops within one token.

Chainlit serves its frontend from a ``GET /{full_path:path}`` catch-all, so
``install`` puts these routes in front of every existing route.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from agents import observe
from agents.events import Done, Event, Failed
from chat.session import Turn
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

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
#: Turns streaming right now; holding them keeps their tasks from being garbage-collected mid-stream.
_turns: set[asyncio.Task[None]] = set()
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


async def _produce(turn: Turn, queue: asyncio.Queue[Event | None]) -> None:
    async def put(event: Event) -> None:
        queue.put_nowait(event)

    try:
        await turn.run(put)  # ``run``, like every sink: it closes the stream and records the answer
    finally:
        queue.put_nowait(None)


async def _frames(turn: Turn) -> AsyncGenerator[bytes, None]:
    """The turn's events as SSE frames; when this is closed or cancelled, generation is cancelled.

    The turn runs in its own task.  On a disconnect Starlette cancels the
    response inside an anyio cancel scope, which re-cancels every await in
    cleanup code; the turn's stages need their ``finally`` awaits (closing the
    provider, recording stats) to complete, so they get one plain
    ``Task.cancel()`` in a task of their own instead.
    """
    queue: asyncio.Queue[Event | None] = asyncio.Queue()  # unbounded: a slow client never blocks the provider
    task = asyncio.create_task(_produce(turn, queue), name="sse-turn")
    _turns.add(task)
    task.add_done_callback(_turns.discard)
    ended = False
    try:
        while (event := await queue.get()) is not None:
            frame = sse.encode(event)
            ended = ended or isinstance(event, Done | Failed)
            yield frame
        await task  # surface a bug in the turn rather than end the stream silently
    except Exception:
        # A stream always ends with done or error: a client must never have to guess from a dropped connection.
        log.exception("streaming an API answer failed")
        if not ended:
            stats = turn.stats.to_dict() if turn.stats is not None else {}
            message = "The server failed while streaming the answer."
            yield sse.frame("error", {"message": message, "kind": "internal", "stats": stats})
    finally:
        task.cancel()  # a no-op once the turn has ended


def _stream(request: ChatRequest) -> Response:
    try:
        turn = open_turn(request)
    except RequestError as err:
        return _refuse(err.status, err.message)
    return StreamingResponse(_frames(turn), media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


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
    return _stream(parsed)


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
    return _stream(parsed)


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
